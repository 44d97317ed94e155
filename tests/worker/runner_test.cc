// worker::Runner against tests/fakes' FakeConsumer and a clock that moves only when the test
// says: jobs finishing out of order, partitions revoked while jobs run, retries that may not start
// yet. Each job is a JobGate entry that the test finishes when it chooses.

#include "pkg/worker/runner.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/synchronization/mutex.h"
#include <gtest/gtest.h>

#include "pkg/errors/errors.h"
#include "pkg/worker/processor.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_consumer.h"

namespace pixq::worker {
namespace {

using Partition = testing::FakeConsumer::Partition;

const Partition kJobs0{"pixq.jobs", 0};
const Partition kJobs1{"pixq.jobs", 1};
const Partition kRetry0{"pixq.jobs.retry", 0};

// Jobs that run until the test finishes them (or at once, once told so).
class JobGate {
 public:
  using Job = std::tuple<std::string, int32_t, int64_t>;  // topic, partition, offset

  absl::Status Process(const queue::Message& m) {
    const Job job{m.topic, m.partition, m.offset};
    absl::MutexLock lock(&mu_);
    started_.push_back(job);
    const auto finished = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return at_once_ || outcomes_.count(job) != 0;
    };
    mu_.Await(absl::Condition(&finished));
    auto it = outcomes_.find(job);
    return it == outcomes_.end() ? absl::OkStatus() : it->second;
  }

  // Ends the job at (partition, offset) with `outcome` (OK: its result is durable).
  void Finish(const Partition& p, int64_t offset, absl::Status outcome = absl::OkStatus()) {
    absl::MutexLock lock(&mu_);
    outcomes_[{p.first, p.second, offset}] = std::move(outcome);
  }
  // Every job, now and from now on, finishes at once.
  void FinishAll() {
    absl::MutexLock lock(&mu_);
    at_once_ = true;
  }

  void AwaitStarted(size_t count) {
    const auto enough = [&]()
                            ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return started_.size() >= count; };
    absl::MutexLock lock(&mu_, absl::Condition(&enough));
  }
  std::vector<Job> Started() {
    absl::MutexLock lock(&mu_);
    return started_;
  }

 private:
  absl::Mutex mu_;
  std::vector<Job> started_ ABSL_GUARDED_BY(mu_);
  std::map<Job, absl::Status> outcomes_ ABSL_GUARDED_BY(mu_);
  bool at_once_ ABSL_GUARDED_BY(mu_) = false;
};

class RunnerTest : public ::testing::Test {
 protected:
  RunnerTest() {
    consumer_.OnRevoke([this](const std::vector<Partition>& p) { runner_.OnRevoke(p); });
  }
  ~RunnerTest() override {
    gate_.FinishAll();
    Stop();
  }

  void Start(std::vector<Partition> partitions) {
    consumer_.Assign(partitions);
    thread_ = std::thread([this] { abandoned_ = runner_.Run(consumer_, stopping_); });
  }
  void Stop() {
    if (!thread_.joinable()) return;
    stopping_ = true;
    consumer_.Wake();
    thread_.join();
  }

  RunnerOptions options_{.concurrency = 4,
                         .ahead = 0,
                         .grace = absl::Seconds(30),
                         .retry_topic = "pixq.jobs.retry",
                         .max_defer = absl::Minutes(1)};
  testing::FakeClock clock_;
  testing::FakeConsumer consumer_;
  JobGate gate_;
  observability::Metrics metrics_{observability::MetricsRole::kWorker};
  Runner runner_{options_, [this](const queue::Message& m) { return gate_.Process(m); }, metrics_,
                 clock_};
  std::atomic<bool> stopping_{false};
  std::atomic<int> abandoned_{-1};
  std::thread thread_;
};

