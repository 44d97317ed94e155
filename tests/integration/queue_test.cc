// GET /v1/queue against the real processes: the lag per partition of pixq.jobs as the workers'
// group committed it, drained once a worker runs, and the worker, the jobs it finished and a
// failure by its reason, as the API saw them in the status records.

#include <csignal>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "tests/support/http_client.h"
#include "tests/support/system.h"

namespace pixq::testing {
namespace {

using nlohmann::json;

json Queue(const System& system) {
  HttpResponse r = HttpGet(system.url() + "/v1/queue");
  EXPECT_EQ(r.status, 200) << r.body;
  json body = json::parse(r.body, nullptr, false);
  return body.is_discarded() ? json::object() : body;
}

TEST(QueueTest, ShowsTheLagUntilAWorkerDrainsItThenTheWorkerAndWhatItFinished) {
  System system(SystemOptions{.partitions = 2, .workers = 0});
  cv::Mat image(240, 320, CV_8UC3, cv::Scalar(20, 160, 90));
  std::vector<uchar> png;
  cv::imencode(".png", image, png);
  HttpResponse uploaded =
      HttpPost(system.url() + "/v1/images", std::string(png.begin(), png.end()), "image/png");
  ASSERT_EQ(uploaded.status, 201) << uploaded.body;
  const std::string image_id = json::parse(uploaded.body)["id"];

  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    const json spec = {{"source", {{"imageId", image_id}}},
                       {"steps", {{{"op", "resize"}, {"width", 100 + i}}}}};
    HttpResponse created = HttpPost(system.url() + "/v1/jobs", spec.dump(), "application/json");
    ASSERT_EQ(created.status, 202) << created.body;
    ids.push_back(json::parse(created.body)["metadata"]["id"]);
  }
  // A box entirely outside the image: the worker fails it (InvalidCrop).
  const json outside = {
      {"source", {{"imageId", image_id}}},
      {"steps", {{{"op", "crop"}, {"x", 1000}, {"y", 1000}, {"width", 10}, {"height", 10}}}}};
  HttpResponse failing = HttpPost(system.url() + "/v1/jobs", outside.dump(), "application/json");
  ASSERT_EQ(failing.status, 202) << failing.body;
  ids.push_back(json::parse(failing.body)["metadata"]["id"]);

  // No worker yet: every job waits, and nobody committed.
  json queue = Queue(system);
  EXPECT_EQ(queue["group"]["id"], "pixq-workers");
  EXPECT_EQ(queue["group"]["topic"], "pixq.jobs");
  ASSERT_EQ(queue["partitions"].size(), 2u) << queue.dump();
  EXPECT_EQ(queue["lag"], 4) << queue.dump();
  for (const json& p : queue["partitions"]) EXPECT_TRUE(p["committed"].is_null()) << p.dump();
  // The local broker cannot describe the group; a real one would list no member.
  if (queue["group"]["members"].is_null()) {
    EXPECT_NE(queue["group"].value("membersUnknown", ""), "") << queue.dump();
  } else {
    EXPECT_TRUE(queue["group"]["members"].empty()) << queue.dump();
  }
  EXPECT_TRUE(queue["workers"].empty()) << queue.dump();
  EXPECT_EQ(queue["finished"]["succeeded"], 0);

  system.AddWorker();
  for (const std::string& id : ids) {
    const std::string phase = AwaitJob(system.url(), id, absl::Seconds(60))["status"]["phase"];
    EXPECT_EQ(phase, id == ids.back() ? "Failed" : "Succeeded") << id;
  }
  // The worker commits what it finished within its commit interval.
  ASSERT_TRUE(Eventually(
      [&] {
        queue = Queue(system);
        return queue["lag"] == 0;
      },
      absl::Seconds(30)))
      << queue.dump() << system.api().Log();
  int64_t committed = 0;
  for (const json& p : queue["partitions"]) {
    EXPECT_EQ(p["committed"], p["logEnd"]) << p.dump();
    committed += p["committed"].is_number() ? p["committed"].get<int64_t>() : 0;
  }
  EXPECT_EQ(committed, 4);
  ASSERT_EQ(queue["workers"].size(), 1u) << queue.dump();
  EXPECT_EQ(queue["workers"][0]["name"], "worker-1");
  EXPECT_EQ(queue["workers"][0]["finished"], 4);
  EXPECT_EQ(queue["finished"]["succeeded"], 3);
  EXPECT_EQ(queue["finished"]["failed"], 1);
  EXPECT_GT(queue["finished"]["perSecond"].get<double>(), 0);
  ASSERT_EQ(queue["failures"].size(), 1u) << queue.dump();
  EXPECT_EQ(queue["failures"][0]["reason"], "InvalidCrop");
  EXPECT_EQ(queue["failures"][0]["count"], 1);
  if (!queue["group"]["members"].is_null()) {
    ASSERT_EQ(queue["group"]["members"].size(), 1u) << queue.dump();
    EXPECT_EQ(queue["group"]["members"][0]["clientId"], "pixq-worker-worker-1");
  }
}

TEST(QueueTest, AnswersServiceUnavailableWithAReasonWhenKafkaIsGone) {
  System system(SystemOptions{.partitions = 1, .workers = 0});
  EXPECT_EQ(HttpGet(system.url() + "/v1/queue").status, 200);
  // The devbroker takes its brokers down (outage_test.cc); the API notices within seconds.
  system.broker().Signal(SIGUSR1);
  ASSERT_TRUE(Eventually([&] { return HttpGet(system.url() + "/readyz").status == 503; },
                         absl::Seconds(30)));
  HttpResponse r = HttpGet(system.url() + "/v1/queue");
  EXPECT_EQ(r.status, 503) << r.body;
  const json problem = json::parse(r.body, nullptr, false);
  ASSERT_FALSE(problem.is_discarded()) << r.body;
  EXPECT_EQ(problem["reason"], "BrokerUnavailable") << r.body;
  EXPECT_FALSE(r.Header("retry-after").empty());
}

}  // namespace
}  // namespace pixq::testing
