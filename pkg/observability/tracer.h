#pragma once

// Distributed tracing, OpenTelemetry-compatible: spans with attributes and status, in traces
// continued from a W3C `traceparent` (trace_context.h), OTel's samplers, and a background batch
// with a bounded queue that hands finished spans to a SpanExporter (otlp_exporter.h in
// production).
//
// Never blocks the caller: ending a span only queues it; when the queue is full (the collector is
// slow or absent) the span is dropped and counted. Configured by a plain TracingOptions
// (pkg/config reads it from the OTEL_* variables). Thread-safe.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"

#include "pkg/observability/span_exporter.h"
#include "pkg/observability/trace_context.h"
#include "pkg/observability/tracing_options.h"

namespace pixq::observability {

class Tracer;

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

}  // namespace pixq::observability
