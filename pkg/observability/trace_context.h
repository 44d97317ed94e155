#pragma once

// W3C Trace Context: the ids a span is known by, and the `traceparent` header that carries them
// between processes (HTTP requests, Kafka message headers). Plain values and functions.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

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

// An id of zero bytes only: no id (a root span's parent, say).
[[nodiscard]] bool IsZeroId(std::span<const uint8_t> id);

// "00-<32 hex trace id>-<16 hex span id>-<2 hex flags>". Lowercase hex only; all-zero ids and
// version ff are invalid. Higher versions are read by their first four fields.
[[nodiscard]] std::optional<SpanContext> ParseTraceparent(std::string_view header);
[[nodiscard]] std::string FormatTraceparent(const SpanContext& context);

}  // namespace pixq::observability
