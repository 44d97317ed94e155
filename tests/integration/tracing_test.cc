// Traces across the real processes: a client's traceparent is continued by pixq-api's server
// span, its producer span is carried to pixq-worker in the Kafka message headers, and the worker's
// consumer span has children for fetch, decode, each step, encode and store. Spans are exported
// over OTLP/HTTP to a collector on loopback. A collector that is not there holds up nothing: jobs
// succeed and the lost spans are counted.

#include <map>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "tests/support/collector.h"
#include "tests/support/http_client.h"
#include "tests/support/system.h"

namespace pixq::testing {
namespace {

using nlohmann::json;

constexpr char kTraceId[] = "0af7651916cd43dd8448eb211c80319c";
constexpr char kClientSpan[] = "b7ad6b7169203331";

std::string UploadPng(const System& system) {
  cv::Mat image(240, 320, CV_8UC3, cv::Scalar(20, 160, 90));
  std::vector<uchar> png;
  cv::imencode(".png", image, png);
  HttpResponse r =
      HttpPost(system.url() + "/v1/images", std::string(png.begin(), png.end()), "image/png");
  EXPECT_EQ(r.status, 201) << r.body;
  return json::parse(r.body)["id"];
}

const ReceivedSpan* Find(const std::vector<ReceivedSpan>& spans, const std::string& name,
                         const std::string& parent) {
  for (const ReceivedSpan& s : spans) {
    if (s.span["name"] == name && s.span.value("parentSpanId", "") == parent) return &s;
  }
  return nullptr;
}

TEST(TracingTest, OneTraceFromTheClientThroughKafkaToEveryWorkerStage) {
  Collector collector;
  System system(SystemOptions{.partitions = 2,
                              .workers = 1,
                              .env = {{"OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint()},
                                      {"OTEL_BSP_SCHEDULE_DELAY", "200"}}});
  ASSERT_TRUE(Eventually([&] { return system.AllWorkersOwnPartitions(); }, absl::Seconds(60)));
  const json spec = {{"source", {{"imageId", UploadPng(system)}}},
                     {"steps", {{{"op", "resize"}, {"width", 160}}, {{"op", "grayscale"}}}},
                     {"output", {{"format", "webp"}}}};
  const std::string traceparent = std::string("00-") + kTraceId + "-" + kClientSpan + "-01";
  HttpResponse created = HttpPost(system.url() + "/v1/jobs", spec.dump(), "application/json",
                                  {{"traceparent", traceparent}});
  ASSERT_EQ(created.status, 202) << created.body;
  const std::string job_id = json::parse(created.body)["metadata"]["id"];
  const json done = AwaitJob(system.url(), job_id, absl::Seconds(60));
  ASSERT_EQ(done["status"]["phase"], "Succeeded");
  // The job's record names its trace, as the console shows it.
  EXPECT_EQ(done["metadata"].value("traceId", ""), kTraceId) << done.dump();

  // The whole trace arrives: the API's two spans and the worker's seven.
  std::vector<ReceivedSpan> trace;
  ASSERT_TRUE(Eventually(
      [&] {
        trace.clear();
        for (const ReceivedSpan& s : collector.Spans()) {
          if (s.span["traceId"] == kTraceId) trace.push_back(s);
        }
        return trace.size() >= 9;
      },
      absl::Seconds(30)))
      << "spans of the trace received: " << trace.size();

  const ReceivedSpan* server = Find(trace, "POST /v1/jobs", kClientSpan);
  ASSERT_NE(server, nullptr) << "no server span continuing the client's";
  EXPECT_EQ(server->service, "pixq-api");
  EXPECT_EQ(server->span["kind"], 2);
  EXPECT_EQ(server->Attribute("http.route"), "/v1/jobs");
  EXPECT_EQ(server->Attribute("http.response.status_code"), "202");

  const ReceivedSpan* publish = Find(trace, "pixq.jobs publish", server->span["spanId"]);
  ASSERT_NE(publish, nullptr) << "no producer span under the server span";
  EXPECT_EQ(publish->span["kind"], 4);
  EXPECT_EQ(publish->Attribute("pixq.job.id"), job_id);

  const ReceivedSpan* consume = Find(trace, "pixq.jobs process", publish->span["spanId"]);
  ASSERT_NE(consume, nullptr) << "the worker did not continue the trace from the message headers";
  EXPECT_EQ(consume->service, "pixq-worker");
  EXPECT_EQ(consume->span["kind"], 5);
  EXPECT_EQ(consume->Attribute("pixq.job.id"), job_id);
  EXPECT_EQ(consume->Attribute("messaging.destination.name"), "pixq.jobs");

  // Its children, in the order they ran.
  const std::string consume_id = consume->span["spanId"];
  int64_t previous_end = 0;
  for (const char* stage : {"fetch", "decode", "resize", "grayscale", "encode", "store"}) {
    const ReceivedSpan* child = Find(trace, stage, consume_id);
    ASSERT_NE(child, nullptr) << "no " << stage << " span under the consumer span";
    const int64_t start = std::stoll(child->span["startTimeUnixNano"].get<std::string>());
    const int64_t end = std::stoll(child->span["endTimeUnixNano"].get<std::string>());
    EXPECT_LE(start, end) << stage;
    EXPECT_LE(previous_end, start) << stage << " started before the stage before it ended";
    previous_end = end;
  }

  // The worker's log lines about the job carry its trace.
  bool logged = false;
  for (const json& line : System::LogLines(system.worker(0), "job succeeded")) {
    if (line.value("job_id", "") != job_id) continue;
    logged = true;
    EXPECT_EQ(line["trace_id"], kTraceId);
    EXPECT_EQ(line["span_id"], consume_id);
  }
  EXPECT_TRUE(logged) << system.worker(0).Log();

  // Without a traceparent the API starts a new trace.
  HttpResponse again = HttpGet(system.url() + "/v1/jobs/" + job_id);
  ASSERT_EQ(again.status, 200);
  ASSERT_TRUE(Eventually(
      [&] {
        for (const ReceivedSpan& s : collector.Spans()) {
          if (s.span["name"] == "GET /v1/jobs/:id") {
            return s.span["traceId"] != kTraceId && !s.span.contains("parentSpanId");
          }
        }
        return false;
      },
      absl::Seconds(30)));
}

TEST(TracingTest, AnAbsentCollectorHoldsUpNothingAndTheLostSpansAreCounted) {
  const int closed = FreeLoopbackPort();  // nothing listens there
  System system(SystemOptions{
      .partitions = 2,
      .workers = 1,
      .env = {{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:" + std::to_string(closed)},
              {"OTEL_BSP_SCHEDULE_DELAY", "100"},
              {"OTEL_EXPORTER_OTLP_TIMEOUT", "500"}}});
  ASSERT_TRUE(Eventually([&] { return system.AllWorkersOwnPartitions(); }, absl::Seconds(60)));
  const std::string image = UploadPng(system);
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) {
    const json spec = {{"source", {{"imageId", image}}},
                       {"steps", {{{"op", "resize"}, {"width", 100 + i}}}}};
    HttpResponse created = HttpPost(system.url() + "/v1/jobs", spec.dump(), "application/json");
    ASSERT_EQ(created.status, 202) << created.body;
    ids.push_back(json::parse(created.body)["metadata"]["id"]);
  }
  for (const std::string& id : ids) {
    EXPECT_EQ(AwaitJob(system.url(), id, absl::Seconds(60))["status"]["phase"], "Succeeded");
  }
  std::string probe;
  ASSERT_TRUE(
      Eventually([&] { return !(probe = system.WorkerProbeUrl(0)).empty(); }, absl::Seconds(30)));
  for (const std::string& url : {system.url(), probe}) {
    std::string text;
    EXPECT_TRUE(Eventually(
        [&] {
          text = HttpGet(url + "/metrics").body;
          const std::string name = "\npixq_trace_spans_dropped_total ";
          const size_t at = text.find(name);
          return at != std::string::npos && std::stod(text.substr(at + name.size())) > 0;
        },
        absl::Seconds(30)))
        << url << "\n"
        << text;
  }
}

}  // namespace
}  // namespace pixq::testing
