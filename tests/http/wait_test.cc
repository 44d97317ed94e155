#include <gtest/gtest.h>

#include "pkg/http/long_poll.h"

namespace pixq::http {
namespace {

TEST(ParseWaitTest, ReadsDurationsAndBareSeconds) {
  EXPECT_EQ(*ParseWait("10s", absl::Seconds(60)), absl::Seconds(10));
  EXPECT_EQ(*ParseWait("1500ms", absl::Seconds(60)), absl::Milliseconds(1500));
  EXPECT_EQ(*ParseWait("7", absl::Seconds(60)), absl::Seconds(7));
  EXPECT_EQ(*ParseWait(" 2m ", absl::Seconds(600)), absl::Minutes(2));
}

TEST(ParseWaitTest, CapsAtTheMaximum) {
  EXPECT_EQ(*ParseWait("1h", absl::Seconds(60)), absl::Seconds(60));
}

TEST(ParseWaitTest, RefusesNonsenseAndNegatives) {
  EXPECT_FALSE(ParseWait("soon", absl::Seconds(60)).ok());
  EXPECT_FALSE(ParseWait("-5s", absl::Seconds(60)).ok());
  EXPECT_FALSE(ParseWait("", absl::Seconds(60)).ok());
}

}  // namespace
}  // namespace pixq::http
