// Expiry against the real processes: `pixq-worker sweep` (as the CronJob runs it) forgets job
// records and removes outputs older than the retention; the API forgets the jobs through the
// tombstones, and the same job asked for again runs again instead of being a cache hit.

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "nlohmann/json.hpp"
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "tests/support/http_client.h"
#include "tests/support/system.h"

namespace pixq::testing {
namespace {

using nlohmann::json;

TEST(RetentionTest, SweepForgetsExpiredJobsAndRemovesTheirOutputs) {
  System system(SystemOptions{.partitions = 2, .workers = 1});
  const std::string url = system.url();
  std::vector<uchar> png;
  cv::imencode(".png", cv::Mat(60, 90, CV_8UC3, cv::Scalar(200, 100, 50)), png);
  HttpResponse upload =
      HttpPost(url + "/v1/images", std::string(png.begin(), png.end()), "image/png");
  ASSERT_EQ(upload.status, 201) << upload.body;
  const std::string image = json::parse(upload.body)["id"];
  auto spec = [&](int width) {
    return json{{"source", {{"imageId", image}}},
                {"steps", json::array({{{"op", "resize"}, {"width", width}}})},
                {"output", {{"format", "png"}}}}
        .dump();
  };
  std::vector<std::string> ids;
  std::vector<std::string> outputs;
  for (int width : {20, 30, 40}) {
    HttpResponse r = HttpPost(url + "/v1/jobs", spec(width), "application/json");
    ASSERT_EQ(r.status, 202) << r.body;
    const json job = AwaitJob(url, json::parse(r.body)["metadata"]["id"], absl::Minutes(1));
    ASSERT_EQ(job["status"]["phase"], "Succeeded") << job.dump();
    ids.push_back(job["metadata"]["id"]);
  }
  auto output_files = [&] {
    std::vector<std::string> files;
    for (const auto& entry :
         std::filesystem::recursive_directory_iterator(system.root() + "/volume/outputs")) {
      if (entry.is_regular_file()) files.push_back(entry.path().string());
    }
    return files;
  };
  outputs = output_files();
  ASSERT_EQ(outputs.size(), 3u);

  // A sweep with the default retention (days) removes nothing.
  {
    auto sweep = Process::Start({BinaryDir() + "/cmd/worker/pixq-worker", "sweep"}, system.Env(),
                                system.root() + "/sweep-default.log");
    const std::optional<int> exit = sweep->Wait(absl::Seconds(120));
    ASSERT_TRUE(exit.has_value() && WIFEXITED(*exit) && WEXITSTATUS(*exit) == 0) << sweep->Log();
    const std::vector<json> done = System::LogLines(*sweep, "sweep done");
    ASSERT_EQ(done.size(), 1u) << sweep->Log();
    EXPECT_EQ(done[0]["job_records_expired"], 0);
    EXPECT_EQ(done[0]["outputs_removed"], 0);
  }

  // A second later, with a retention of one second, everything is expired.
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  std::map<std::string, std::string> env = system.Env();
  env["PIXQ_RETENTION_JOB_RECORDS_S"] = "1";
  env["PIXQ_RETENTION_OUTPUTS_S"] = "1";
  auto sweep = Process::Start({BinaryDir() + "/cmd/worker/pixq-worker", "sweep"}, env,
                              system.root() + "/sweep.log");
  const std::optional<int> exit = sweep->Wait(absl::Seconds(120));
  ASSERT_TRUE(exit.has_value() && WIFEXITED(*exit) && WEXITSTATUS(*exit) == 0) << sweep->Log();
  const std::vector<json> done = System::LogLines(*sweep, "sweep done");
  ASSERT_EQ(done.size(), 1u) << sweep->Log();
  EXPECT_EQ(done[0]["job_records_expired"], 3) << done[0].dump();
  EXPECT_EQ(done[0]["outputs_removed"], 3) << done[0].dump();
  EXPECT_GT(done[0]["bytes_freed"].get<int64_t>(), 0);
  for (const std::string& path : outputs) EXPECT_FALSE(std::filesystem::exists(path)) << path;
  // The original stays: it is the catalogue.
  EXPECT_EQ(HttpGet(url + "/v1/images/" + image).status, 200);

  // The API forgot the jobs (the tombstones reached its tables).
  for (const std::string& id : ids) {
    EXPECT_TRUE(Eventually([&] { return HttpGet(url + "/v1/jobs/" + id).status == 404; },
                           absl::Seconds(20)))
        << id;
  }
  // Asked for again, the same job is real work again, not a cache hit on a removed file.
  HttpResponse again = HttpPost(url + "/v1/jobs", spec(20), "application/json");
  ASSERT_EQ(again.status, 202) << again.body;
  const json job = AwaitJob(url, json::parse(again.body)["metadata"]["id"], absl::Minutes(1));
  EXPECT_EQ(job["status"]["phase"], "Succeeded") << job.dump();
  EXPECT_EQ(job["status"]["cacheHit"], false);
  EXPECT_EQ(output_files().size(), 1u);
}

}  // namespace
}  // namespace pixq::testing
