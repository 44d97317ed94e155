#include "pkg/state/tables.h"

#include <gtest/gtest.h>

#include "pkg/job/json.h"

namespace pixq::state {
namespace {

job::JobRecord Record(const std::string& id, job::Phase phase) {
  job::JobRecord r;
  r.id = id;
  r.created_at = "2026-11-22T10:00:00.000Z";
  r.spec.source.image_id = std::string(64, 'a');
  r.output_key = std::string(64, 'b');
  r.status.phase = phase;
  if (phase == job::Phase::kSucceeded) {
    r.status.output = job::OutputInfo{.path = "outputs/bb/x.jpg", .width = 3, .height = 4};
  }
  return r;
}

std::string Wire(const job::JobRecord& r) { return job::ToJson(r).dump(); }

constexpr char kId[] = "j_01HV3K9Q6Y0S4W7T1F2D5G8B9C";

TEST(JobTableTest, KeepsTheLatestRecordPerJob) {
  JobTable table;
  ASSERT_TRUE(table.Apply(kId, Wire(Record(kId, job::Phase::kPending))).ok());
  ASSERT_TRUE(table.Apply(kId, Wire(Record(kId, job::Phase::kRunning))).ok());
  ASSERT_TRUE(table.Get(kId).has_value());
  EXPECT_EQ(table.Get(kId)->status.phase, job::Phase::kRunning);
  EXPECT_EQ(table.size(), 1u);
}

TEST(JobTableTest, ForgetsAJobOnATombstone) {
  JobTable table;
  ASSERT_TRUE(table.Apply(kId, Wire(Record(kId, job::Phase::kPending))).ok());
  ASSERT_TRUE(table.Apply(kId, std::nullopt).ok());
  EXPECT_FALSE(table.Get(kId).has_value());
}

TEST(JobTableTest, SkipsValuesThatAreNotRecords) {
  JobTable table;
  EXPECT_FALSE(table.Apply(kId, std::string("garbage")).ok());
  EXPECT_EQ(table.size(), 0u);
}

TEST(JobTableTest, IndexesOutputsOfSucceededJobsByKey) {
  JobTable table;
  EXPECT_FALSE(table.FindOutput(std::string(64, 'b')).has_value());
  ASSERT_TRUE(table.Apply(kId, Wire(Record(kId, job::Phase::kSucceeded))).ok());
  ASSERT_TRUE(table.FindOutput(std::string(64, 'b')).has_value());
  EXPECT_EQ(table.FindOutput(std::string(64, 'b'))->height, 4);
}

TEST(JobTableTest, WakesAWatcherOnceOnTheNextChange) {
  JobTable table;
  int calls = 0;
  job::Phase seen = job::Phase::kPending;
  table.Watch(kId, [&](const job::JobRecord& r) {
    ++calls;
    seen = r.status.phase;
  });
  ASSERT_TRUE(table.Apply(kId, Wire(Record(kId, job::Phase::kRunning))).ok());
  ASSERT_TRUE(table.Apply(kId, Wire(Record(kId, job::Phase::kSucceeded))).ok());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(seen, job::Phase::kRunning);
}

TEST(JobTableTest, DoesNotWakeAnUnwatchedWatcherOrOneForAnotherJob) {
  JobTable table;
  int calls = 0;
  const uint64_t token = table.Watch(kId, [&](const job::JobRecord&) { ++calls; });
  table.Watch("j_01HV3K9Q6Y0S4W7T1F2D5G8B9D", [&](const job::JobRecord&) { ++calls; });
  EXPECT_TRUE(table.Unwatch(token));
  EXPECT_FALSE(table.Unwatch(token));
  ASSERT_TRUE(table.Apply(kId, Wire(Record(kId, job::Phase::kRunning))).ok());
  EXPECT_EQ(calls, 0);
}

TEST(JobTableTest, WakesWatchersOfADeletedJobWithAnEmptyRecord) {
  JobTable table;
  std::string seen_id = "unset";
  table.Watch(kId, [&](const job::JobRecord& r) { seen_id = r.id; });
  ASSERT_TRUE(table.Apply(kId, std::nullopt).ok());
  EXPECT_EQ(seen_id, "");
}

TEST(ImageTableTest, KeepsAndForgetsImages) {
  ImageTable table;
  job::ImageMeta meta{.id = std::string(64, 'c'), .title = "t", .width = 5, .height = 6};
  ASSERT_TRUE(table.Apply(meta.id, job::ToJson(meta).dump()).ok());
  ASSERT_TRUE(table.Get(meta.id).has_value());
  EXPECT_EQ(table.Get(meta.id)->title, "t");
  ASSERT_TRUE(table.Apply(meta.id, std::nullopt).ok());
  EXPECT_FALSE(table.Get(meta.id).has_value());
  EXPECT_FALSE(table.Apply(meta.id, std::string("[]")).ok());
}

}  // namespace
}  // namespace pixq::state
