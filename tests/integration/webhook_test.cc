// Job callbacks against the real processes: a job with a callbackUrl ends with its JSON POSTed to
// a receiver on loopback, signed with HMAC-SHA256 of the body under webhook.secret; a receiver
// that fails first is called again after a backoff; a callback to a denied address is never
// connected to; the call is a "webhook" span in the job's trace.

#include <iostream>
#include <mutex>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "pkg/crypto/hmac.h"
#include "tests/support/collector.h"
#include "tests/support/http_client.h"
#include "tests/support/origin.h"
#include "tests/support/process.h"
#include "tests/support/system.h"

namespace pixq::testing {
namespace {

using nlohmann::json;

constexpr char kSecret[] = "a webhook secret of at least some length";

TEST(WebhookTest, TheFinishedJobIsPostedSignedRetriedAndTraced) {
  std::mutex mu;
  int calls = 0;
  Origin receiver([&](const OriginRequest&) {
    std::lock_guard<std::mutex> lock(mu);
    // The first call fails (a receiver restarting); the second is taken.
    return OriginReply{.status = ++calls == 1 ? 503 : 204};
  });
  Origin denied([](const OriginRequest&) { return OriginReply{.status = 204}; }, "127.0.0.2");
  Collector collector;
  System system(SystemOptions{.partitions = 2,
                              .workers = 1,
                              .env = {{"PIXQ_FETCH_ALLOW", "127.0.0.1"},
                                      {"PIXQ_WEBHOOK_SECRET", kSecret},
                                      {"PIXQ_WEBHOOK_BACKOFF_MS", "300"},
                                      {"OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint()},
                                      {"OTEL_BSP_SCHEDULE_DELAY", "200"}}});
  const std::string api = system.url();
  std::vector<uchar> png;
  cv::imencode(".png", cv::Mat(120, 200, CV_8UC3, cv::Scalar(10, 120, 240)), png);
  HttpResponse upload =
      HttpPost(api + "/v1/images", std::string(png.begin(), png.end()), "image/png");
  ASSERT_EQ(upload.status, 201) << upload.body;
  const std::string image = json::parse(upload.body)["id"];
  auto submit = [&](const std::string& callback, int width) {
    const json spec = {{"source", {{"imageId", image}}},
                       {"steps", json::array({{{"op", "resize"}, {"width", width}}})},
                       {"callbackUrl", callback}};
    HttpResponse r = HttpPost(api + "/v1/jobs", spec.dump(), "application/json");
    EXPECT_EQ(r.status, 202) << r.body;
    return json::parse(r.body)["metadata"]["id"].get<std::string>();
  };
  const std::string id = submit(receiver.url() + "/hooks/pixq?token=abc", 100);
  const std::string denied_id = submit(denied.url() + "/hook", 90);
  ASSERT_EQ(AwaitJob(api, id, absl::Seconds(60))["status"]["phase"], "Succeeded");
  ASSERT_EQ(AwaitJob(api, denied_id, absl::Seconds(60))["status"]["phase"], "Succeeded");

  ASSERT_TRUE(Eventually([&] { return receiver.requests().size() >= 2; }, absl::Seconds(20)))
      << "calls received: " << receiver.requests().size();
  const std::vector<OriginRequest> got = receiver.requests();
  ASSERT_EQ(got.size(), 2u) << "one failed call and one that was taken";
  for (const OriginRequest& call : got) {
    EXPECT_EQ(call.method, "POST");
    EXPECT_EQ(call.target, "/hooks/pixq?token=abc");
    EXPECT_EQ(call.headers.at("content-type"), "application/json");
    EXPECT_EQ(call.headers.at("x-pixq-job-id"), id);
    EXPECT_EQ(call.headers.at("x-pixq-event"), "job.succeeded");
    // The receiver checks the signature with the shared secret.
    EXPECT_EQ(call.headers.at("x-pixq-signature-256"),
              "sha256=" + crypto::HmacSha256Hex(kSecret, call.body));
    const json body = json::parse(call.body);
    EXPECT_EQ(body["metadata"]["id"], id);
    EXPECT_EQ(body["status"]["phase"], "Succeeded");
    EXPECT_EQ(body["status"]["output"]["url"], "/v1/jobs/" + id + "/output");
  }
  EXPECT_EQ(denied.connections(), 0) << "the callback to a denied address was connected to";

  // The call is part of the job's trace: a client span under the worker's consumer span.
  const std::string trace_id = got[1].headers.at("traceparent").substr(3, 32);
  const ReceivedSpan* webhook = nullptr;
  const ReceivedSpan* consume = nullptr;
  ASSERT_TRUE(Eventually(
      [&] {
        static std::vector<ReceivedSpan> spans;
        spans = collector.Spans();
        webhook = consume = nullptr;
        for (const ReceivedSpan& s : spans) {
          if (s.span["traceId"] != trace_id) continue;
          if (s.span["name"] == "webhook") webhook = &s;
          if (s.span["name"] == "pixq.jobs process") consume = &s;
        }
        return webhook != nullptr && consume != nullptr;
      },
      absl::Seconds(20)))
      << "no webhook span in the job's trace";
  EXPECT_EQ(webhook->service, "pixq-worker");
  EXPECT_EQ(webhook->span["kind"], 3);
  EXPECT_EQ(webhook->span["parentSpanId"], consume->span["spanId"]);
  EXPECT_EQ(webhook->Attribute("http.response.status_code"), "204");
  EXPECT_EQ(webhook->Attribute("pixq.attempt"), "2");
  EXPECT_EQ(webhook->Attribute("url.full"), receiver.url() + "/hooks/pixq");

  const std::string metrics = HttpGet(system.WorkerProbeUrl(0) + "/metrics").body;
  EXPECT_NE(metrics.find("pixq_webhook_deliveries_total{result=\"delivered\"} 1"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("pixq_webhook_deliveries_total{result=\"failed\"} 1"), std::string::npos)
      << metrics;
  std::cout << "webhook: delivered on attempt 2 after a 503, signature verified; the denied "
               "callback was not connected to\n";
}

}  // namespace
}  // namespace pixq::testing
