#include "pkg/observability/trace_context.h"

#include "absl/strings/str_cat.h"

#include "pkg/encoding/hex.h"

namespace pixq::observability {

bool IsZeroId(std::span<const uint8_t> id) {
  for (uint8_t b : id) {
    if (b != 0) return false;
  }
  return true;
}

bool SpanContext::valid() const { return !IsZeroId(trace_id) && !IsZeroId(span_id); }
std::string SpanContext::TraceIdHex() const { return encoding::LowerHex(trace_id); }
std::string SpanContext::SpanIdHex() const { return encoding::LowerHex(span_id); }

std::optional<SpanContext> ParseTraceparent(std::string_view header) {
  // version "-" trace-id "-" parent-id "-" flags: 2 + 1 + 32 + 1 + 16 + 1 + 2 = 55
  if (header.size() < 55) return std::nullopt;
  std::array<uint8_t, 1> version{};
  std::array<uint8_t, 1> flags{};
  SpanContext context;
  if (!encoding::ParseLowerHex(header.substr(0, 2), version) || version[0] == 0xFF) {
    return std::nullopt;
  }
  if (version[0] == 0 && header.size() != 55) return std::nullopt;
  if (version[0] != 0 && header.size() > 55 && header[55] != '-') return std::nullopt;
  if (header[2] != '-' || header[35] != '-' || header[52] != '-') return std::nullopt;
  if (!encoding::ParseLowerHex(header.substr(3, 32), context.trace_id) ||
      !encoding::ParseLowerHex(header.substr(36, 16), context.span_id) ||
      !encoding::ParseLowerHex(header.substr(53, 2), flags)) {
    return std::nullopt;
  }
  if (!context.valid()) return std::nullopt;
  context.sampled = (flags[0] & 0x01) != 0;
  return context;
}

std::string FormatTraceparent(const SpanContext& context) {
  return absl::StrCat("00-", context.TraceIdHex(), "-", context.SpanIdHex(),
                      context.sampled ? "-01" : "-00");
}

}  // namespace pixq::observability
