#include "pkg/api/admission.h"

#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include <gtest/gtest.h>

#include "pkg/errors/errors.h"
#include "pkg/errors/retry_after.h"
#include "pkg/job/spec.h"
#include "tests/api/service_fixture.h"
#include "tests/fakes/fake_clock.h"

namespace pixq::api {
namespace {

// The backlog a test sets, partition by partition; counts its reads.
class FakeBacklogSource final : public queue::BacklogSource {
 public:
  // Partition `partition` of `topic` holds `records` unconsumed records of a room of 1,000.
  void Set(const std::string& topic, int32_t partition, int64_t records) {
    absl::MutexLock lock(&mu_);
    for (queue::PartitionBacklog& b : backlogs_) {
      if (b.topic == topic && b.partition == partition) {
        b.records = records;
        return;
      }
    }
    backlogs_.push_back(
        {.topic = topic, .partition = partition, .records = records, .room = {.records = 1000}});
  }
  void Fail(absl::Status status) {
    absl::MutexLock lock(&mu_);
    failure_ = std::move(status);
  }
  void AwaitReads(int count) {
    const auto enough = [this, count]()
                            ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return reads_ >= count; };
    absl::MutexLock lock(&mu_, absl::Condition(&enough));
  }

  absl::StatusOr<std::vector<queue::PartitionBacklog>> Read() override {
    absl::MutexLock lock(&mu_);
    ++reads_;
    if (!failure_.ok()) return failure_;
    return backlogs_;
  }

 private:
  absl::Mutex mu_;
  std::vector<queue::PartitionBacklog> backlogs_ ABSL_GUARDED_BY(mu_);
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  int reads_ ABSL_GUARDED_BY(mu_) = 0;
};

class AdmissionTest : public ::testing::Test {
 protected:
  AdmissionTest() {
    for (int32_t p = 0; p < 4; ++p) source_.Set("pixq.jobs", p, 0);
  }

