#include "pkg/api/readiness.h"

#include "absl/synchronization/mutex.h"
#include <gtest/gtest.h>

#include "pkg/errors/errors.h"
#include "tests/fakes/fake_clock.h"

namespace pixq::api {
namespace {

class ReadinessTest : public ::testing::Test {
 protected:
  // What the next check finds.
  void SetNext(absl::Status next) {
    absl::MutexLock lock(&mu_);
    next_ = std::move(next);
  }
  // Blocks until the tables were asked to catch up `count` times.
  void AwaitChecks(int count) {
    const auto enough = [this, count]()
                            ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return checks_ >= count; };
    absl::MutexLock lock(&mu_, absl::Condition(&enough));
  }

  absl::Mutex mu_;
  absl::Status next_ ABSL_GUARDED_BY(mu_) = absl::OkStatus();
  absl::Duration asked_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
  int checks_ ABSL_GUARDED_BY(mu_) = 0;
  testing::FakeClock clock_;
  Readiness readiness_{[this](absl::Duration timeout) {
                         absl::MutexLock lock(&mu_);
                         asked_ = timeout;
                         ++checks_;
                         return next_;
                       },
                       absl::Seconds(1), absl::Seconds(2), clock_};
};

TEST_F(ReadinessTest, IsNotReadyBeforeTheFirstCheckButAdmits) {
  EXPECT_EQ(errors::ReasonOf(readiness_.Ready()), "NotReady");
  EXPECT_EQ(errors::HttpStatusOf(readiness_.Ready()), 503);
  EXPECT_TRUE(readiness_.Admit().ok()) << "nothing says the broker is down";
}

TEST_F(ReadinessTest, TurnsReadyWhenTheTablesCatchUp) {
  readiness_.CheckNow();
  {
    absl::MutexLock lock(&mu_);
    EXPECT_EQ(asked_, absl::Seconds(2));
  }
  EXPECT_TRUE(readiness_.Ready().ok());
  EXPECT_TRUE(readiness_.Admit().ok());
}

TEST_F(ReadinessTest, RefusesWorkWhileTheBrokerIsUnreachableAndRecovers) {
  readiness_.CheckNow();
  SetNext(errors::Make(errors::Reason::kBrokerUnavailable, "list offsets: all brokers down"));
  readiness_.CheckNow();
  EXPECT_EQ(errors::ReasonOf(readiness_.Ready()), "BrokerUnavailable");
  EXPECT_EQ(errors::ReasonOf(readiness_.Admit()), "BrokerUnavailable");
  EXPECT_EQ(errors::HttpStatusOf(readiness_.Admit()), 503);
  SetNext(absl::OkStatus());
  readiness_.CheckNow();
  EXPECT_TRUE(readiness_.Ready().ok());
  EXPECT_TRUE(readiness_.Admit().ok());
}

TEST_F(ReadinessTest, LaggingTablesAreNotReadyButStillTakeWork) {
  readiness_.CheckNow();
  SetNext(errors::Make(errors::Reason::kCatchUpTimeout, "behind"));
  readiness_.CheckNow();
  EXPECT_EQ(errors::ReasonOf(readiness_.Ready()), "CatchUpTimeout");
  EXPECT_TRUE(readiness_.Admit().ok()) << "the broker answered; jobs can still be queued";
}

TEST_F(ReadinessTest, AFullStateStoreIsNotReadyButTakesWorkAndRecoversOnceItHasRoom) {
  readiness_.CheckNow();
  // What the table reader's CatchUp answers when its store refused a batch (full map or disk).
  SetNext(errors::Make(errors::Reason::kStateStoreFull,
                       "state: put: MDB_MAP_FULL; raise state.max_bytes"));
  readiness_.CheckNow();
  const absl::Status ready = readiness_.Ready();
  EXPECT_EQ(errors::ReasonOf(ready), "StateStoreFull");
  EXPECT_EQ(errors::HttpStatusOf(ready), 503);
  EXPECT_NE(ready.message().find("state.max_bytes"), absl::string_view::npos) << ready;
  // Not the broker's fault: jobs are still accepted into Kafka, which keeps them.
  EXPECT_TRUE(readiness_.Admit().ok());
  SetNext(absl::OkStatus());
  readiness_.CheckNow();
  EXPECT_TRUE(readiness_.Ready().ok());
}

TEST_F(ReadinessTest, ChecksInTheBackgroundEveryIntervalUntilDestroyed) {
  SetNext(absl::OkStatus());
  readiness_.Start();
  AwaitChecks(1);
  clock_.AwaitWaiters(1);  // the first check is done: the thread waits for the next one
  EXPECT_TRUE(readiness_.Ready().ok());

  SetNext(errors::Make(errors::Reason::kBrokerUnavailable, "list offsets: all brokers down"));
  clock_.Advance(absl::Seconds(1));
  AwaitChecks(2);
  clock_.AwaitWaiters(1);
  EXPECT_EQ(errors::ReasonOf(readiness_.Ready()), "BrokerUnavailable");
}

}  // namespace
}  // namespace pixq::api
