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

TEST(ParseUntilTest, ReadsDoneAndChange) {
  EXPECT_EQ(*ParseUntil("done"), LongPolls::WakeOn::kEnd);
  EXPECT_EQ(*ParseUntil(" Done "), LongPolls::WakeOn::kEnd);
  EXPECT_EQ(*ParseUntil("change"), LongPolls::WakeOn::kChange);
}

TEST(ParseUntilTest, RefusesAnythingElseNamingTheParameter) {
  for (const char* bad : {"", "finished", "Succeeded", "done,change"}) {
    absl::StatusOr<LongPolls::WakeOn> parsed = ParseUntil(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_NE(parsed.status().message().find("until"), std::string_view::npos);
  }
}

}  // namespace
}  // namespace pixq::http
