// Batches, idempotency and dedupe against the real processes: a batch of 200 jobs runs to the end
// and is counted per phase; the same request with the same Idempotency-Key answers the same batch
// and creates nothing; a job spec as YAML; and a second identical job is a cache hit that puts no
// message on pixq.jobs (read back with a Kafka client).

#include <iostream>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "pkg/queue/table_reader.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/system.h"

namespace pixq::testing {
namespace {

using nlohmann::json;

TEST(BatchTest, TwoHundredJobsOnceThoughAskedTwiceAndACacheHitQueuesNothing) {
  System system(SystemOptions{.partitions = 4, .workers = 2});
  const std::string api = system.url();
  std::vector<uchar> png;
  cv::imencode(".png", cv::Mat(300, 400, CV_8UC3, cv::Scalar(30, 140, 200)), png);
  HttpResponse upload =
      HttpPost(api + "/v1/images", std::string(png.begin(), png.end()), "image/png");
  ASSERT_EQ(upload.status, 201) << upload.body;
  const std::string image = json::parse(upload.body)["id"];

  json jobs = json::array();
  for (int i = 0; i < 200; ++i) {
    jobs.push_back({{"source", {{"imageId", image}}},
                    {"steps", json::array({{{"op", "resize"}, {"width", 50 + i}}})},
                    {"output", {{"format", i % 2 == 0 ? "jpeg" : "webp"}}}});
  }
  const std::string body = json{{"jobs", jobs}}.dump();
  const std::map<std::string, std::string> key = {{"Idempotency-Key", "thumbnails-2026-11-23"}};
  const absl::Time start = absl::Now();
  HttpResponse created = HttpPost(api + "/v1/batches", body, "application/json", key);
  const absl::Duration accept_time = absl::Now() - start;
  ASSERT_EQ(created.status, 202) << created.body;
  const json batch = json::parse(created.body);
  const std::string id = batch["metadata"]["id"];
  EXPECT_EQ(created.Header("location"), "/v1/batches/" + id);
  ASSERT_EQ(batch["status"]["jobIds"].size(), 200u);

  // The client did not see the answer and asks again: the same batch, no new jobs.
  HttpResponse repeated = HttpPost(api + "/v1/batches", body, "application/json", key);
  ASSERT_EQ(repeated.status, 202) << repeated.body;
  EXPECT_EQ(json::parse(repeated.body)["metadata"]["id"], id);
  EXPECT_EQ(json::parse(repeated.body)["status"]["jobIds"], batch["status"]["jobIds"]);
  // The same key with another body is refused.
  HttpResponse other =
      HttpPost(api + "/v1/batches", json{{"jobs", {jobs[0]}}}.dump(), "application/json", key);
  EXPECT_EQ(other.status, 422) << other.body;
  EXPECT_EQ(json::parse(other.body)["reason"], "IdempotencyKeyReused");

  json done;
  ASSERT_TRUE(Eventually(
      [&] {
        done = json::parse(HttpGet(api + "/v1/batches/" + id).body, nullptr, false);
        return done.is_object() && done["status"].value("done", false);
      },
      absl::Minutes(5)))
      << done.dump();
  const absl::Duration total = absl::Now() - start;
  EXPECT_EQ(done["status"]["counts"]["Succeeded"], 200) << done.dump();
  EXPECT_EQ(done["status"]["counts"]["Failed"], 0);
  const json one =
      json::parse(HttpGet(api + "/v1/jobs/" + done["status"]["jobIds"][7].get<std::string>()).body);
  EXPECT_EQ(one["metadata"]["batchId"], id);
  EXPECT_EQ(one["metadata"]["batchIndex"], 7);
  EXPECT_EQ(one["status"]["output"]["width"], 57);

  // A job as YAML, twice with the same Idempotency-Key: one job.
  const std::string yaml = "source:\n  imageId: \"" + image +
                           "\"\nsteps:\n  - op: rotate\n    degrees: 90\noutput:\n  format: png\n";
  HttpResponse y1 =
      HttpPost(api + "/v1/jobs", yaml, "application/yaml", {{"Idempotency-Key", "y"}});
  HttpResponse y2 =
      HttpPost(api + "/v1/jobs", yaml, "application/yaml", {{"Idempotency-Key", "y"}});
  ASSERT_EQ(y1.status, 202) << y1.body;
  ASSERT_EQ(y2.status, 202) << y2.body;
  const std::string yaml_job = json::parse(y1.body)["metadata"]["id"];
  EXPECT_EQ(json::parse(y2.body)["metadata"]["id"], yaml_job);
  const json rotated = AwaitJob(api, yaml_job, absl::Seconds(60));
  ASSERT_EQ(rotated["status"]["phase"], "Succeeded") << rotated.dump();
  EXPECT_EQ(rotated["status"]["output"]["width"], 300);

  // The same job without a key: a cache hit, born Succeeded, nothing queued.
  HttpResponse hit = HttpPost(api + "/v1/jobs", yaml, "application/yaml");
  ASSERT_EQ(hit.status, 201) << hit.body;
  const std::string hit_id = json::parse(hit.body)["metadata"]["id"];
  EXPECT_TRUE(json::parse(hit.body)["status"]["cacheHit"].get<bool>());

  std::mutex mu;
  std::set<std::string> queued;
  int messages = 0;
  auto reader = queue::TableReader::Start(
      {.bootstrap_servers =
           std::string(absl::StripAsciiWhitespace(ReadFile(system.root() + "/kafka.bootstrap")))},
      {"pixq.jobs"}, [&](const queue::Message& m) {
        std::lock_guard<std::mutex> lock(mu);
        queued.insert(m.key);
        ++messages;
      });
  ASSERT_TRUE(reader.ok()) << reader.status();
  ASSERT_TRUE((*reader)->CatchUp(absl::Seconds(20)).ok());
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(queued.size(), 201u) << "200 batch jobs and the YAML job";
  EXPECT_EQ(messages, 201) << "each queued once";
  EXPECT_EQ(queued.count(yaml_job), 1u);
  EXPECT_EQ(queued.count(hit_id), 0u) << "the cache hit was queued";
  std::cout << "batch: 200 jobs accepted in " << absl::FormatDuration(accept_time)
            << ", all Succeeded after " << absl::FormatDuration(total)
            << "; the repeated request created nothing; pixq.jobs holds " << queued.size()
            << " messages and not the cache hit\n";
}

}  // namespace
}  // namespace pixq::testing
