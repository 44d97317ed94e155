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

TEST(JobTableTest, ListsJobsInIdOrderAfterAGivenId) {
  JobTable table;
  const std::string ids[] = {"j_01HV3K9Q6Y0S4W7T1F2D5G8B90", "j_01HV3K9Q6Y0S4W7T1F2D5G8B91",
                             "j_01HV3K9Q6Y0S4W7T1F2D5G8B92", "j_01HV3K9Q6Y0S4W7T1F2D5G8B93"};
  // Applied out of order; listed in id (creation) order.
  for (int i : {2, 0, 3, 1}) {
    ASSERT_TRUE(
        table
            .Apply(ids[i], Wire(Record(ids[i], i % 2 ? job::Phase::kFailed : job::Phase::kPending)))
            .ok());
  }
  auto all = [](const job::JobRecord&) { return true; };
  JobTable::Page first = table.List("", 3, all);
  ASSERT_EQ(first.items.size(), 3u);
  EXPECT_EQ(first.items[0].id, ids[0]);
  EXPECT_EQ(first.items[2].id, ids[2]);
  EXPECT_TRUE(first.more);
  JobTable::Page rest = table.List(ids[2], 3, all);
  ASSERT_EQ(rest.items.size(), 1u);
  EXPECT_EQ(rest.items[0].id, ids[3]);
  EXPECT_FALSE(rest.more);
  JobTable::Page pending = table.List(
      "", 1, [](const job::JobRecord& r) { return r.status.phase == job::Phase::kPending; });
  ASSERT_EQ(pending.items.size(), 1u);
  EXPECT_EQ(pending.items[0].id, ids[0]);
  EXPECT_TRUE(pending.more);
  EXPECT_FALSE(
      table
          .List(ids[1], 1,
                [](const job::JobRecord& r) { return r.status.phase == job::Phase::kPending; })
          .more);
}

TEST(ImageTableTest, ListsImagesOldestFirstAndKeepsTheOrderAcrossUpdatesAndDeletes) {
  ImageTable table;
  auto image = [](char c, const std::string& created_at, const std::string& title) {
    return job::ImageMeta{.id = std::string(64, c), .title = title, .created_at = created_at};
  };
  const job::ImageMeta a = image('a', "2026-11-22T10:00:03.000Z", "A");
  const job::ImageMeta b = image('b', "2026-11-22T10:00:01.000Z", "B");
  const job::ImageMeta c = image('c', "2026-11-22T10:00:01.000Z", "C");  // same time: by id
  const job::ImageMeta d = image('d', "not a time", "D");                // undatable: first
  for (const job::ImageMeta& m : {a, b, c, d}) {
    ASSERT_TRUE(table.Apply(m.id, job::ToJson(m).dump()).ok());
  }
  auto ids = [](const ImageTable::Page& page) {
    std::string out;
    for (const job::ImageMeta& m : page.items) out.push_back(m.id[0]);
    return out;
  };
  auto all = [](const job::ImageMeta&) { return true; };
  EXPECT_EQ(ids(table.List(std::nullopt, 10, all)), "dbca");
  ImageTable::Page two = table.List(std::nullopt, 2, all);
  EXPECT_EQ(ids(two), "db");
  EXPECT_TRUE(two.more);
  EXPECT_EQ(ids(table.List(ImageTable::PositionOf(two.items.back()), 10, all)), "ca");
  EXPECT_EQ(
      ids(table.List(std::nullopt, 10, [](const job::ImageMeta& m) { return m.title != "B"; })),
      "dca");

  // Published again with another time: listed once, at its new place; a tombstone unlists it.
  job::ImageMeta moved = b;
  moved.created_at = "2026-11-22T10:00:09.000Z";
  ASSERT_TRUE(table.Apply(b.id, job::ToJson(moved).dump()).ok());
  EXPECT_EQ(ids(table.List(std::nullopt, 10, all)), "dcab");
  ASSERT_TRUE(table.Apply(c.id, std::nullopt).ok());
  EXPECT_EQ(ids(table.List(std::nullopt, 10, all)), "dab");
  EXPECT_EQ(table.size(), 3u);
}

}  // namespace
}  // namespace pixq::state
