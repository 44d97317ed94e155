#pragma once

// Distributed tracing, OpenTelemetry-compatible: W3C trace context (`traceparent`) in and out,
// spans with attributes and status, OTel's samplers, and export over OTLP/HTTP (JSON encoding) in
// a background batch with a bounded queue. opentelemetry-cpp is not in Debian; this is the small
// part of it pixq needs, behind the SpanExporter interface.
//
// Never blocks the caller: ending a span only queues it; when the queue is full (the collector is
// slow or absent) the span is dropped and counted. Configured from the standard OTEL_* variables
// (TracingOptionsFromEnv). Thread-safe.

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "pkg/observability/metrics.h"

namespace pixq::observability {

struct SpanContext {
  std::array<uint8_t, 16> trace_id{};
  std::array<uint8_t, 8> span_id{};
  bool sampled = false;

  // Both ids non-zero, as W3C requires.
  [[nodiscard]] bool valid() const;
  [[nodiscard]] std::string TraceIdHex() const;
  [[nodiscard]] std::string SpanIdHex() const;
};

// W3C Trace Context: "00-<32 hex trace id>-<16 hex span id>-<2 hex flags>". Lowercase hex only;
// all-zero ids and version ff are invalid. Higher versions are read by their first four fields.
[[nodiscard]] std::optional<SpanContext> ParseTraceparent(std::string_view header);
[[nodiscard]] std::string FormatTraceparent(const SpanContext& context);

// OTLP's SpanKind values.
enum class SpanKind { kInternal = 1, kServer = 2, kClient = 3, kProducer = 4, kConsumer = 5 };

using AttributeValue = std::variant<std::string, int64_t, double, bool>;

struct SpanData {
  std::string name;
  SpanKind kind = SpanKind::kInternal;
  SpanContext context;
  std::array<uint8_t, 8> parent_span_id{};  // all zero for a root span
  absl::Time start;
  absl::Time end;
  std::vector<std::pair<std::string, AttributeValue>> attributes;
  bool error = false;
  std::string status_message;
};

// OTEL_TRACES_SAMPLER: always_on, always_off, traceidratio, parentbased_always_on (the default),
// parentbased_always_off, parentbased_traceidratio; OTEL_TRACES_SAMPLER_ARG is the ratio.
struct Sampler {
  enum class Root { kAlwaysOn, kAlwaysOff, kRatio };
  Root root = Root::kAlwaysOn;
  bool parent_based = true;
  double ratio = 1.0;

  // Whether a span of trace `trace_id` with `parent` (null for a root) is recorded and exported.
  [[nodiscard]] bool ShouldSample(const std::array<uint8_t, 16>& trace_id,
                                  const SpanContext* parent) const;
};

struct TracingOptions {
  bool enabled = true;  // false: OTEL_SDK_DISABLED=true; context is still propagated
  std::string service_name;
  std::vector<std::pair<std::string, std::string>> resource_attributes;
  Sampler sampler;
  // The full URL spans are POSTed to; empty: nothing is exported (spans are still propagated).
  std::string traces_url;
  std::vector<std::pair<std::string, std::string>> headers;  // OTEL_EXPORTER_OTLP_HEADERS
  absl::Duration export_timeout = absl::Seconds(10);
  size_t max_queue = 2048;
  size_t max_batch = 512;
  absl::Duration flush_interval = absl::Seconds(1);
};

// Reads OTEL_SDK_DISABLED, OTEL_SERVICE_NAME (default `default_service`),
// OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG), OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT,
// OTEL_EXPORTER_OTLP_(TRACES_)HEADERS, OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT and
// OTEL_BSP_SCHEDULE_DELAY, OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_MAX_EXPORT_BATCH_SIZE.
// Errors: "InvalidConfig" naming the variable.
using GetEnvFn = std::function<std::optional<std::string>(const char*)>;
[[nodiscard]] absl::StatusOr<TracingOptions> TracingOptionsFromEnv(std::string default_service,
                                                                   const GetEnvFn& getenv);
[[nodiscard]] absl::StatusOr<TracingOptions> TracingOptionsFromEnv(std::string default_service);

// Where finished spans go. Export is called from the tracer's one background thread.
class SpanExporter {
 public:
  virtual ~SpanExporter() = default;
  [[nodiscard]] virtual absl::Status Export(const std::vector<SpanData>& spans) = 0;
};

// The OTLP/HTTP JSON body for `spans` (ExportTraceServiceRequest with one resource).
[[nodiscard]] std::string OtlpJson(const TracingOptions& options,
                                   const std::vector<SpanData>& spans);

// POSTs OtlpJson to options.traces_url with libcurl. Errors: "ExportFailed".
[[nodiscard]] std::unique_ptr<SpanExporter> MakeOtlpHttpExporter(const TracingOptions& options);

class Tracer;

// One operation. Move-only; ends itself when destroyed if End was not called. A span that is not
// sampled records nothing but still has a context to propagate.
class Span final {
 public:
  Span() = default;  // a span that does nothing and has an invalid context
  Span(Span&& other) noexcept;
  Span& operator=(Span&& other) noexcept;
  Span(const Span&) = delete;
  Span& operator=(const Span&) = delete;
  ~Span();

  [[nodiscard]] const SpanContext& context() const { return data_.context; }
  [[nodiscard]] bool recording() const { return recording_; }
  // Setting a key that is already set replaces its value.
  void SetAttribute(std::string key, AttributeValue value);
  void SetError(std::string message);
  void End(absl::Time at = absl::Now());

 private:
  friend class Tracer;
  Tracer* tracer_ = nullptr;
  SpanData data_;
  bool recording_ = false;
  bool ended_ = true;
};

class Tracer final {
 public:
  // `exporter` may be null: spans are then propagated but not exported.
  Tracer(TracingOptions options, std::unique_ptr<SpanExporter> exporter);
  ~Tracer();  // exports what is queued (within the export timeout) and stops
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  // A new span; `parent` null or invalid starts a new trace.
  [[nodiscard]] Span StartSpan(std::string name, SpanKind kind, const SpanContext* parent,
                               absl::Time start = absl::Now());

  // Exports what is queued now; returns when done or after `timeout`.
  void Flush(absl::Duration timeout);

  // Spans lost: the queue was full, or their export failed.
  [[nodiscard]] int64_t dropped() const { return dropped_.load(); }
  [[nodiscard]] int64_t exported() const { return exported_.load(); }
  // Called with each number of spans dropped, for a metric.
  void OnDrop(std::function<void(int64_t)> on_drop);

 private:
  friend class Span;
  void Enqueue(SpanData span);
  void Run();

  struct Queue;
  TracingOptions options_;
  std::unique_ptr<SpanExporter> exporter_;
  std::unique_ptr<Queue> queue_;
  std::atomic<int64_t> dropped_{0};
  std::atomic<int64_t> exported_{0};
  absl::Time last_warning_ = absl::InfinitePast();  // the export thread's own
};

// The process's tracer from the OTEL_* variables (TracingOptionsFromEnv), exporting over OTLP/HTTP
// when an endpoint is set and counting dropped spans in `metrics`. Errors: "InvalidConfig".
[[nodiscard]] absl::StatusOr<std::unique_ptr<Tracer>> TracerFromEnv(std::string default_service,
                                                                    Metrics& metrics);

}  // namespace pixq::observability
