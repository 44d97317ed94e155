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

std::string EncodePageToken(std::string_view listing, std::string_view filter,
                            const PageCursor& cursor) {
  const json doc = {{"v", kTokenVersion},
                    {"f", Fingerprint(listing, filter)},
                    {"t", cursor.created_ms},
                    {"i", cursor.id}};
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
  return PageCursor{.created_ms = doc["t"].get<int64_t>(), .id = doc["i"].get<std::string>()};
}

}  // namespace pixq::api
