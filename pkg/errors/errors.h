#pragma once

// Expected failures in pixq are absl::Status values. Each carries, besides its canonical code, a
// stable machine-readable `reason` (e.g. "ImageTooLarge") that clients can branch on and that
// appears in job status and in problem+json bodies. Reasons, their codes, HTTP statuses and retry
// decisions are one table: pkg/errors/reason.h.

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

#include "pkg/errors/reason.h"

// Returns the status from the enclosing function when `expr` is not OK.
#define PIXQ_RETURN_IF_ERROR(expr)                                                   \
  do {                                                                               \
    if (absl::Status _pixq_status = (expr); !_pixq_status.ok()) return _pixq_status; \
  } while (0)

namespace pixq::errors {

// Debian's abseil is built with its own absl::string_view, which std::string_view does not
// convert to implicitly; pixq's interfaces use std::string_view and convert at abseil calls.
inline absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Builds a status for `reason`: its row's code, its name, and the human-readable message.
[[nodiscard]] absl::Status Make(Reason reason, std::string_view message);

// The same failure (code, reason and any other payload, e.g. a Retry-After hint) with another
// message, e.g. one that says where in a batch it happened.
[[nodiscard]] absl::Status WithMessage(const absl::Status& status, std::string_view message);

// A status rebuilt from its parts after it crossed a process boundary (the codec child sends
// code, ReasonOf and message). Not for new failures: those are Make(Reason, message).
[[nodiscard]] absl::Status FromParts(absl::StatusCode code, std::string_view reason,
                                     std::string_view message);

// Whether `status` was built for `reason` (same name and code).
[[nodiscard]] bool Is(const absl::Status& status, Reason reason);

// The stable reason of a status: the one it was built with, or one derived from its code.
[[nodiscard]] std::string ReasonOf(const absl::Status& status);

// The HTTP status an API answers with for this failure: its reason's row, or, for a status not
// built from the table (a (reason, code) pair that is no row), its code's default.
[[nodiscard]] int HttpStatusOf(const absl::Status& status);

// Whether trying the same thing again later may succeed (timeouts, unavailable dependencies): its
// reason's row, or its code's default. Everything else is permanent: an undecodable image stays
// undecodable.
[[nodiscard]] bool IsRetriable(const absl::Status& status);

}  // namespace pixq::errors
