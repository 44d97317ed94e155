// POST /v1/jobs/{id}/retry against the real processes: a URL import whose origin is down ends
// dead-lettered (Failed after its attempts); once the origin is back, a retry runs the same job
// again on a worker, which records the new attempt, and the output is there. A repeat while the
// new attempt runs queues nothing more, and a job that succeeded is not retried.

#include <atomic>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include <gtest/gtest.h>

#include "tests/integration/photos.h"
#include "tests/support/http_client.h"
#include "tests/support/origin.h"
#include "tests/support/system.h"

namespace pixq::testing {
namespace {

using nlohmann::json;

TEST(RetryTest, ADeadLetteredJobRetriedRunsAgainAndItsNewAttemptIsRecorded) {
  const std::string photo = Encoded(SmallPhoto(320), ".jpg");
  std::atomic<bool> up{false};
  std::atomic<int> served{0};  // answers with the photo
  Origin origin([&](const OriginRequest&) {
    if (!up.load()) return OriginReply{.status = 503};
    ++served;
    // Slow enough that the retry's repeat finds the new attempt still under way.
    return OriginReply{
        .headers = {{"Content-Type", "image/jpeg"}}, .body = photo, .delay = absl::Seconds(1)};
  });
  System system(SystemOptions{.partitions = 2,
                              .workers = 1,
                              .env = {{"PIXQ_FETCH_ALLOW", "127.0.0.1"},
                                      {"PIXQ_RETRY_MAX_ATTEMPTS", "2"},
                                      {"PIXQ_RETRY_BACKOFF_MS", "200"}}});
  const std::string api = system.url();
  const json spec = {{"source", {{"url", origin.url() + "/photo.jpg"}}},
                     {"steps", json::array({{{"op", "resize"}, {"width", 160}}})},
                     {"output", {{"format", "webp"}}}};
  HttpResponse created = HttpPost(api + "/v1/jobs", spec.dump(), "application/json");
  ASSERT_EQ(created.status, 202) << created.body;
  const std::string id = json::parse(created.body)["metadata"]["id"];

  // Out of attempts: dead-lettered, Failed.
  HttpResponse ended = HttpGet(api + "/v1/jobs/" + id + "?wait=30s&until=done");
  ASSERT_EQ(ended.status, 200) << ended.body;
  json failed = json::parse(ended.body);
  ASSERT_EQ(failed["status"]["phase"], "Failed") << failed.dump();
  EXPECT_EQ(failed["status"]["reason"], "SourceUnavailable");
  EXPECT_EQ(failed["status"]["attempts"], 2);
  EXPECT_FALSE(failed["status"].contains("retries"));

  // The cause fixed, the job retried: the same id, Pending again, its retry counted.
  up = true;
  const std::string retry = api + "/v1/jobs/" + id + "/retry";
  const int64_t retry_asked_ms = absl::ToUnixMillis(absl::Now());
  HttpResponse retried = HttpPost(retry, "", "application/json", {{"Idempotency-Key", "fix-1"}});
  ASSERT_EQ(retried.status, 202) << retried.body;
  EXPECT_EQ(retried.Header("location"), "/v1/jobs/" + id);
  const json pending = json::parse(retried.body);
  EXPECT_EQ(pending["metadata"]["id"], id);
  EXPECT_EQ(pending["status"]["phase"], "Pending");
  EXPECT_EQ(pending["status"]["retries"], 1);

  // Asked again while the new attempt is under way: the same job, nothing queued again.
  HttpResponse repeat = HttpPost(retry, "", "application/json");
  ASSERT_EQ(repeat.status, 202) << repeat.body;
  EXPECT_EQ(json::parse(repeat.body)["status"]["retries"], 1);

  // The worker took the re-published job (not refused as seen before) and recorded its attempt.
  HttpResponse done = HttpGet(api + "/v1/jobs/" + id + "?wait=30s&until=done");
  ASSERT_EQ(done.status, 200) << done.body;
  const json succeeded = json::parse(done.body);
  ASSERT_EQ(succeeded["status"]["phase"], "Succeeded") << succeeded.dump();
  EXPECT_EQ(succeeded["status"]["retries"], 1);
  EXPECT_EQ(succeeded["status"]["attempts"], 1) << "the new attempt counts from 1";
  // Its queue time counts from the retry, not from the job's creation.
  absl::Time started;
  std::string unparsed;
  ASSERT_TRUE(absl::ParseTime(
      absl::RFC3339_full, succeeded["status"]["startedAt"].get<std::string>(), &started, &unparsed))
      << unparsed;
  const int64_t started_ms = absl::ToUnixMillis(started);
  EXPECT_LE(succeeded["status"]["timings"]["queueMs"].get<int64_t>(),
            started_ms - retry_asked_ms + 1)
      << succeeded.dump();
  EXPECT_TRUE(succeeded["status"]["reason"].is_null());
  EXPECT_EQ(succeeded["status"]["output"]["width"], 160);
  HttpResponse output = HttpGet(api + "/v1/jobs/" + id + "/output");
  ASSERT_EQ(output.status, 200);
  EXPECT_EQ(output.Header("content-type"), "image/webp");
  EXPECT_EQ(served.load(), 1) << "one new attempt ran, not two";

  // The same retry request again (its key) answers the same; another one is refused now.
  HttpResponse keyed = HttpPost(retry, "", "application/json", {{"Idempotency-Key", "fix-1"}});
  EXPECT_EQ(keyed.status, 202) << keyed.body;
  HttpResponse refused = HttpPost(retry, "", "application/json");
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_EQ(json::parse(refused.body, nullptr, false).value("reason", ""), "JobNotFailed");
  EXPECT_EQ(
      HttpPost(api + "/v1/jobs/j_01HV3K9Q6Y0S4W7T1F2D5G8B9C/retry", "", "application/json").status,
      404);
  EXPECT_EQ(served.load(), 1);
}

}  // namespace
}  // namespace pixq::testing