  FakeBacklogSource source_;
  queue::RecordSizes sent_;
  observability::Metrics metrics_{observability::MetricsRole::kApi};
  testing::FakeClock clock_;
  Admission admission_{source_,
                       &sent_,
                       {.high_water = 0.8,
                        .low_water = 0.6,
                        .interval = absl::Seconds(1),
                        .min_retry_after = absl::Seconds(1),
                        .max_retry_after = absl::Seconds(30)},
                       metrics_,
                       clock_};
};

TEST_F(AdmissionTest, AdmitsBeforeTheFirstCheckAndWhileEveryPartitionIsBelowTheHighWaterMark) {
  EXPECT_TRUE(admission_.Admit().ok());
  source_.Set("pixq.jobs", 0, 799);
  admission_.CheckNow();
  EXPECT_TRUE(admission_.Admit().ok());
}

TEST_F(AdmissionTest, RefusesWithBacklogFullOnceOnePartitionReachesTheHighWaterMark) {
  // Three empty partitions do not make up for a full one: its oldest jobs would go all the same.
  source_.Set("pixq.jobs", 2, 800);
  admission_.CheckNow();
  const absl::Status refused = admission_.Admit();
  EXPECT_EQ(errors::ReasonOf(refused), "BacklogFull");
  EXPECT_EQ(errors::HttpStatusOf(refused), 503);
  EXPECT_TRUE(errors::IsRetriable(refused));
  EXPECT_NE(refused.message().find("pixq.jobs partition 2"), std::string::npos) << refused;
  EXPECT_TRUE(errors::RetryAfterOf(refused).has_value());
}

TEST_F(AdmissionTest, KeepsRefusingUntilEveryPartitionIsBelowTheLowWaterMark) {
  source_.Set("pixq.jobs", 1, 900);
  admission_.CheckNow();
  ASSERT_FALSE(admission_.Admit().ok());

  source_.Set("pixq.jobs", 1, 700);  // below the high mark, above the low one: still refusing
  admission_.CheckNow();
  EXPECT_EQ(errors::ReasonOf(admission_.Admit()), "BacklogFull");

  source_.Set("pixq.jobs", 1, 599);
  source_.Set("pixq.jobs", 3, 650);  // another partition above the low mark holds it too
  admission_.CheckNow();
  EXPECT_EQ(errors::ReasonOf(admission_.Admit()), "BacklogFull");

  source_.Set("pixq.jobs", 3, 599);
  admission_.CheckNow();
  EXPECT_TRUE(admission_.Admit().ok());

  source_.Set("pixq.jobs", 3, 700);  // up again, but not to the high mark: admitting
  admission_.CheckNow();
  EXPECT_TRUE(admission_.Admit().ok());
}

TEST_F(AdmissionTest, RetryAfterIsTheTimeTheBacklogTakesToDrainToTheLowWaterMark) {
  source_.Set("pixq.jobs", 0, 900);
  admission_.CheckNow();
  // Nothing seen draining yet (no worker has committed anything since): the longest hint.
  EXPECT_EQ(errors::RetryAfterOf(admission_.Admit()), 30);

  clock_.Advance(absl::Seconds(1));
  source_.Set("pixq.jobs", 0, 850);  // 50 records a second; 250 to go to 600
  admission_.CheckNow();
  EXPECT_EQ(errors::RetryAfterOf(admission_.Admit()), 5);

  clock_.Advance(absl::Seconds(1));
  source_.Set("pixq.jobs", 0, 650);  // 200 a second; 50 to go: a quarter second, at least 1
  admission_.CheckNow();
  EXPECT_EQ(errors::RetryAfterOf(admission_.Admit()), 1);

  clock_.Advance(absl::Seconds(1));
  source_.Set("pixq.jobs", 0, 650);  // stalled
  admission_.CheckNow();
  EXPECT_EQ(errors::RetryAfterOf(admission_.Admit()), 30);
}

TEST_F(AdmissionTest, KeepsItsDecisionWhileTheBacklogCannotBeRead) {
  source_.Set("pixq.jobs", 0, 900);
  admission_.CheckNow();
  source_.Fail(errors::Make(errors::Reason::kBrokerUnavailable, "all brokers down"));
  admission_.CheckNow();
  EXPECT_EQ(errors::ReasonOf(admission_.Admit()), "BacklogFull");
}

TEST_F(AdmissionTest, CountsEveryWorkTopic) {
  source_.Set("pixq.jobs.retry", 0, 850);
  admission_.CheckNow();
  const absl::Status refused = admission_.Admit();
  EXPECT_EQ(errors::ReasonOf(refused), "BacklogFull");
  EXPECT_NE(refused.message().find("pixq.jobs.retry"), std::string::npos) << refused;
}

TEST_F(AdmissionTest, ReportsTheFullestPartitionOfEachTopicAndWhetherItRefuses) {
  source_.Set("pixq.jobs", 1, 250);
  source_.Set("pixq.jobs", 2, 500);
  source_.Set("pixq.jobs.retry", 0, 900);
  admission_.CheckNow();
  const std::string text = metrics_.Render();
  EXPECT_NE(text.find(R"(pixq_backlog_room_ratio{topic="pixq.jobs"} 0.5)"), std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(pixq_backlog_room_ratio{topic="pixq.jobs.retry"} 0.9)"), std::string::npos)
      << text;
  EXPECT_NE(text.find("pixq_admission_refusing 1"), std::string::npos) << text;
}

TEST_F(AdmissionTest, ChecksInTheBackgroundEveryInterval) {
  admission_.Start();
  source_.AwaitReads(1);
  clock_.AwaitWaiters(1);  // the first check is done: the thread waits for the next one
  EXPECT_TRUE(admission_.Admit().ok());

  source_.Set("pixq.jobs", 0, 1000);
  clock_.Advance(absl::Seconds(1));
  source_.AwaitReads(2);
  clock_.AwaitWaiters(1);
  EXPECT_EQ(errors::ReasonOf(admission_.Admit()), "BacklogFull");
}

TEST_F(AdmissionTest, CountsWhatItSentSinceTheLastCheckAgainstTheFullestPartition) {
  source_.Set("pixq.jobs", 1, 700);
  admission_.CheckNow();
  // Four partitions: twice an even share of what is sent lands on the fullest one, as counted.
  for (int i = 0; i < 198; ++i) sent_.Add({.topic = "pixq.jobs", .key = "j", .value = "{}"});
  EXPECT_TRUE(admission_.Admit().ok()) << "700 + 99 of 1,000";
  sent_.Add({.topic = "pixq.jobs", .key = "j", .value = "{}"});
  const absl::Status refused = admission_.Admit();
  EXPECT_EQ(errors::ReasonOf(refused), "BacklogFull") << "700 + 100 of 1,000";
  EXPECT_EQ(errors::RetryAfterOf(refused), 1) << "until the next check reads the log";

  // The next check reads the log as it is (the workers kept up): admitted again.
  source_.Set("pixq.jobs", 1, 600);
  admission_.CheckNow();
  EXPECT_TRUE(admission_.Admit().ok());
}

// The room is shared by bytes, records and age: whichever is fullest counts.
TEST(FractionOfRoomTest, IsTheFullestOfBytesRecordsAndAge) {
  queue::PartitionBacklog backlog{.records = 100,
                                  .bytes = 4 << 20,
                                  .oldest_age = absl::Hours(1),
                                  .room = queue::kLocalBrokerRoom};
  EXPECT_DOUBLE_EQ(queue::FractionOfRoom(backlog), 0.8);  // 4 of 5 MiB
  backlog.bytes = 0;
  backlog.records = 90'000;
  EXPECT_DOUBLE_EQ(queue::FractionOfRoom(backlog), 0.9);  // 90,000 of 100,000 message sets
  backlog.room = {.age = absl::Hours(2)};
  EXPECT_DOUBLE_EQ(queue::FractionOfRoom(backlog), 0.5);  // an hour of retention.ms's two
  backlog.room = {};
  EXPECT_DOUBLE_EQ(queue::FractionOfRoom(backlog), 0) << "no bound, no fraction";
}

TEST(RecordSizesTest, AveragesWhatWasSentPerTopicWithTheOverhead) {
  queue::RecordSizes sizes;
  EXPECT_EQ(sizes.Average("pixq.jobs", 1024), 1024) << "nothing sent yet";
  sizes.Add({.topic = "pixq.jobs", .key = "k", .value = std::string(99, 'v')});
  sizes.Add({.topic = "pixq.jobs",
             .key = "k",
             .value = std::string(199, 'v'),
             .headers = {{"pixq-attempt", "1"}}});
  // (100 + 80 + 200 + 13 + 80) / 2, rounded up.
  EXPECT_EQ(sizes.Average("pixq.jobs", 1024), 237);
  EXPECT_EQ(sizes.Average("pixq.jobs.retry", 1024), 1024);
}

TEST(LogEndHistoryTest, BoundsTheAgeOfTheOldestUnconsumedRecord) {
  queue::LogEndHistory history;
  const absl::Time t0 = absl::FromUnixSeconds(1'800'000'000);
  EXPECT_EQ(history.Observe(10, 10, t0), absl::ZeroDuration()) << "nothing waits";
  // Records 10..19 came after t0: the oldest of them has waited at most since t0.
  EXPECT_EQ(history.Observe(20, 10, t0 + absl::Seconds(5)), absl::Seconds(5));
  EXPECT_EQ(history.Observe(30, 10, t0 + absl::Seconds(8)), absl::Seconds(8));
  // The workers got to 25: those records came after the log end was 20, at t0 + 5 s.
  EXPECT_EQ(history.Observe(30, 25, t0 + absl::Seconds(9)), absl::Seconds(4));
  EXPECT_EQ(history.Observe(30, 30, t0 + absl::Seconds(10)), absl::ZeroDuration());
}

TEST(LogEndHistoryTest, StaysBoundedAndOnlyLoosensTheBound) {
  queue::LogEndHistory history;
  const absl::Time t0 = absl::FromUnixSeconds(1'800'000'000);
  history.Observe(0, 0, t0);
  absl::Duration age;
  for (int64_t i = 1; i <= 3 * static_cast<int64_t>(queue::LogEndHistory::kMaxSamples); ++i) {
    age = history.Observe(i, 0, t0 + absl::Seconds(i));
  }
  EXPECT_EQ(age, absl::Seconds(3 * static_cast<int64_t>(queue::LogEndHistory::kMaxSamples)));
  // Offset 100 came after the log end was 100; with samples dropped, the bound may be earlier.
  const absl::Time now = t0 + absl::Hours(10);
  const absl::Duration bound = history.Observe(20'000, 100, now);
  EXPECT_GE(bound, now - (t0 + absl::Seconds(100)));
}

// The service asks the work gate only for work that would be queued.
class ServiceAdmissionTest : public ServiceFixture {
 protected:
  job::JobSpec Spec(const std::string& image_id) {
    return *job::ParseJobSpec(
        R"({"source":{"imageId":")" + image_id +
            R"("},"steps":[{"op":"resize","width":10}],"output":{"format":"webp"}})",
        {});
  }
};

TEST_F(ServiceAdmissionTest, RefusesNewJobsButNotUploadsWhileTheBacklogIsFull) {
  absl::Status gate =
      errors::WithRetryAfter(errors::Make(errors::Reason::kBacklogFull, "the backlog is full"), 7);
  Service gated(
      ServiceOptions{.max_pixels = 1'000'000, .admit_work = [&gate] { return gate; }}, store_,
      producer_, jobs_, images_,
      [this](absl::Duration) {
        ApplyPublished();
        return absl::OkStatus();
      },
      metrics_, tracer_, clock_);
  absl::StatusOr<UploadResult> image = gated.UploadImage(Png(40, 30), "", "");
  ASSERT_TRUE(image.ok()) << image.status();
  ApplyPublished();
  const size_t sent_before = producer_.Sent().size();

  absl::StatusOr<job::JobRecord> job = gated.CreateJob(Spec(image->meta.id));
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(errors::ReasonOf(job.status()), "BacklogFull");
  EXPECT_EQ(errors::HttpStatusOf(job.status()), 503);
  EXPECT_EQ(errors::RetryAfterOf(job.status()), 7) << "the hint reaches the HTTP layer";
  EXPECT_EQ(producer_.Sent().size(), sent_before) << "nothing produced";

  gate = absl::OkStatus();
  EXPECT_TRUE(gated.CreateJob(Spec(image->meta.id)).ok());
}

}  // namespace
}  // namespace pixq::api
