#pragma once

// Expected failures in pixq are absl::Status values. Each carries, besides its canonical code, a
// stable machine-readable `reason` (e.g. "ImageTooLarge") that clients can branch on and that
// appears in job status and in problem+json bodies. The code decides the HTTP status and whether
// a failure is worth retrying; the reason names what went wrong.

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

// Returns the status from the enclosing function when `expr` is not OK.
#define PIXQ_RETURN_IF_ERROR(expr)                                                   \
  do {                                                                               \
    if (absl::Status _pixq_status = (expr); !_pixq_status.ok()) return _pixq_status; \
  } while (0)

namespace pixq::errors {

// Debian's abseil is built with its own absl::string_view, which std::string_view does not
// convert to implicitly; pixq's interfaces use std::string_view and convert at abseil calls.
inline absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Builds a status with the given code, reason and human-readable message.
[[nodiscard]] absl::Status Make(absl::StatusCode code, std::string_view reason,
                                std::string_view message);

// Shorthands for the common kinds.
[[nodiscard]] absl::Status Invalid(std::string_view reason, std::string_view message);   // 400/422
[[nodiscard]] absl::Status NotFound(std::string_view reason, std::string_view message);  // 404
[[nodiscard]] absl::Status Unavailable(std::string_view reason, std::string_view message);  // 503
[[nodiscard]] absl::Status Internal(std::string_view reason, std::string_view message);     // 500

// The stable reason of a status: the one it was built with, or one derived from its code.
[[nodiscard]] std::string ReasonOf(const absl::Status& status);

// The HTTP status an API answers with for this failure. Reasons may refine the code's default
// (e.g. "PayloadTooLarge" is 413, "UnsupportedMediaType" 415).
[[nodiscard]] int HttpStatusOf(const absl::Status& status);

// Whether trying the same thing again later may succeed (timeouts, unavailable dependencies).
// Everything else is permanent: an undecodable image stays undecodable.
[[nodiscard]] bool IsRetriable(const absl::Status& status);

}  // namespace pixq::errors
