#pragma once

// The parameters of the list routes (GET /v1/images, GET /v1/jobs): page sizes, phase filters and
// page tokens. Pure functions; thread-safe.
//
// A page token is opaque to clients: base64url of a small JSON document naming what was listed
// (the route and a fingerprint of its filter) and the position of the last item handed out. The
// next page starts after that position (keyset paging), so items added or deleted meanwhile
// neither repeat nor shift the items that follow. A token only continues the listing it came
// from: with another filter it is refused.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

#include "pkg/job/spec.h"
#include "pkg/state/tables.h"

namespace pixq::api {

inline constexpr int kDefaultPageSize = 50;
inline constexpr int kMaxPageSize = 1000;

// A `limit` query parameter: absent is kDefaultPageSize; over kMaxPageSize is kMaxPageSize (the
// answer says whether more follow). Errors: "InvalidArgument" (400) when it is not an integer of
// at least 1.
[[nodiscard]] absl::StatusOr<int> ParseLimit(const std::optional<std::string>& text);

// A `phase` query parameter: phase names separated by commas ("Pending,Running"), in any case.
// Absent or empty: every phase. Errors: "InvalidArgument" (400) naming the unknown phase.
[[nodiscard]] absl::StatusOr<std::vector<job::Phase>> ParsePhases(
    const std::optional<std::string>& text);

// An `order` query parameter: "asc" (oldest first) or "desc" (newest first), in any case; absent:
// nullopt (ascending, or the order a page token carries). Errors: "InvalidArgument" (400).
[[nodiscard]] absl::StatusOr<std::optional<state::Order>> ParseOrder(
    const std::optional<std::string>& text);

// An `image` query parameter of GET /v1/jobs: an image id (64 lower-case hex digits); absent or
// empty: every image. Errors: "InvalidArgument" (400).
[[nodiscard]] absl::StatusOr<std::string> ParseImageFilter(const std::optional<std::string>& text);

// Where a listing stopped: the last item handed out, and the order it was listed in.
struct PageCursor {
  int64_t created_ms = 0;  // images: createdAt in Unix milliseconds; unused for jobs
  std::string id;
  state::Order order = state::Order::kAscending;
};

// `listing` names the route ("images", "jobs") and `filter` its filter in a canonical form; both
// must be the same when the token is read back. The order travels in the token (written only when
// descending, so tokens of ascending listings read as they did before it existed).
[[nodiscard]] std::string EncodePageToken(std::string_view listing, std::string_view filter,
                                          const PageCursor& cursor);
// Errors: "InvalidPageToken" (400) when the token is not one EncodePageToken wrote, or was written
// for another listing or filter.
[[nodiscard]] absl::StatusOr<PageCursor> DecodePageToken(std::string_view token,
                                                         std::string_view listing,
                                                         std::string_view filter);

}  // namespace pixq::api
