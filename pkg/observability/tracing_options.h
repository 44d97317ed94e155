#pragma once

// What the tracer is told: a plain struct with OpenTelemetry's defaults. pkg/config fills it from
// the standard OTEL_* variables (pkg/config/tracing.h, which names the variable of each field).

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"

namespace pixq::observability {

struct SpanContext;

// always_on, always_off, traceidratio, and each of them parent-based (the default:
// parentbased_always_on).
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
  bool enabled = true;  // false: spans are neither recorded nor exported; context still propagates
  std::string service_name;
  std::vector<std::pair<std::string, std::string>> resource_attributes;
  Sampler sampler;
  // The full URL spans are POSTed to; empty: nothing is exported (spans are still propagated).
  std::string traces_url;
  std::vector<std::pair<std::string, std::string>> headers;  // sent with each export
  absl::Duration export_timeout = absl::Seconds(10);
  size_t max_queue = 2048;
  size_t max_batch = 512;
  absl::Duration flush_interval = absl::Seconds(1);
};

}  // namespace pixq::observability
