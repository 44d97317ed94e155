#include "pkg/job/ids.h"

#include <algorithm>
#include <set>
#include <vector>

#include <gtest/gtest.h>

namespace pixq::job {
namespace {

TEST(JobIdTest, HasThePrefixAndUlidShape) {
  const std::string id = NewJobId();
  EXPECT_EQ(id.size(), 28u);
  EXPECT_EQ(id.substr(0, 2), "j_");
  EXPECT_TRUE(IsJobId(id));
}

TEST(JobIdTest, IsUniqueAcrossManyCalls) {
  std::set<std::string> ids;
  for (int i = 0; i < 10000; ++i) ids.insert(NewJobId());
  EXPECT_EQ(ids.size(), 10000u);
}

TEST(JobIdTest, SortsByCreationTimeAcrossMilliseconds) {
  // The first 10 characters of a ULID encode the millisecond; later ids never sort lower.
  const std::string a = NewJobId();
  std::string b = a;
  while (b.substr(0, 12) == a.substr(0, 12)) b = NewJobId();
  EXPECT_LT(a.substr(0, 12), b.substr(0, 12));
}

TEST(JobIdTest, SortsInTheOrderMadeWithinOneMillisecond) {
  // Far more ids than milliseconds pass: most share their millisecond with the one before.
  std::vector<std::string> ids;
  for (int i = 0; i < 10000; ++i) ids.push_back(NewJobId());
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end());  // and none repeats
}

TEST(JobIdTest, RejectsOtherShapes) {
  EXPECT_FALSE(IsJobId(""));
  EXPECT_FALSE(IsJobId("j_"));
  EXPECT_FALSE(IsJobId("x_01HV3K9Q6Y0S4W7T1F2D5G8B9C"));
  EXPECT_FALSE(IsJobId("j_01HV3K9Q6Y0S4W7T1F2D5G8B9"));    // too short
  EXPECT_FALSE(IsJobId("j_01HV3K9Q6Y0S4W7T1F2D5G8B9I"));   // I is not Crockford
  EXPECT_FALSE(IsJobId("j_../../../../etc/passwd12345"));  // path-like
  EXPECT_TRUE(IsJobId("j_01HV3K9Q6Y0S4W7T1F2D5G8B9C"));
}

TEST(Sha256HexTest, AcceptsOnlyLowercaseHexOfLength64) {
  EXPECT_TRUE(IsSha256Hex(std::string(64, 'a')));
  EXPECT_FALSE(IsSha256Hex(std::string(64, 'A')));
  EXPECT_FALSE(IsSha256Hex(std::string(63, 'a')));
  EXPECT_FALSE(IsSha256Hex(std::string(63, 'a') + "/"));
}

TEST(TimeTest, Rfc3339RoundTripsToTheMillisecond) {
  const std::string now = NowRfc3339();
  EXPECT_EQ(now.back(), 'Z');
  const int64_t ms = Rfc3339ToUnixMillis(now);
  EXPECT_GT(ms, 0);
  EXPECT_LE(ms, NowUnixMillis());
  EXPECT_EQ(Rfc3339ToUnixMillis("2026-11-22T10:00:00.123Z"), 1795341600123);
  EXPECT_EQ(Rfc3339ToUnixMillis("yesterday"), -1);
}

}  // namespace
}  // namespace pixq::job
