// A Kafka outage while clients submit, against the real processes: the devbroker takes its
// brokers down (connections dropped and refused, data kept, as a real cluster's clients see a
// broker restart) and back up. What was accepted before ends Succeeded; what is asked during the
// outage is refused quickly with 503 and Retry-After; the API recovers without a restart.

#include <csignal>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "tests/support/figures.h"
#include "tests/support/http_client.h"
#include "tests/support/system.h"

namespace pixq::testing {
namespace {

using nlohmann::json;

TEST(OutageTest, AcceptedJobsSurviveABrokerOutageAndRequestsDuringItFailFast) {
  System system(SystemOptions{.partitions = 2, .workers = 2});
  const std::string url = system.url();
  std::vector<uchar> png;
  cv::imencode(".png", cv::Mat(300, 400, CV_8UC3, cv::Scalar(30, 60, 90)), png);
  HttpResponse upload =
      HttpPost(url + "/v1/images", std::string(png.begin(), png.end()), "image/png");
  ASSERT_EQ(upload.status, 201) << upload.body;
  const std::string image = json::parse(upload.body)["id"];
  int width = 100;
  auto submit = [&] {
    const json spec = {{"source", {{"imageId", image}}},
                       {"steps", json::array({{{"op", "resize"}, {"width", width++}}})},
                       {"output", {{"format", "jpeg"}}}};
    return HttpPost(url + "/v1/jobs", spec.dump(), "application/json");
  };

  std::vector<std::string> accepted;
  for (int i = 0; i < 30; ++i) {
    HttpResponse r = submit();
    ASSERT_EQ(r.status, 202) << r.body;
    accepted.push_back(json::parse(r.body)["metadata"]["id"]);
  }

  // The outage begins right behind the last acknowledged job.
  const absl::Time down_at = absl::Now();
  system.broker().Signal(SIGUSR1);
  ASSERT_TRUE(Eventually([&] { return HttpGet(url + "/readyz").status == 503; }, absl::Seconds(30)))
      << system.api().Log();
  const absl::Duration to_unready = absl::Now() - down_at;
  HttpResponse unready = HttpGet(url + "/readyz");
  EXPECT_EQ(json::parse(unready.body, nullptr, false).value("reason", ""), "BrokerUnavailable")
      << unready.body;

  // Requests now are refused at once, with a hint when to come back; none hangs.
  absl::Duration slowest = absl::ZeroDuration();
  for (int i = 0; i < 10; ++i) {
    const absl::Time start = absl::Now();
    HttpResponse r = submit();
    slowest = std::max(slowest, absl::Now() - start);
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(json::parse(r.body, nullptr, false).value("reason", ""), "BrokerUnavailable");
    EXPECT_EQ(r.Header("retry-after"), "1");
  }
  // A valid new image is refused too (its metadata could not be published), and nothing is kept.
  std::vector<uchar> other;
  cv::imencode(".png", cv::Mat(120, 160, CV_8UC3, cv::Scalar(200, 10, 10)), other);
  HttpResponse upload_during =
      HttpPost(url + "/v1/images", std::string(other.begin(), other.end()), "image/png");
  EXPECT_EQ(upload_during.status, 503) << upload_during.body;
  EXPECT_EQ(upload_during.Header("retry-after"), "1");
  // Reads of what is known still work from the API's tables.
  EXPECT_EQ(HttpGet(url + "/v1/jobs/" + accepted.front()).status, 200);
  // Refused by the readiness gate, not after waiting out the produce timeout
  // (kafka.produce_timeout_ms, 5 s by default): well under it even in a sanitized build.
  EXPECT_LT(slowest, absl::Seconds(2));

  std::this_thread::sleep_for(std::chrono::seconds(3));
  const absl::Time up_at = absl::Now();
  system.broker().Signal(SIGUSR2);
  ASSERT_TRUE(Eventually([&] { return HttpGet(url + "/readyz").status == 200; }, absl::Seconds(60)))
      << system.api().Log();
  const absl::Duration to_ready = absl::Now() - up_at;

  // Recovered without a restart: new work is accepted again.
  for (int i = 0; i < 10; ++i) {
    HttpResponse r = submit();
    ASSERT_EQ(r.status, 202) << r.body;
    accepted.push_back(json::parse(r.body)["metadata"]["id"]);
  }
  int lost = 0;
  for (const std::string& id : accepted) {
    const json job = AwaitJob(url, id, absl::Minutes(2));
    if (job["status"]["phase"] != "Succeeded") {
      ++lost;
      ADD_FAILURE() << job.dump();
    }
  }
  const absl::Duration all_done = absl::Now() - up_at;
  EXPECT_EQ(system.api().Wait(absl::ZeroDuration()), std::nullopt) << "the API kept running";
  std::cout << "outage: /readyz false after " << absl::FormatDuration(to_unready)
            << ", slowest refused request " << absl::FormatDuration(slowest) << ", ready again "
            << absl::FormatDuration(to_ready) << " after the brokers returned, " << accepted.size()
            << " accepted jobs all Succeeded\n";
  RecordFault(
      {.fault = "Kafka unreachable while clients submit",
       .injected = "the brokers taken down (connections dropped and refused) for about "
                   "3 s after 30 jobs were accepted, 10 submissions and an upload during "
                   "the outage, 10 more after it",
       .jobs = static_cast<int>(accepted.size()),
       .lost = lost,
       .redeliveries = "requests during the outage: 503 with Retry-After, the slowest "
                       "answered in " +
                       Took(slowest),
       .recovery = absl::StrCat("/readyz false ", Took(to_unready), " into the outage, true again ",
                                Took(to_ready), " after the brokers returned; ",
                                lost == 0 ? "every accepted job" : "the other accepted jobs",
                                " Succeeded ", Took(all_done), " after it")});
}

}  // namespace
}  // namespace pixq::testing
