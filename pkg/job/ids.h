#pragma once

// Identifiers and timestamps. Thread-safe.

#include <string>
#include <string_view>

namespace pixq::job {

// A new job id: "j_" followed by a ULID (26 Crockford base32 characters, time-ordered, 80 random
// bits), e.g. "j_01HV3K9Q6Y0S4W7T1F2D5G8B9C". Ids made by one process sort in the order made.
[[nodiscard]] std::string NewJobId();

// Whether `id` has the form NewJobId produces. Only such ids are looked up or logged.
[[nodiscard]] bool IsJobId(std::string_view id);

// Whether `id` is a SHA-256 in lowercase hex (an image id or an output key).
[[nodiscard]] bool IsSha256Hex(std::string_view id);

// The current time in RFC 3339 with milliseconds, UTC: "2026-11-22T10:00:00.123Z".
[[nodiscard]] std::string NowRfc3339();
// The same form for a time given in milliseconds since the Unix epoch.
[[nodiscard]] std::string UnixMillisToRfc3339(int64_t millis);

// Milliseconds since the Unix epoch.
[[nodiscard]] int64_t NowUnixMillis();

// Parses what NowRfc3339 writes (and other RFC 3339 forms); -1 when it cannot.
[[nodiscard]] int64_t Rfc3339ToUnixMillis(std::string_view text);

}  // namespace pixq::job
