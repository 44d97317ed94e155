#pragma once

// A finished span as data, and the interface through which the tracer hands spans on: the
// tracer's one seam to the outside (OtlpHttpExporter in production, a fake in tests).

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

#include "pkg/observability/trace_context.h"

namespace pixq::observability {

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

// Where finished spans go. Export is called from the tracer's one background thread.
class SpanExporter {
 public:
  virtual ~SpanExporter() = default;
  [[nodiscard]] virtual absl::Status Export(const std::vector<SpanData>& spans) = 0;
};

}  // namespace pixq::observability