TEST_F(RunnerTest, NeverStoresAnOffsetPastAJobThatHasNotFinished) {
  for (int i = 0; i < 6; ++i) consumer_.Append("pixq.jobs", 0);
  Start({kJobs0});
  gate_.AwaitStarted(4);  // offsets 0-3: every thread busy

  // Each job finishing frees a thread, which takes the next offset: by then its bookkeeping is
  // done, so an offset stored too early would show.
  gate_.Finish(kJobs0, 3);
  gate_.AwaitStarted(5);
  gate_.Finish(kJobs0, 1);
  gate_.AwaitStarted(6);
  EXPECT_TRUE(consumer_.Stored(kJobs0).empty()) << "offset 0 still runs";

  gate_.Finish(kJobs0, 0);
  consumer_.AwaitCommitted(kJobs0, 2);
  gate_.Finish(kJobs0, 2);
  consumer_.AwaitCommitted(kJobs0, 4);
  gate_.Finish(kJobs0, 4);
  consumer_.AwaitCommitted(kJobs0, 5);
  gate_.Finish(kJobs0, 5);
  consumer_.AwaitCommitted(kJobs0, 6);
  Stop();
  EXPECT_EQ(abandoned_, 0);
  // Each time up to the oldest unfinished job, never beyond it.
  EXPECT_EQ(consumer_.Stored(kJobs0), (std::vector<int64_t>{2, 4, 5, 6}));
}

TEST_F(RunnerTest, AJobWithoutADurableResultHoldsTheOffsetBelowIt) {
  for (int i = 0; i < 3; ++i) consumer_.Append("pixq.jobs", 0);
  Start({kJobs0});
  gate_.AwaitStarted(3);
  gate_.Finish(kJobs0, 0);
  consumer_.AwaitCommitted(kJobs0, 1);
  gate_.Finish(kJobs0, 1, errors::Make(errors::Reason::kStatusNotPublished, "no ack"));
  gate_.Finish(kJobs0, 2);
  Stop();  // waits for every job, so their bookkeeping is done
  EXPECT_EQ(consumer_.Stored(kJobs0), std::vector<int64_t>{1})
      << "offset 1 comes again after a restart, and 2 with it";
}

TEST_F(RunnerTest, RevokedPartitionsStoreTheOffsetsOfJobsThatFinishWithinTheGrace) {
  consumer_.Append("pixq.jobs", 0);
  consumer_.Append("pixq.jobs", 0);
  consumer_.Append("pixq.jobs", 1);
  Start({kJobs0, kJobs1});
  gate_.AwaitStarted(3);

  consumer_.Revoke({kJobs0});
  consumer_.Wake();
  clock_.AwaitWaiters(1);  // the revocation waits for partition 0's jobs
  EXPECT_TRUE(consumer_.Assigned(kJobs0)) << "not released while its jobs run";
  gate_.Finish(kJobs0, 1);
  gate_.Finish(kJobs0, 0);
  consumer_.AwaitRevocations(1);
  EXPECT_EQ(consumer_.Committed(kJobs0), 2) << "both jobs count for the partition's next owner";
  EXPECT_FALSE(consumer_.Assigned(kJobs0));

  // Partition 1 carries on.
  gate_.Finish(kJobs1, 0);
  consumer_.AwaitCommitted(kJobs1, 1);
}

TEST_F(RunnerTest, RevokedPartitionsPastTheGraceKeepOnlyWhatFinishedInOrder) {
  for (int i = 0; i < 3; ++i) consumer_.Append("pixq.jobs", 0);
  Start({kJobs0});
  gate_.AwaitStarted(3);

  consumer_.Revoke({kJobs0});
  consumer_.Wake();
  clock_.AwaitWaiters(1);
  gate_.Finish(kJobs0, 0);
  consumer_.AwaitCommitted(kJobs0, 1);
  gate_.Finish(kJobs0, 2);  // finished, but offset 1 still runs
  clock_.Advance(options_.grace);
  consumer_.AwaitRevocations(1);
  EXPECT_EQ(consumer_.Committed(kJobs0), 1) << "offset 1 and everything after it run again";

  // Offset 1 finishes late: the partition is someone else's now, and nothing more is stored.
  gate_.Finish(kJobs0, 1);
  Stop();
  EXPECT_EQ(consumer_.Stored(kJobs0), std::vector<int64_t>{1});
}

