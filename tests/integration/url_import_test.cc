// URL sources against the real processes: the worker downloads from origins on loopback (the
// allow-list names the one address that may be reached), the download joins the catalogue, the
// same content again is a cache hit, every spelling of a denied address fails with
// SourceForbidden without a connection reaching it, and transient failures are retried with
// backoff through pixq.jobs.retry until they succeed or end in pixq.jobs.dlq (read back with a
// Kafka client).

#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "pkg/crypto/sha256.h"
#include "pkg/queue/table_reader.h"
#include "tests/integration/photos.h"
#include "tests/support/figures.h"
#include "tests/support/http_client.h"
#include "tests/support/origin.h"
#include "tests/support/process.h"
#include "tests/support/system.h"

namespace pixq::testing {
namespace {

using nlohmann::json;

HttpResponse SubmitUrl(const std::string& api, const std::string& source, int width = 160) {
  const json spec = {{"source", {{"url", source}}},
                     {"steps", json::array({{{"op", "resize"}, {"width", width}}})},
                     {"output", {{"format", "jpeg"}}}};
  return HttpPost(api + "/v1/jobs", spec.dump(), "application/json");
}

std::string JobId(const HttpResponse& r) { return json::parse(r.body)["metadata"]["id"]; }

TEST(UrlImportTest, DownloadsIntoTheCatalogueAndTheSameContentIsACacheHit) {
  const std::string photo = Encoded(SmallPhoto(640), ".jpg");
  Origin origin([&](const OriginRequest&) {
    return OriginReply{.headers = {{"Content-Type", "image/jpeg"}}, .body = photo};
  });
  System system(
      SystemOptions{.partitions = 2, .workers = 1, .env = {{"PIXQ_FETCH_ALLOW", "127.0.0.1"}}});
  const std::string api = system.url();

  HttpResponse first = SubmitUrl(api, origin.url() + "/gallery/kleiber.jpg?v=1");
  ASSERT_EQ(first.status, 202) << first.body;
  const json done = AwaitJob(api, JobId(first), absl::Seconds(60));
  ASSERT_EQ(done["status"]["phase"], "Succeeded") << done.dump();
  EXPECT_EQ(done["spec"]["source"]["url"], origin.url() + "/gallery/kleiber.jpg?v=1");
  const std::string image_id = done["status"]["imageId"];
  EXPECT_EQ(image_id, crypto::Sha256Hex(photo));
  EXPECT_FALSE(done["status"]["cacheHit"].get<bool>());
  EXPECT_EQ(done["status"]["output"]["width"], 160);

  // The download is an image in the catalogue now, named after the URL's last segment.
  HttpResponse meta;
  ASSERT_TRUE(Eventually(
      [&] {
        meta = HttpGet(api + "/v1/images/" + image_id);
        return meta.status == 200;
      },
      absl::Seconds(10)))
      << meta.status << " " << meta.body;
  EXPECT_EQ(json::parse(meta.body)["filename"], "kleiber.jpg");
  HttpResponse content = HttpGet(api + "/v1/images/" + image_id + "/content");
  ASSERT_EQ(content.status, 200);
  EXPECT_EQ(content.body, photo);

  // The same bytes under another URL: downloaded, recognised, nothing made again.
  HttpResponse second = SubmitUrl(api, origin.url() + "/mirror/copy.jpg");
  ASSERT_EQ(second.status, 202) << second.body;
  const json again = AwaitJob(api, JobId(second), absl::Seconds(60));
  ASSERT_EQ(again["status"]["phase"], "Succeeded") << again.dump();
  EXPECT_TRUE(again["status"]["cacheHit"].get<bool>());
  EXPECT_EQ(again["status"]["imageId"], image_id);
  for (const char* field : {"format", "width", "height", "bytes"}) {
    EXPECT_EQ(again["status"]["output"][field], done["status"]["output"][field]) << field;
  }
  EXPECT_EQ(HttpGet(api + again["status"]["output"]["url"].get<std::string>()).body,
            HttpGet(api + done["status"]["output"]["url"].get<std::string>()).body);
  EXPECT_EQ(origin.requests().size(), 2u);

  // And a job on the catalogue image with the same steps is born Succeeded at the API.
  const json by_id = {{"source", {{"imageId", image_id}}},
                      {"steps", json::array({{{"op", "resize"}, {"width", 160}}})},
                      {"output", {{"format", "jpeg"}}}};
  HttpResponse hit = HttpPost(api + "/v1/jobs", by_id.dump(), "application/json");
  EXPECT_EQ(hit.status, 201) << hit.body;
  std::cout << "URL import: " << photo.size() << " bytes downloaded in "
            << done["status"]["timings"]["fetchMs"]
            << " ms; the same content again was a cache hit\n";
}

TEST(UrlImportTest, EverySpellingOfADeniedAddressFailsWithoutAConnection) {
  // The listeners a broken guard would reach: loopback, where a slip costs nothing.
  Origin denied_v4([](const OriginRequest&) { return OriginReply{.body = "secret"}; }, "127.0.0.1");
  Origin denied_v6([](const OriginRequest&) { return OriginReply{.body = "secret"}; }, "::1");
  // The one allowed origin (127.0.0.2) redirects into the denied one.
  Origin allowed(
      [&](const OriginRequest&) {
        return OriginReply{.status = 302,
                           .headers = {{"Location", denied_v4.url() + "/latest/meta-data"}}};
      },
      "127.0.0.2");
  System system(
      SystemOptions{.partitions = 2, .workers = 1, .env = {{"PIXQ_FETCH_ALLOW", "127.0.0.2"}}});
  const std::string api = system.url();
  const std::string p4 = std::to_string(denied_v4.port());
  const std::string p6 = std::to_string(denied_v6.port());
  const std::vector<std::string> urls = {
      "http://127.0.0.1:" + p4 + "/",       "http://127.1:" + p4 + "/",
      "http://0x7f000001:" + p4 + "/",      "http://2130706433:" + p4 + "/",
      "http://017700000001:" + p4 + "/",    "http://localhost:" + p4 + "/",
      "http://[::1]:" + p6 + "/",           "http://[::ffff:127.0.0.1]:" + p4 + "/",
      "http://[::ffff:7f00:1]:" + p4 + "/", allowed.url() + "/innocent.jpg",
  };
  std::vector<std::pair<std::string, std::string>> jobs;
  for (const std::string& url : urls) {
    HttpResponse r = SubmitUrl(api, url);
    ASSERT_EQ(r.status, 202) << url << ": " << r.body;
    jobs.emplace_back(url, JobId(r));
  }
  for (const auto& [url, id] : jobs) {
    const json job = AwaitJob(api, id, absl::Seconds(60));
    EXPECT_EQ(job["status"]["phase"], "Failed") << url << ": " << job.dump();
    EXPECT_EQ(job["status"]["reason"], "SourceForbidden") << url << ": " << job.dump();
    EXPECT_EQ(job["status"]["attempts"], 1) << url << ": not retried";
  }
  EXPECT_EQ(allowed.connections(), 1) << "the redirecting origin is allowed";
  EXPECT_EQ(denied_v4.connections(), 0) << "a denied address was connected to";
  EXPECT_EQ(denied_v6.connections(), 0) << "a denied address was connected to";
  std::cout << "SSRF: " << urls.size() << " URLs refused, 0 connections to the denied listeners\n";
}

TEST(UrlImportTest, TransientFailuresAreRetriedWithBackoffAndTheLastGoesToTheDlq) {
  const std::string photo = Encoded(SmallPhoto(320), ".jpg");
  std::mutex mu;
  std::vector<absl::Time> flaky_at;
  Origin origin([&](const OriginRequest& r) {
    if (r.target == "/down.jpg") return OriginReply{.status = 503};
    std::lock_guard<std::mutex> lock(mu);
    flaky_at.push_back(absl::Now());
    // Fails twice, then works.
    if (flaky_at.size() <= 2) return OriginReply{.status = 503};
    return OriginReply{.headers = {{"Content-Type", "image/jpeg"}}, .body = photo};
  });
  const absl::Duration backoff = absl::Milliseconds(400);
  System system(SystemOptions{.partitions = 2,
                              .workers = 1,
                              .env = {{"PIXQ_FETCH_ALLOW", "127.0.0.1"},
                                      {"PIXQ_RETRY_MAX_ATTEMPTS", "3"},
                                      {"PIXQ_RETRY_BACKOFF_MS", "400"},
                                      {"PIXQ_RETRY_MAX_BACKOFF_MS", "5000"}}});
  const std::string api = system.url();
  HttpResponse flaky = SubmitUrl(api, origin.url() + "/flaky.jpg");
  HttpResponse down = SubmitUrl(api, origin.url() + "/down.jpg");
  ASSERT_EQ(flaky.status, 202) << flaky.body;
  ASSERT_EQ(down.status, 202) << down.body;
  const std::string flaky_id = JobId(flaky);
  const std::string down_id = JobId(down);

  const json ok = AwaitJob(api, flaky_id, absl::Seconds(60));
  ASSERT_EQ(ok["status"]["phase"], "Succeeded") << ok.dump();
  EXPECT_EQ(ok["status"]["attempts"], 3);
  const json failed = AwaitJob(api, down_id, absl::Seconds(60));
  ASSERT_EQ(failed["status"]["phase"], "Failed") << failed.dump();
  EXPECT_EQ(failed["status"]["attempts"], 3);
  EXPECT_EQ(failed["status"]["reason"], "SourceUnavailable");
  EXPECT_NE(failed["status"]["message"].get<std::string>().find("gave up after 3 attempts"),
            std::string::npos)
      << failed.dump();

  // The waits between attempts: backoff after the first failure, twice that after the second.
  std::vector<absl::Duration> gaps;
  {
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_EQ(flaky_at.size(), 3u);
    gaps = {flaky_at[1] - flaky_at[0], flaky_at[2] - flaky_at[1]};
  }
  EXPECT_GE(gaps[0], backoff);
  EXPECT_GE(gaps[1], 2 * backoff);

  // What went through Kafka, read with a Kafka client: two retries per job, one dead letter.
  std::mutex seen_mu;
  std::vector<queue::Message> retries;
  std::vector<queue::Message> letters;
  const std::string retry_topic = "pixq.jobs.retry";
  auto reader = queue::TableReader::Start(
      {.bootstrap_servers =
           std::string(absl::StripAsciiWhitespace(ReadFile(system.root() + "/kafka.bootstrap")))},
      {retry_topic, "pixq.jobs.dlq"}, [&](const queue::Message& m) {
        std::lock_guard<std::mutex> lock(seen_mu);
        (m.topic == retry_topic ? retries : letters).push_back(m);
      });
  ASSERT_TRUE(reader.ok()) << reader.status();
  ASSERT_TRUE((*reader)->CatchUp(absl::Seconds(20)).ok());
  std::lock_guard<std::mutex> lock(seen_mu);
  std::map<std::string, std::vector<std::string>> attempts;
  for (const queue::Message& m : retries) {
    attempts[m.key].push_back(m.HeaderValue("pixq-attempt").value_or("?"));
    const int64_t not_before = std::stoll(m.HeaderValue("pixq-not-before").value_or("0"));
    EXPECT_GE(not_before, m.timestamp_ms + absl::ToInt64Milliseconds(backoff) - 50)
        << "the not-before time lies a backoff after the failure";
  }
  EXPECT_EQ(attempts[flaky_id], (std::vector<std::string>{"2", "3"}));
  EXPECT_EQ(attempts[down_id], (std::vector<std::string>{"2", "3"}));
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].key, down_id);
  const json letter = json::parse(letters[0].value.value_or("{}"));
  EXPECT_EQ(letter["attempts"], 3);
  EXPECT_EQ(letter["error"]["reason"], "SourceUnavailable");
  EXPECT_EQ(letter["job"]["spec"]["source"]["url"], origin.url() + "/down.jpg");
  const std::string metrics = HttpGet(system.WorkerProbeUrl(0) + "/metrics").body;
  EXPECT_NE(metrics.find("pixq_jobs_dead_lettered_total 1"), std::string::npos) << metrics;
  std::cout << "retry: the flaky origin succeeded on attempt 3 after waits of "
            << absl::FormatDuration(gaps[0]) << " and " << absl::FormatDuration(gaps[1])
            << " (backoff " << absl::FormatDuration(backoff) << "); the dead one went to the DLQ"
            << " after 3 attempts\n";
  RecordFault({.fault = "A source that fails, then works; one that always fails",
               .injected = "a loopback origin answering 503 twice then the image, and one "
                           "answering 503 always (retry.max_attempts 3)",
               .jobs = 2,
               .lost = 0,
               .redeliveries = absl::StrCat(
                   "attempts 2 and 3 of each on pixq.jobs.retry; the dead one on pixq.jobs.dlq "
                   "and Failed (SourceUnavailable)"),
               .recovery = absl::StrCat("the flaky one Succeeded on attempt 3 after waits of ",
                                        Took(gaps[0]), " and ", Took(gaps[1]), " (backoff ",
                                        Took(backoff), ")")});
}

}  // namespace
}  // namespace pixq::testing
