#include "pkg/api/queue.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pkg/errors/errors.h"
#include "pkg/job/ids.h"
#include "pkg/job/wire.h"
#include "tests/fakes/fake_clock.h"

namespace pixq::api {
namespace {

std::string Rfc3339(absl::Time at) { return job::UnixMillisToRfc3339(absl::ToUnixMillis(at)); }

// A job status record as a worker publishes it.
std::string Record(job::Phase phase, absl::Time at, const std::string& worker = "w1",
                   const std::string& reason = "") {
  job::JobRecord record;
  record.id = "j_01HV3K9Q6Y0S4W7T1F2D5G8B9C";
  record.created_at = Rfc3339(at - absl::Seconds(1));
  record.spec.source.image_id = std::string(64, 'a');
  record.status.phase = phase;
  record.status.worker = worker;
  record.status.started_at = Rfc3339(at - absl::Milliseconds(200));
  if (job::IsTerminal(phase)) record.status.finished_at = Rfc3339(at);
  record.status.reason = reason;
  return job::ToJson(record).dump();
}

class JobActivityTest : public ::testing::Test {
 protected:
  testing::FakeClock clock_;
  JobActivity activity_{clock_};
};

TEST_F(JobActivityTest, CountsWhatFinishedInTheLastMinuteAndItsRate) {
  for (int i = 0; i < 30; ++i) {
    activity_.Note(Record(job::Phase::kSucceeded, clock_.Now() - absl::Seconds(i)));
  }
  activity_.Note(Record(job::Phase::kFailed, clock_.Now(), "w1", "CorruptImage"));
  activity_.Note(Record(job::Phase::kFailed, clock_.Now(), "w2", "CorruptImage"));
  activity_.Note(Record(job::Phase::kFailed, clock_.Now(), "w2", "FetchTimeout"));
  const JobActivity::Summary summary = activity_.Read();
  EXPECT_EQ(summary.succeeded, 30);
  EXPECT_EQ(summary.failed, 3);
  EXPECT_DOUBLE_EQ(summary.finished_per_second, 33.0 / 60);
  ASSERT_EQ(summary.failures.size(), 2u);
  EXPECT_EQ(summary.failures[0].reason, "CorruptImage");
  EXPECT_EQ(summary.failures[0].count, 2);
  EXPECT_EQ(summary.failures[1].reason, "FetchTimeout");
}

TEST_F(JobActivityTest, ForgetsWhatFinishedMoreThanAMinuteAgo) {
  activity_.Note(Record(job::Phase::kSucceeded, clock_.Now()));
  activity_.Note(Record(job::Phase::kFailed, clock_.Now(), "w1", "CorruptImage"));
  clock_.Advance(absl::Seconds(59));
  EXPECT_EQ(activity_.Read().succeeded, 1);
  clock_.Advance(absl::Seconds(1));
  const JobActivity::Summary summary = activity_.Read();
  EXPECT_EQ(summary.succeeded, 0);
  EXPECT_EQ(summary.failed, 0);
  EXPECT_TRUE(summary.failures.empty());
  // The bucket of that second is used again without the old counts.
  activity_.Note(Record(job::Phase::kSucceeded, clock_.Now()));
  EXPECT_EQ(activity_.Read().succeeded, 1);
}

TEST_F(JobActivityTest, IgnoresOldRecordsReadAgainAtStartAndRecordsOfJobsNotFinished) {
  activity_.Note(Record(job::Phase::kSucceeded, clock_.Now() - absl::Hours(3)));
  activity_.Note(Record(job::Phase::kSucceeded, clock_.Now() - absl::Seconds(61)));
  activity_.Note(Record(job::Phase::kRunning, clock_.Now()));
  activity_.Note(Record(job::Phase::kPending, clock_.Now(), "", "FetchTimeout"));
  activity_.Note("not json at all, \"finishedAt\":\"9999-01-01T00:00:00.000Z\"");
  const JobActivity::Summary summary = activity_.Read();
  EXPECT_EQ(summary.succeeded, 0);
  EXPECT_EQ(summary.failed, 0);
}

TEST_F(JobActivityTest, CountsAWorkersClockAheadOfOursAsNow) {
  activity_.Note(Record(job::Phase::kSucceeded, clock_.Now() + absl::Minutes(2)));
  EXPECT_EQ(activity_.Read().succeeded, 1);
  clock_.Advance(absl::Seconds(60));
  EXPECT_EQ(activity_.Read().succeeded, 0) << "it left the window a minute after it came";
}

TEST_F(JobActivityTest, NamesTheWorkersSeenInTheLastFiveMinutes) {
  activity_.Note(Record(job::Phase::kRunning, clock_.Now(), "w2"));
  activity_.Note(Record(job::Phase::kSucceeded, clock_.Now(), "w1"));
  activity_.Note(Record(job::Phase::kSucceeded, clock_.Now(), "w1"));
  activity_.Note(Record(job::Phase::kSucceeded, clock_.Now() - absl::Minutes(6), "w3"));
  JobActivity::Summary summary = activity_.Read();
  ASSERT_EQ(summary.workers.size(), 2u);
  EXPECT_EQ(summary.workers[0].name, "w1");
  EXPECT_EQ(summary.workers[0].finished, 2);
  EXPECT_EQ(summary.workers[0].last_seen, clock_.Now());
  EXPECT_EQ(summary.workers[1].name, "w2");
  EXPECT_EQ(summary.workers[1].finished, 0);
  clock_.Advance(absl::Minutes(2));
  summary = activity_.Read();
  ASSERT_EQ(summary.workers.size(), 2u);
  EXPECT_EQ(summary.workers[0].finished, 0) << "its jobs left the minute";
  clock_.Advance(absl::Minutes(3));
  EXPECT_TRUE(activity_.Read().workers.empty());
}

TEST_F(JobActivityTest, StaysBoundedWithManyReasonsAndWorkers) {
  for (size_t i = 0; i < JobActivity::kMaxReasons + 10; ++i) {
    activity_.Note(Record(job::Phase::kFailed, clock_.Now(), "w", "Reason" + std::to_string(i)));
  }
  for (size_t i = 0; i < JobActivity::kMaxWorkers + 10; ++i) {
    activity_.Note(Record(job::Phase::kRunning, clock_.Now(), "worker-" + std::to_string(i)));
  }
  const JobActivity::Summary summary = activity_.Read();
  ASSERT_EQ(summary.failures.size(), JobActivity::kMaxReasons + 1);
  EXPECT_EQ(summary.failures[0].reason, "Other");
  EXPECT_EQ(summary.failures[0].count, 10);
  EXPECT_EQ(summary.workers.size(), JobActivity::kMaxWorkers);
}

// A sink that stores nothing, or fails.
class FakeSink final : public queue::TableSink {
 public:
  std::vector<queue::StoredPosition> Stored() override { return {}; }
  absl::Status Reset(std::string_view) override { return absl::OkStatus(); }
  absl::Status Apply(const std::vector<queue::Message>&,
                     const std::vector<queue::StoredPosition>&) override {
    return result;
  }
  absl::Status result = absl::OkStatus();
};

TEST_F(JobActivityTest, TheSinkCountsTheStatusRecordsItsInnerSinkStored) {
  FakeSink inner;
  ActivitySink sink(inner, "pixq.job-status", activity_);
  const std::string finished = Record(job::Phase::kSucceeded, clock_.Now());
  std::vector<queue::Message> records = {
      {.topic = "pixq.job-status", .key = "j", .value = finished},
      {.topic = "pixq.images", .key = "i", .value = finished},
      {.topic = "pixq.job-status", .key = "j", .value = std::nullopt}};
  inner.result = errors::Make(errors::Reason::kStorageError, "disk");
  EXPECT_FALSE(sink.Apply(records, {}).ok());
  EXPECT_EQ(activity_.Read().succeeded, 0) << "a batch not stored comes again";
  inner.result = absl::OkStatus();
  EXPECT_TRUE(sink.Apply(records, {}).ok());
  EXPECT_EQ(activity_.Read().succeeded, 1);
}

// A group reader that answers what it is given.
class FakeGroupReader final : public queue::GroupReader {
 public:
  absl::StatusOr<queue::GroupView> Read() override { return answer; }
  absl::StatusOr<queue::GroupView> answer;
};

TEST_F(JobActivityTest, TheReportShowsTheGroupTheLagAndTheActivity) {
  FakeGroupReader group;
  group.answer =
      queue::GroupView{.group_id = "pixq-workers",
                       .topic = "pixq.jobs",
                       .members_known = false,
                       .members_unknown_why = "the broker does not describe consumer groups",
                       .partitions = {{.partition = 0, .committed = 5, .log_end = 8, .lag = 3},
                                      {.partition = 1, .committed = -1, .log_end = 2, .lag = 2}}};
  activity_.Note(Record(job::Phase::kFailed, clock_.Now(), "w1", "CorruptImage"));
  QueueStatus status(group, activity_);
  absl::StatusOr<QueueReport> report = status.Read();
  ASSERT_TRUE(report.ok()) << report.status();
  const nlohmann::json json = QueueJson(*report);
  EXPECT_TRUE(json["group"]["members"].is_null());
  EXPECT_EQ(json["group"]["membersUnknown"], "the broker does not describe consumer groups");
  EXPECT_TRUE(json["group"]["state"].is_null());
  EXPECT_EQ(json["lag"], 5);
  EXPECT_EQ(json["partitions"][1]["committed"], nullptr);
  EXPECT_EQ(json["partitions"][0]["logEnd"], 8);
  EXPECT_EQ(json["workers"][0]["name"], "w1");
  EXPECT_EQ(json["finished"]["failed"], 1);
  EXPECT_EQ(json["failures"][0]["reason"], "CorruptImage");

  group.answer = errors::Make(errors::Reason::kBrokerUnavailable, "metadata: timed out");
  EXPECT_EQ(errors::ReasonOf(status.Read().status()), "BrokerUnavailable");
}

}  // namespace
}  // namespace pixq::api