TEST_F(RunnerTest, ARetryBeforeItsTimePausesItsPartitionUntilTheClockReachesIt) {
  gate_.FinishAll();
  const int64_t not_before = absl::ToUnixMillis(clock_.Now() + absl::Seconds(10));
  consumer_.Append("pixq.jobs.retry", 0,
                   {{kAttemptHeader, "2"}, {kNotBeforeHeader, std::to_string(not_before)}});
  consumer_.Append("pixq.jobs.retry", 0);  // behind it, in order: waits with it
  consumer_.Append("pixq.jobs", 0);
  Start({kJobs0, kRetry0});

  consumer_.AwaitPauses(kRetry0, 1);
  consumer_.AwaitCommitted(kJobs0, 1);  // other partitions are not held up
  EXPECT_TRUE(consumer_.Paused(kRetry0));
  for (const JobGate::Job& job : gate_.Started()) {
    EXPECT_NE(std::get<0>(job), "pixq.jobs.retry") << "a retry ran before its time";
  }

  clock_.Advance(absl::Seconds(10));
  consumer_.Wake();  // the poller looks at the clock again
  consumer_.AwaitResumes(kRetry0, 1);
  consumer_.AwaitCommitted(kRetry0, 2);
  std::vector<JobGate::Job> started = gate_.Started();
  ASSERT_EQ(started.size(), 3u);
  std::sort(started.begin() + 1, started.end());  // the two retries run at once
  EXPECT_EQ(started[1], (JobGate::Job{"pixq.jobs.retry", 0, 0}));
  EXPECT_EQ(started[2], (JobGate::Job{"pixq.jobs.retry", 0, 1}));
}

TEST_F(RunnerTest, ANotBeforeFartherThanTheCapWaitsOnlyTheCap) {
  gate_.FinishAll();
  const int64_t not_before = absl::ToUnixMillis(clock_.Now() + absl::Hours(5));
  consumer_.Append("pixq.jobs.retry", 0, {{kNotBeforeHeader, std::to_string(not_before)}});
  Start({kRetry0});
  consumer_.AwaitPauses(kRetry0, 1);
  clock_.Advance(options_.max_defer);
  consumer_.Wake();
  consumer_.AwaitCommitted(kRetry0, 1);
  EXPECT_EQ(gate_.Started().size(), 1u);
}

TEST_F(RunnerTest, APausedPartitionThatIsRevokedIsHandedBackUnpaused) {
  const int64_t not_before = absl::ToUnixMillis(clock_.Now() + absl::Seconds(10));
  consumer_.Append("pixq.jobs.retry", 0, {{kNotBeforeHeader, std::to_string(not_before)}});
  Start({kRetry0});
  consumer_.AwaitPauses(kRetry0, 1);
  consumer_.Revoke({kRetry0});
  consumer_.Wake();
  consumer_.AwaitRevocations(1);
  consumer_.AwaitResumes(kRetry0, 1);
  EXPECT_TRUE(gate_.Started().empty());
}

TEST_F(RunnerTest, OnShutdownTheJobsInFlightFinishBeforeRunReturns) {
  consumer_.Append("pixq.jobs", 0);
  consumer_.Append("pixq.jobs", 0);
  Start({kJobs0});
  gate_.AwaitStarted(2);
  stopping_ = true;
  consumer_.Wake();
  clock_.AwaitWaiters(1);  // draining, within the grace
  gate_.Finish(kJobs0, 1);
  gate_.Finish(kJobs0, 0);
  Stop();
  EXPECT_EQ(abandoned_, 0);
  EXPECT_EQ(consumer_.Committed(kJobs0), 2);
}

TEST_F(RunnerTest, WhileDrainingNothingMoreIsFetchedAndTheGroupIsStillAnswered) {
  consumer_.Append("pixq.jobs", 0);
  Start({kJobs0, kJobs1});
  gate_.AwaitStarted(1);
  stopping_ = true;
  consumer_.Wake();
  clock_.AwaitWaiters(1);  // draining, within the grace
  EXPECT_TRUE(consumer_.PausedAll());
  consumer_.Append("pixq.jobs", 1);  // not fetched: the partition is paused

  // A rebalance begins while the job runs: the drain polls again and lets the partition go.
  consumer_.Revoke({kJobs1});
  clock_.Advance(absl::Milliseconds(100));
  consumer_.AwaitRevocations(1);

  gate_.Finish(kJobs0, 0);
  Stop();
  EXPECT_EQ(abandoned_, 0);
  EXPECT_EQ(consumer_.Committed(kJobs0), 1);
  EXPECT_EQ(gate_.Started().size(), 1u);
}

}  // namespace
}  // namespace pixq::worker
