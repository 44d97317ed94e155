#pragma once

// How long a client should wait before sending a refused request again, carried on the failure
// itself, so the layer that decides it (the API's admission, which knows how fast the backlog
// drains) and the layer that answers (pkg/http's Retry-After header) need not know each other.
// A retriable failure without it answers Retry-After: 1.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"

#include "pkg/errors/errors.h"

namespace pixq::errors {

inline constexpr std::string_view kRetryAfterPayload = "type.pixq.dev/retry-after";

// `status` with a hint of `seconds` (at least 1). An OK status stays OK and carries nothing.
[[nodiscard]] inline absl::Status WithRetryAfter(absl::Status status, int64_t seconds) {
  if (status.ok()) return status;
  status.SetPayload(Sv(kRetryAfterPayload), absl::Cord(std::to_string(seconds < 1 ? 1 : seconds)));
  return status;
}

// The hint WithRetryAfter put on `status`, if any.
[[nodiscard]] inline std::optional<int64_t> RetryAfterOf(const absl::Status& status) {
  // absl::optional: Debian's abseil does not alias std::optional.
  const auto payload = status.GetPayload(Sv(kRetryAfterPayload));
  int64_t seconds = 0;
  if (!payload || !absl::SimpleAtoi(std::string(*payload), &seconds) || seconds < 1) {
    return std::nullopt;
  }
  return seconds;
}

}  // namespace pixq::errors
