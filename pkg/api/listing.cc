#include "pkg/api/listing.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"

#include "pkg/crypto/sha256.h"
#include "pkg/errors/errors.h"
#include "pkg/job/ids.h"

namespace pixq::api {
namespace {

using nlohmann::json;

constexpr int kTokenVersion = 1;
constexpr size_t kMaxTokenLength = 1024;

// A short fingerprint of a listing and its filter: tokens stay small whatever the filter is.
std::string Fingerprint(std::string_view listing, std::string_view filter) {
  crypto::Sha256 hash;
  hash.Update(listing);
  hash.Update("\n");
  hash.Update(filter);
  return hash.HexDigest().substr(0, 16);
}

absl::Status BadToken(std::string_view why) {
  return errors::Make(errors::Reason::kInvalidPageToken,
                      absl::StrCat("pageToken: ", errors::Sv(why),
                                   "; use the nextPageToken of the previous page as it is, "
                                   "with the same filter"));
}

}  // namespace

absl::StatusOr<int> ParseLimit(const std::optional<std::string>& text) {
  if (!text) return kDefaultPageSize;
  int64_t limit = 0;
  if (!absl::SimpleAtoi(errors::Sv(*text), &limit) || limit < 1) {
    return errors::Make(errors::Reason::kInvalidArgument,
                        absl::StrCat("limit: must be an integer 1..", kMaxPageSize));
  }
  return static_cast<int>(std::min<int64_t>(limit, kMaxPageSize));
}

absl::StatusOr<std::vector<job::Phase>> ParsePhases(const std::optional<std::string>& text) {
  std::vector<job::Phase> phases;
  if (!text) return phases;
  for (absl::string_view part : absl::StrSplit(errors::Sv(*text), ',', absl::SkipWhitespace())) {
    const std::string name(absl::StripAsciiWhitespace(part));
    std::optional<job::Phase> phase;
    for (job::Phase p : {job::Phase::kPending, job::Phase::kRunning, job::Phase::kSucceeded,
                         job::Phase::kFailed}) {
      if (absl::EqualsIgnoreCase(name, job::PhaseName(p))) phase = p;
    }
    if (!phase) {
      return errors::Make(errors::Reason::kInvalidArgument,
                          absl::StrCat("phase: unknown phase \"", name,
                                       "\"; use Pending, Running, Succeeded or Failed, "
                                       "separated by commas"));
    }
    if (std::find(phases.begin(), phases.end(), *phase) == phases.end()) phases.push_back(*phase);
  }
  std::sort(phases.begin(), phases.end());
  return phases;
}

absl::StatusOr<std::optional<state::Order>> ParseOrder(const std::optional<std::string>& text) {
  if (!text) return std::optional<state::Order>();
  const absl::string_view order = absl::StripAsciiWhitespace(errors::Sv(*text));
  if (absl::EqualsIgnoreCase(order, "asc")) return std::optional(state::Order::kAscending);
  if (absl::EqualsIgnoreCase(order, "desc")) return std::optional(state::Order::kDescending);
  return errors::Make(
      errors::Reason::kInvalidArgument,
      absl::StrCat("order: unknown order \"", order,
                   "\"; use asc (oldest first, the default) or desc (newest first)"));
}

absl::StatusOr<std::string> ParseImageFilter(const std::optional<std::string>& text) {
  if (!text || text->empty()) return std::string();
  if (!job::IsSha256Hex(*text)) {
    return errors::Make(errors::Reason::kInvalidArgument,
                        "image: not an image id (the 64 lower-case hex digits of its sha256)");
  }
  return *text;
}

std::string EncodePageToken(std::string_view listing, std::string_view filter,
                            const PageCursor& cursor) {
  json doc = {{"v", kTokenVersion},
              {"f", Fingerprint(listing, filter)},
              {"t", cursor.created_ms},
              {"i", cursor.id}};
  if (cursor.order == state::Order::kDescending) doc["o"] = "desc";
  return absl::WebSafeBase64Escape(doc.dump());
}

absl::StatusOr<PageCursor> DecodePageToken(std::string_view token, std::string_view listing,
                                           std::string_view filter) {
  std::string text;
  if (token.empty() || token.size() > kMaxTokenLength ||
      !absl::WebSafeBase64Unescape(errors::Sv(token), &text)) {
    return BadToken("not a page token");
  }
  const json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || doc.value("v", 0) != kTokenVersion || !doc.contains("f") ||
      !doc["f"].is_string() || !doc.contains("t") || !doc["t"].is_number_integer() ||
      !doc.contains("i") || !doc["i"].is_string()) {
    return BadToken("not a page token");
  }
  if (doc["f"].get<std::string>() != Fingerprint(listing, filter)) {
    return BadToken("made for another listing or filter");
  }
  state::Order order = state::Order::kAscending;
  if (doc.contains("o")) {
    if (doc["o"] != "desc") return BadToken("not a page token");
    order = state::Order::kDescending;
  }
  return PageCursor{
      .created_ms = doc["t"].get<int64_t>(), .id = doc["i"].get<std::string>(), .order = order};
}

}  // namespace pixq::api
