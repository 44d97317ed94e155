#include "pkg/observability/trace.h"

#include <latch>
#include <map>
#include <mutex>
#include <random>
#include <set>

#include "nlohmann/json.hpp"
#include <gtest/gtest.h>

#include "pkg/fetch/endpoint.h"
#include "pkg/observability/log.h"
#include "tests/support/collector.h"
#include "tests/support/process.h"

namespace pixq::observability {
namespace {

using nlohmann::json;

constexpr char kValid[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(TraceparentTest, ParsesAndFormatsTheW3CExample) {
  std::optional<SpanContext> c = ParseTraceparent(kValid);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->TraceIdHex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(c->SpanIdHex(), "00f067aa0ba902b7");
  EXPECT_TRUE(c->sampled);
  EXPECT_EQ(FormatTraceparent(*c), kValid);
  c = ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE(c->sampled);
}

TEST(TraceparentTest, ReadsAFutureVersionByItsFirstFields) {
  EXPECT_TRUE(ParseTraceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later"));
  EXPECT_TRUE(ParseTraceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
}

TEST(TraceparentTest, RejectsWhatW3CCallsInvalid) {
  for (const char* bad : {
           "",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",       // no flags
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",    // uppercase
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",    // zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",    // zero span id
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    // version ff
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",  // v00 with extra
           "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",    // separators
           "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",    // not hex
           "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",   // future, no dash
       }) {
    EXPECT_FALSE(ParseTraceparent(bad).has_value()) << bad;
  }
}

TEST(SamplerTest, ParentBasedFollowsTheParentAndRatioIsStablePerTrace) {
  const SpanContext sampled = *ParseTraceparent(kValid);
  SpanContext unsampled = sampled;
  unsampled.sampled = false;
  const Sampler parent_based{Sampler::Root::kAlwaysOn, true};
  EXPECT_TRUE(parent_based.ShouldSample(sampled.trace_id, &sampled));
  EXPECT_FALSE(parent_based.ShouldSample(unsampled.trace_id, &unsampled));
  EXPECT_TRUE(parent_based.ShouldSample(sampled.trace_id, nullptr));
  const Sampler always_off{Sampler::Root::kAlwaysOff, false};
  EXPECT_FALSE(always_off.ShouldSample(sampled.trace_id, &sampled));

  const Sampler half{Sampler::Root::kRatio, false, 0.5};
  std::mt19937_64 rng(42);
  int taken = 0;
  for (int i = 0; i < 10000; ++i) {
    std::array<uint8_t, 16> id{};
    for (uint8_t& b : id) b = static_cast<uint8_t>(rng());
    const bool decision = half.ShouldSample(id, nullptr);
    EXPECT_EQ(decision, half.ShouldSample(id, nullptr));  // the same for the same trace
    taken += decision;
  }
  EXPECT_GT(taken, 4700);
  EXPECT_LT(taken, 5300);
}

// Keeps what it is given; can be held closed to play a collector that does not answer.
class FakeExporter final : public SpanExporter {
 public:
  absl::Status Export(const std::vector<SpanData>& spans) override {
    gate_.wait();
    std::lock_guard<std::mutex> lock(mu_);
    spans_.insert(spans_.end(), spans.begin(), spans.end());
    return fail_ ? absl::UnavailableError("collector down") : absl::OkStatus();
  }
  std::vector<SpanData> spans() {
    std::lock_guard<std::mutex> lock(mu_);
    return spans_;
  }
  void Open() { gate_.count_down(); }
  explicit FakeExporter(bool open = true, bool fail = false) : fail_(fail) {
    if (open) gate_.count_down();
  }

 private:
  std::latch gate_{1};
  bool fail_;
  std::mutex mu_;
  std::vector<SpanData> spans_;
};

TEST(TracerTest, ChildrenShareTheTraceAndNameTheirParent) {
  auto exporter = std::make_unique<FakeExporter>();
  FakeExporter* fake = exporter.get();
  Tracer tracer(TracingOptions{.service_name = "t"}, std::move(exporter));
  const SpanContext remote = *ParseTraceparent(kValid);
  Span server = tracer.StartSpan("POST /v1/jobs", SpanKind::kServer, &remote);
  EXPECT_EQ(server.context().TraceIdHex(), remote.TraceIdHex());
  EXPECT_NE(server.context().SpanIdHex(), remote.SpanIdHex());
  Span child = tracer.StartSpan("publish", SpanKind::kProducer, &server.context());
  child.SetAttribute("pixq.job.id", std::string("j_1"));
  child.SetError("broker down");
  child.End();
  server.End();
  Span root = tracer.StartSpan("root", SpanKind::kInternal, nullptr);
  EXPECT_NE(root.context().TraceIdHex(), remote.TraceIdHex());
  root.End();
  tracer.Flush(absl::Seconds(10));
  const std::vector<SpanData> spans = fake->spans();
  ASSERT_EQ(spans.size(), 3u);
  EXPECT_EQ(spans[0].name, "publish");
  EXPECT_EQ(spans[0].parent_span_id, server.context().span_id);
  EXPECT_TRUE(spans[0].error);
  EXPECT_EQ(spans[1].parent_span_id, remote.span_id);
  EXPECT_EQ(tracer.exported(), 3);
  EXPECT_EQ(tracer.dropped(), 0);
}

TEST(TracerTest, AnUnsampledOrDisabledTracerRecordsNothingButPropagates) {
  const SpanContext remote = *ParseTraceparent(kValid);
  for (bool disabled : {false, true}) {
    auto exporter = std::make_unique<FakeExporter>();
    FakeExporter* fake = exporter.get();
    TracingOptions options{.enabled = !disabled, .service_name = "t"};
    if (!disabled) options.sampler = {Sampler::Root::kAlwaysOff, false};
    Tracer tracer(options, std::move(exporter));
    Span span = tracer.StartSpan("s", SpanKind::kServer, &remote);
    EXPECT_FALSE(span.recording());
    EXPECT_EQ(span.context().TraceIdHex(), remote.TraceIdHex());
    EXPECT_FALSE(span.context().sampled);
    span.End();
    tracer.Flush(absl::Seconds(5));
    if (!disabled) {
      EXPECT_TRUE(fake->spans().empty());  // (a disabled tracer has already let its exporter go)
    }
  }
}

TEST(TracerTest, DropsAndCountsRatherThanBlockWhenTheCollectorIsStuck) {
  auto exporter = std::make_unique<FakeExporter>(/*open=*/false);
  FakeExporter* fake = exporter.get();
  Tracer tracer(TracingOptions{.service_name = "t", .max_queue = 4, .max_batch = 2},
                std::move(exporter));
  int64_t counted = 0;
  tracer.OnDrop([&counted](int64_t n) { counted += n; });
  // The exporter holds its first batch; the queue fills; every further span is dropped at once.
  for (int i = 0; i < 50; ++i) tracer.StartSpan("s", SpanKind::kInternal, nullptr).End();
  EXPECT_GE(tracer.dropped(), 50 - 4 - 2);
  EXPECT_EQ(counted, tracer.dropped());
  fake->Open();
  tracer.Flush(absl::Seconds(10));
  EXPECT_EQ(tracer.dropped() + tracer.exported(), 50);
  EXPECT_EQ(static_cast<int64_t>(fake->spans().size()), tracer.exported());
}

TEST(TracerTest, AFailedExportIsCountedAsDropped) {
  Tracer tracer(TracingOptions{.service_name = "t"},
                std::make_unique<FakeExporter>(/*open=*/true, /*fail=*/true));
  for (int i = 0; i < 3; ++i) tracer.StartSpan("s", SpanKind::kInternal, nullptr).End();
  tracer.Flush(absl::Seconds(10));
  EXPECT_EQ(tracer.dropped(), 3);
  EXPECT_EQ(tracer.exported(), 0);
}

TEST(OtlpJsonTest, EncodesTheOtlpJsonMapping) {
  TracingOptions options{.service_name = "pixq-api", .resource_attributes = {{"env", "test"}}};
  SpanData s;
  s.name = "decode";
  s.kind = SpanKind::kConsumer;
  s.context = *ParseTraceparent(kValid);
  s.parent_span_id = {1, 2, 3, 4, 5, 6, 7, 8};
  s.start = absl::FromUnixNanos(1700000000123456789);
  s.end = absl::FromUnixNanos(1700000000223456789);
  s.attributes = {{"a.string", std::string("x")},
                  {"a.int", int64_t{9007199254740993}},
                  {"a.double", 0.5},
                  {"a.bool", true}};
  s.error = true;
  s.status_message = "CorruptImage";
  const json doc = json::parse(OtlpJson(options, {s}));
  const json& rs = doc["resourceSpans"][0];
  EXPECT_EQ(rs["resource"]["attributes"][0],
            json::parse(R"({"key":"service.name","value":{"stringValue":"pixq-api"}})"));
  EXPECT_EQ(rs["resource"]["attributes"][1]["key"], "env");
  const json& span = rs["scopeSpans"][0]["spans"][0];
  EXPECT_EQ(span["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(span["spanId"], "00f067aa0ba902b7");
  EXPECT_EQ(span["parentSpanId"], "0102030405060708");
  EXPECT_EQ(span["kind"], 5);
  EXPECT_EQ(span["startTimeUnixNano"], "1700000000123456789");
  EXPECT_EQ(span["endTimeUnixNano"], "1700000000223456789");
  EXPECT_EQ(span["attributes"][1]["value"]["intValue"], "9007199254740993");
  EXPECT_EQ(span["attributes"][2]["value"]["doubleValue"], 0.5);
  EXPECT_EQ(span["attributes"][3]["value"]["boolValue"], true);
  EXPECT_EQ(span["status"]["code"], 2);
  EXPECT_EQ(span["status"]["message"], "CorruptImage");
}

TEST(OtlpHttpExporterTest, PostsToTheCollectorOnLoopback) {
  testing::Collector collector;
  TracingOptions options{.service_name = "pixq-test",
                         .traces_url = collector.endpoint() + "/v1/traces",
                         .headers = {{"x-token", "t"}}};
  {
    Tracer tracer(options, MakeOtlpHttpExporter(options, fetch::PostToEndpoint));
    Span span = tracer.StartSpan("hello", SpanKind::kServer, nullptr);
    span.SetAttribute("http.route", std::string("/v1/jobs"));
    span.End();
    tracer.Flush(absl::Seconds(10));
    EXPECT_EQ(tracer.exported(), 1);
  }
  const std::vector<testing::ReceivedSpan> spans = collector.Spans();
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].service, "pixq-test");
  EXPECT_EQ(spans[0].span["name"], "hello");
  EXPECT_EQ(spans[0].Attribute("http.route"), "/v1/jobs");
  EXPECT_EQ(collector.paths().at(0), "POST /v1/traces");
}

TEST(OtlpHttpExporterTest, AnAbsentCollectorIsAnExportError) {
  const int port = testing::FreeLoopbackPort();  // nothing listens there
  TracingOptions options{.service_name = "t",
                         .traces_url = "http://127.0.0.1:" + std::to_string(port) + "/v1/traces",
                         .export_timeout = absl::Seconds(2)};
  std::unique_ptr<SpanExporter> exporter = MakeOtlpHttpExporter(options, fetch::PostToEndpoint);
  absl::Status s = exporter->Export({SpanData{.name = "x"}});
  EXPECT_FALSE(s.ok());
}

TEST(OtlpHttpExporterTest, PostsJsonWithTheConfiguredHeadersAndFailsOnAnythingButA2xx) {
  TracingOptions options{.service_name = "t",
                         .traces_url = "http://collector:4318/v1/traces",
                         .headers = {{"x-token", "t"}},
                         .export_timeout = absl::Seconds(3)};
  std::vector<std::pair<std::string, std::string>> sent_headers;
  std::string sent_url;
  absl::Duration sent_timeout;
  absl::StatusOr<int> answer = 200;
  std::unique_ptr<SpanExporter> exporter = MakeOtlpHttpExporter(
      options,
      [&](std::string_view url, std::string_view body,
          const std::vector<std::pair<std::string, std::string>>& headers,
          absl::Duration timeout) -> absl::StatusOr<int> {
        sent_url = std::string(url);
        sent_headers = headers;
        sent_timeout = timeout;
        EXPECT_EQ(json::parse(body)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["name"], "x");
        return answer;
      });
  EXPECT_TRUE(exporter->Export({SpanData{.name = "x"}}).ok());
  EXPECT_EQ(sent_url, options.traces_url);
  EXPECT_EQ(sent_timeout, absl::Seconds(3));
  ASSERT_EQ(sent_headers.size(), 2u);
  EXPECT_EQ(sent_headers[0],
            std::make_pair(std::string("Content-Type"), std::string("application/json")));
  EXPECT_EQ(sent_headers[1], std::make_pair(std::string("x-token"), std::string("t")));
  answer = 503;
  absl::Status refused = exporter->Export({SpanData{.name = "x"}});
  EXPECT_EQ(refused.message(), "http://collector:4318/v1/traces answered 503");
  answer = absl::UnavailableError("Couldn't connect to server");
  absl::Status absent = exporter->Export({SpanData{.name = "x"}});
  EXPECT_EQ(absent.message(), "http://collector:4318/v1/traces: Couldn't connect to server");
}

TEST(LogContextTest, AddsItsFieldsToEveryLineWhileItLives) {
  ::testing::internal::CaptureStdout();
  {
    LogContext job({{"job_id", "j_1"}, {"trace_id", "abc"}});
    LogInfo("inside", {{"trace_id", "explicit"}});
  }
  LogInfo("outside");
  const std::string out = ::testing::internal::GetCapturedStdout();
  const size_t newline = out.find('\n');
  const json inside = json::parse(out.substr(0, newline));
  const json outside = json::parse(out.substr(newline + 1));
  EXPECT_EQ(inside["job_id"], "j_1");
  EXPECT_EQ(inside["trace_id"], "explicit");
  EXPECT_FALSE(outside.contains("job_id"));
}

}  // namespace
}  // namespace pixq::observability
