#include "pkg/api/readiness.h"

#include <gtest/gtest.h>

#include "pkg/errors/errors.h"

namespace pixq::api {
namespace {

class ReadinessTest : public ::testing::Test {
 protected:
  absl::Status next_ = absl::OkStatus();
  absl::Duration asked_ = absl::ZeroDuration();
  Readiness readiness_{[this](absl::Duration timeout) {
                         asked_ = timeout;
                         return next_;
                       },
                       absl::Seconds(1), absl::Seconds(2)};
};

TEST_F(ReadinessTest, IsNotReadyBeforeTheFirstCheckButAdmits) {
  EXPECT_EQ(errors::ReasonOf(readiness_.Ready()), "NotReady");
  EXPECT_EQ(errors::HttpStatusOf(readiness_.Ready()), 503);
  EXPECT_TRUE(readiness_.Admit().ok()) << "nothing says the broker is down";
}

TEST_F(ReadinessTest, TurnsReadyWhenTheTablesCatchUp) {
  readiness_.CheckNow();
  EXPECT_EQ(asked_, absl::Seconds(2));
  EXPECT_TRUE(readiness_.Ready().ok());
  EXPECT_TRUE(readiness_.Admit().ok());
}

TEST_F(ReadinessTest, RefusesWorkWhileTheBrokerIsUnreachableAndRecovers) {
  readiness_.CheckNow();
  next_ = errors::Unavailable("BrokerUnavailable", "list offsets: all brokers down");
  readiness_.CheckNow();
  EXPECT_EQ(errors::ReasonOf(readiness_.Ready()), "BrokerUnavailable");
  EXPECT_EQ(errors::ReasonOf(readiness_.Admit()), "BrokerUnavailable");
  EXPECT_EQ(errors::HttpStatusOf(readiness_.Admit()), 503);
  next_ = absl::OkStatus();
  readiness_.CheckNow();
  EXPECT_TRUE(readiness_.Ready().ok());
  EXPECT_TRUE(readiness_.Admit().ok());
}

TEST_F(ReadinessTest, LaggingTablesAreNotReadyButStillTakeWork) {
  readiness_.CheckNow();
  next_ = errors::Make(absl::StatusCode::kDeadlineExceeded, "CatchUpTimeout", "behind");
  readiness_.CheckNow();
  EXPECT_EQ(errors::ReasonOf(readiness_.Ready()), "CatchUpTimeout");
  EXPECT_TRUE(readiness_.Admit().ok()) << "the broker answered; jobs can still be queued";
}

TEST_F(ReadinessTest, ChecksInTheBackgroundUntilDestroyed) {
  next_ = absl::OkStatus();
  readiness_.Start();
  for (int i = 0; i < 200 && !readiness_.Ready().ok(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(readiness_.Ready().ok());
}

}  // namespace
}  // namespace pixq::api
