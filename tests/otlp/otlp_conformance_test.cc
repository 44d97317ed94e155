// pixq's OTLP/HTTP JSON exporter (pkg/observability/otlp_exporter.cc) against the official
// OpenTelemetry JS implementation. The receiver (tests/otlp/receiver.mjs, Node.js with the
// OpenTelemetry packages locked in tests/otlp/package-lock.json) listens on 127.0.0.1 and answers
// 400 to any export that the protobuf code generated from the official opentelemetry-proto files,
// or the official JsonTraceSerializer, reads differently from what was meant
// (tests/otlp/conformance.mjs). Our own stand-in collector (tests/support/collector.h) shares our
// reading of the format; this one does not, so a field name, an id encoding, an integer type or a
// layout that exporter and stand-in both get wrong fails here.
//
// First the exporter alone, with every kind of value it writes; then the real pixq-api and
// pixq-worker: an upload and a job under a client's traceparent make one whole trace, accepted
// request by request. The receiver is stopped when the test ends, whatever happens (Process).

#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <unistd.h>

#include "pkg/config/tracing.h"
#include "pkg/fetch/endpoint.h"
#include "pkg/observability/trace.h"
#include "tests/support/collector.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/system.h"

namespace pixq::testing {
namespace {

using nlohmann::json;
namespace obs = pixq::observability;

constexpr char kOtlpDir[] = PIXQ_OTLP_DIR;

// `node` from the PATH, or "" when there is none.
std::string FindNode() {
  const char* path = std::getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path != nullptr ? path : "/usr/bin:/bin", ':')) {
    if (dir.empty()) continue;
    const std::string candidate = absl::StrCat(dir, "/node");
    std::error_code ec;
    if (std::filesystem::is_regular_file(candidate, ec) && access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return "";
}

// Why the official receiver cannot run here ("" when it can).
std::string WhyNoReceiver() {
  if (FindNode().empty()) return "Node.js is not installed (scripts/setup.sh installs nodejs)";
  const std::string package =
      absl::StrCat(kOtlpDir, "/node_modules/@opentelemetry/otlp-transformer/package.json");
  if (!std::filesystem::exists(package)) {
    return absl::StrCat("the OpenTelemetry JS packages are not installed in ", kOtlpDir,
                        "/node_modules (scripts/setup.sh runs `npm ci --prefix tests/otlp`)");
  }
  return "";
}

// tests/otlp/receiver.mjs as a child process on a free port of 127.0.0.1.
class OfficialReceiver final {
 public:
  explicit OfficialReceiver(const TempDir& dir) {
    process_ = Process::Start({FindNode(), absl::StrCat(kOtlpDir, "/receiver.mjs")}, {},
                              dir.path() + "/receiver.log");
    Eventually(
        [&] {
          for (absl::string_view line : absl::StrSplit(process_->Log(), '\n')) {
            const json j = json::parse(line, nullptr, false);
            if (j.is_object() && j.contains("listening")) url_ = j["listening"];
          }
          return !url_.empty() || !process_->Running();
        },
        absl::Seconds(30));
  }

  // "" when it did not start (see log()).
  const std::string& endpoint() const { return url_; }
  std::string log() const { return process_->Log(); }

  // What it received: {requests, accepted, rejected: [{request, errors, body}], spans: [...]}.
  json Received() const {
    HttpResponse r = HttpGet(url_ + "/spans");
    json out = json::parse(r.body, nullptr, false);
    return out.is_object() ? out : json{{"error", r.error}, {"status", r.status}};
  }

  std::vector<ReceivedSpan> Spans() const {
    std::vector<ReceivedSpan> out;
    for (const json& s : Received().value("spans", json::array())) {
      out.push_back({s["service"], s["span"]});
    }
    return out;
  }

 private:
  std::unique_ptr<Process> process_;
  std::string url_;
};

// The AnyValue of attribute `key` (null when absent).
json ValueOf(const json& span, const std::string& key) {
  for (const json& a : span.value("attributes", json::array())) {
    if (a["key"] == key) return a["value"];
  }
  return nullptr;
}

// A 64-bit time, which OTLP/JSON writes as a decimal string or a number.
int64_t Nanos(const json& span, const char* field) {
  const json& value = span.at(field);
  return value.is_string() ? std::stoll(value.get<std::string>()) : value.get<int64_t>();
}

TEST(OtlpConformanceTest, EveryKindOfValueTheExporterWritesIsReadAsMeantByTheOfficialCode) {
  if (const std::string why = WhyNoReceiver(); !why.empty()) GTEST_SKIP() << why;
  TempDir dir;
  OfficialReceiver receiver(dir);
  ASSERT_FALSE(receiver.endpoint().empty()) << receiver.log();

  // Configured as pixq-api and pixq-worker are, from the standard variables.
  const std::map<std::string, std::string> env = {
      {"OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint()},
      {"OTEL_SERVICE_NAME", "pixq-conformance"},
      // A key given twice: OTLP allows each key once, so the last one must win.
      {"OTEL_RESOURCE_ATTRIBUTES",
       "deployment.environment=staging,service.version=1.2.3,deployment.environment=test"},
      {"OTEL_BSP_SCHEDULE_DELAY", "50"},
      {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "3"}};  // several requests
  absl::StatusOr<obs::TracingOptions> options = config::TracingFromEnvironment(env);
  ASSERT_TRUE(options.ok()) << options.status();
  obs::Tracer tracer(*options, obs::MakeOtlpHttpExporter(*options, fetch::PostToEndpoint));

  const auto client =
      obs::ParseTraceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  ASSERT_TRUE(client.has_value());
  obs::Span server = tracer.StartSpan("POST /v1/jobs", obs::SpanKind::kServer, &*client);
  server.SetAttribute("http.route", std::string("/v1/jobs/:id"));
  server.SetAttribute("http.route", std::string("/v1/jobs"));  // set again: the value is replaced
  server.SetAttribute("http.response.status_code", int64_t{202});
  server.SetAttribute("pixq.big", int64_t{9007199254740993});  // 2^53 + 1: no double holds it
  server.SetAttribute("pixq.min", std::numeric_limits<int64_t>::min());
  server.SetAttribute("pixq.ratio", 0.25);
  server.SetAttribute("pixq.whole", 2.0);
  server.SetAttribute("pixq.nan", std::numeric_limits<double>::quiet_NaN());
  server.SetAttribute("pixq.infinity", std::numeric_limits<double>::infinity());
  server.SetAttribute("pixq.minus_infinity", -std::numeric_limits<double>::infinity());
  server.SetAttribute("pixq.cache_hit", false);
  server.SetAttribute("pixq.sure", true);
  server.SetAttribute("pixq.empty", std::string());
  server.SetAttribute("pixq.text", std::string("größe ✓ \"quoted\" back\\slash\nnew line \x01"));
  server.SetAttribute("pixq.not_utf8", std::string("bad \xff\xfe bytes"));
  const obs::SpanContext server_context = server.context();
  const absl::Time t0 = absl::Now();
  obs::Span producer =
      tracer.StartSpan("pixq.jobs publish", obs::SpanKind::kProducer, &server_context, t0);
  producer.SetError("produce timed out");
  producer.End(t0 + absl::Milliseconds(3));
  tracer.StartSpan("webhook", obs::SpanKind::kClient, &server_context).End();
  tracer.StartSpan("pixq.jobs process", obs::SpanKind::kConsumer, &server_context).End();
  tracer.StartSpan("decode", obs::SpanKind::kInternal, &server_context).End();
  tracer.StartSpan("instant", obs::SpanKind::kInternal, &server_context, t0).End(t0);
  server.End();
  obs::Span root = tracer.StartSpan("GET /healthz", obs::SpanKind::kServer, nullptr);
  root.SetError("");  // an error without a message
  root.End();
  tracer.Flush(absl::Seconds(20));

  EXPECT_EQ(tracer.dropped(), 0) << "exports the receiver refused or that failed:\n"
                                 << receiver.Received().dump(2);
  EXPECT_EQ(tracer.exported(), 7);
  const json received = receiver.Received();
  EXPECT_EQ(received["rejected"], json::array()) << received["rejected"].dump(2);
  EXPECT_GE(received["accepted"], 3);
  const std::vector<ReceivedSpan> spans = receiver.Spans();
  ASSERT_EQ(spans.size(), 7u) << received.dump(2);

  std::map<std::string, json> by_name;
  for (const ReceivedSpan& s : spans) {
    EXPECT_EQ(s.service, "pixq-conformance");
    by_name[s.span["name"]] = s.span;
  }
  const json resource = received["spans"][0]["resource"];
  EXPECT_EQ(ValueOf(resource, "deployment.environment"), json({{"stringValue", "test"}}));
  EXPECT_EQ(ValueOf(resource, "service.version"), json({{"stringValue", "1.2.3"}}));
  const json& s = by_name["POST /v1/jobs"];
  EXPECT_EQ(s["traceId"], "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(s["parentSpanId"], "b7ad6b7169203331");
  EXPECT_EQ(s["kind"], 2);
  EXPECT_EQ(ValueOf(s, "http.response.status_code"), json({{"intValue", "202"}}));
  EXPECT_EQ(ValueOf(s, "pixq.big"), json({{"intValue", "9007199254740993"}}));
  EXPECT_EQ(ValueOf(s, "pixq.min"), json({{"intValue", "-9223372036854775808"}}));
  EXPECT_EQ(ValueOf(s, "http.route"), json({{"stringValue", "/v1/jobs"}}));
  EXPECT_EQ(ValueOf(s, "pixq.ratio"), json({{"doubleValue", 0.25}}));
  EXPECT_EQ(ValueOf(s, "pixq.whole"), json({{"doubleValue", 2.0}}));
  EXPECT_EQ(ValueOf(s, "pixq.nan"), json({{"doubleValue", "NaN"}}));
  EXPECT_EQ(ValueOf(s, "pixq.infinity"), json({{"doubleValue", "Infinity"}}));
  EXPECT_EQ(ValueOf(s, "pixq.minus_infinity"), json({{"doubleValue", "-Infinity"}}));
  EXPECT_EQ(ValueOf(s, "pixq.cache_hit"), json({{"boolValue", false}}));
  EXPECT_EQ(ValueOf(s, "pixq.text"),
            json({{"stringValue", "größe ✓ \"quoted\" back\\slash\nnew line \x01"}}));
  EXPECT_EQ(ValueOf(s, "pixq.not_utf8"), json({{"stringValue", "bad \uFFFD\uFFFD bytes"}}))
      << "invalid UTF-8 is replaced, as JSON needs";
  EXPECT_EQ(by_name["pixq.jobs publish"]["kind"], 4);
  EXPECT_EQ(by_name["pixq.jobs publish"]["parentSpanId"], server_context.SpanIdHex());
  EXPECT_EQ(by_name["pixq.jobs publish"]["status"],
            json({{"code", 2}, {"message", "produce timed out"}}));
  EXPECT_EQ(by_name["webhook"]["kind"], 3);
  EXPECT_EQ(by_name["pixq.jobs process"]["kind"], 5);
  EXPECT_EQ(by_name["decode"]["kind"], 1);
  EXPECT_EQ(by_name["instant"]["startTimeUnixNano"], by_name["instant"]["endTimeUnixNano"]);
  EXPECT_FALSE(by_name["GET /healthz"].contains("parentSpanId"));
  EXPECT_EQ(by_name["GET /healthz"]["status"]["code"], 2);
}

std::string Png() {
  cv::Mat image(240, 320, CV_8UC3, cv::Scalar(20, 160, 90));
  std::vector<uchar> png;
  cv::imencode(".png", image, png);
  return std::string(png.begin(), png.end());
}

constexpr char kTraceId[] = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr char kClientSpan[] = "00f067aa0ba902b7";

const ReceivedSpan* Find(const std::vector<ReceivedSpan>& spans, const std::string& name,
                         const std::string& parent) {
  for (const ReceivedSpan& s : spans) {
    if (s.span["name"] == name && s.span.value("parentSpanId", "") == parent) return &s;
  }
  return nullptr;
}

TEST(OtlpConformanceTest, AnUploadAndAJobMakeOneTraceThatTheOfficialReceiverAccepts) {
  if (const std::string why = WhyNoReceiver(); !why.empty()) GTEST_SKIP() << why;
  TempDir dir;
  OfficialReceiver receiver(dir);
  ASSERT_FALSE(receiver.endpoint().empty()) << receiver.log();
  System system(SystemOptions{.partitions = 2,
                              .workers = 1,
                              .env = {{"OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint()},
                                      {"OTEL_BSP_SCHEDULE_DELAY", "200"}}});
  ASSERT_TRUE(Eventually([&] { return system.AllWorkersOwnPartitions(); }, absl::Seconds(60)));

  // One client operation: upload an image, then make a job of it, both under its traceparent.
  const std::map<std::string, std::string> traced = {
      {"traceparent", absl::StrCat("00-", kTraceId, "-", kClientSpan, "-01")}};
  HttpResponse uploaded = HttpPost(system.url() + "/v1/images", Png(), "image/png", traced);
  ASSERT_EQ(uploaded.status, 201) << uploaded.body;
  const json spec = {{"source", {{"imageId", json::parse(uploaded.body)["id"]}}},
                     {"steps", {{{"op", "resize"}, {"width", 160}}, {{"op", "grayscale"}}}},
                     {"output", {{"format", "webp"}}}};
  HttpResponse created =
      HttpPost(system.url() + "/v1/jobs", spec.dump(), "application/json", traced);
  ASSERT_EQ(created.status, 202) << created.body;
  const std::string job_id = json::parse(created.body)["metadata"]["id"];
  ASSERT_EQ(AwaitJob(system.url(), job_id, absl::Seconds(60))["status"]["phase"], "Succeeded");

  // The whole trace, as the official receiver accepted it.
  const std::vector<std::string> worker_stages = {"fetch",     "decode", "resize",
                                                  "grayscale", "encode", "store"};
  std::vector<ReceivedSpan> trace;
  ASSERT_TRUE(Eventually(
      [&] {
        trace.clear();
        std::set<std::string> names;
        for (const ReceivedSpan& s : receiver.Spans()) {
          if (s.span["traceId"] != kTraceId) continue;
          trace.push_back(s);
          names.insert(s.span["name"].get<std::string>());
        }
        for (const char* n :
             {"POST /v1/images", "POST /v1/jobs", "pixq.jobs publish", "pixq.jobs process"}) {
          if (names.count(n) == 0) return false;
        }
        for (const std::string& n : worker_stages) {
          if (names.count(n) == 0) return false;
        }
        return true;
      },
      absl::Seconds(30)))
      << "spans of the trace accepted: " << trace.size() << "\n"
      << receiver.Received().dump(2);

  // Every span of the trace hangs from the client's span, through spans of the trace.
  std::set<std::string> ids = {kClientSpan};
  for (const ReceivedSpan& s : trace) {
    EXPECT_TRUE(ids.insert(s.span["spanId"].get<std::string>()).second)
        << "span id used twice: " << s.span.dump();
  }
  for (const ReceivedSpan& s : trace) {
    EXPECT_EQ(ids.count(s.span.value("parentSpanId", "")), 1u)
        << "a span of the trace whose parent is not in it: " << s.span.dump();
  }

  const ReceivedSpan* upload = Find(trace, "POST /v1/images", kClientSpan);
  ASSERT_NE(upload, nullptr) << "the upload's server span does not continue the client's";
  EXPECT_EQ(upload->service, "pixq-api");
  EXPECT_EQ(upload->span["kind"], 2);
  EXPECT_EQ(ValueOf(upload->span, "http.route"), json({{"stringValue", "/v1/images"}}));
  EXPECT_EQ(ValueOf(upload->span, "http.response.status_code"), json({{"intValue", "201"}}));

  const ReceivedSpan* server = Find(trace, "POST /v1/jobs", kClientSpan);
  ASSERT_NE(server, nullptr) << "the job's server span does not continue the client's";
  EXPECT_EQ(server->service, "pixq-api");
  EXPECT_EQ(server->span["kind"], 2);
  EXPECT_EQ(ValueOf(server->span, "http.request.method"), json({{"stringValue", "POST"}}));
  EXPECT_EQ(ValueOf(server->span, "http.route"), json({{"stringValue", "/v1/jobs"}}));
  EXPECT_EQ(ValueOf(server->span, "http.response.status_code"), json({{"intValue", "202"}}));

  const ReceivedSpan* publish = Find(trace, "pixq.jobs publish", server->span["spanId"]);
  ASSERT_NE(publish, nullptr) << "no producer span under the server span";
  EXPECT_EQ(publish->service, "pixq-api");
  EXPECT_EQ(publish->span["kind"], 4);
  EXPECT_EQ(ValueOf(publish->span, "messaging.system"), json({{"stringValue", "kafka"}}));
  EXPECT_EQ(ValueOf(publish->span, "messaging.destination.name"),
            json({{"stringValue", "pixq.jobs"}}));
  EXPECT_EQ(ValueOf(publish->span, "pixq.job.id"), json({{"stringValue", job_id}}));

  const ReceivedSpan* consume = Find(trace, "pixq.jobs process", publish->span["spanId"]);
  ASSERT_NE(consume, nullptr) << "the worker did not continue the trace from the message headers";
  EXPECT_EQ(consume->service, "pixq-worker");
  EXPECT_EQ(consume->span["kind"], 5);
  EXPECT_EQ(ValueOf(consume->span, "pixq.job.id"), json({{"stringValue", job_id}}));
  EXPECT_EQ(ValueOf(consume->span, "messaging.destination.name"),
            json({{"stringValue", "pixq.jobs"}}));
  EXPECT_TRUE(ValueOf(consume->span, "messaging.kafka.message.offset").contains("intValue"));
  EXPECT_EQ(ValueOf(consume->span, "pixq.attempt"), json({{"intValue", "1"}}));
  EXPECT_EQ(consume->span.value("status", json::object()).value("code", 0), 0);

  // Its children, in the order they ran, within it.
  const std::string consume_id = consume->span["spanId"];
  int64_t previous_end = Nanos(consume->span, "startTimeUnixNano");
  for (const std::string& stage : worker_stages) {
    const ReceivedSpan* child = Find(trace, stage, consume_id);
    ASSERT_NE(child, nullptr) << "no " << stage << " span under the consumer span";
    EXPECT_EQ(child->service, "pixq-worker");
    EXPECT_EQ(child->span["kind"], 1) << stage;
    const int64_t start = Nanos(child->span, "startTimeUnixNano");
    const int64_t end = Nanos(child->span, "endTimeUnixNano");
    EXPECT_LE(previous_end, start) << stage << " started before the stage before it ended";
    EXPECT_LE(end, Nanos(consume->span, "endTimeUnixNano")) << stage << " outlived its parent";
    previous_end = end;
  }

  // Nothing pixq sent was refused: not these spans, nor any other (probes aside, every request
  // to the API has a span, and the worker's consumer spans for other work).
  ASSERT_TRUE(Eventually([&] { return receiver.Received()["requests"] >= 2; }, absl::Seconds(5)));
  const json received = receiver.Received();
  EXPECT_EQ(received["rejected"], json::array()) << received["rejected"].dump(2);
  EXPECT_EQ(received["accepted"], received["requests"]);
}

}  // namespace
}  // namespace pixq::testing
