#include "pkg/api/idempotency.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

#include "pkg/api/service.h"
#include "pkg/crypto/sha256.h"
#include "pkg/errors/errors.h"
#include "pkg/job/ids.h"
#include "pkg/job/json.h"

namespace pixq::api {

absl::StatusOr<Idempotency> IdempotencyOf(std::string_view kind, const KeyedRequest& request) {
  const std::optional<std::string>& key = request.idempotency_key;
  if (!key) return Idempotency();
  if (key->empty() || key->size() > 255 ||
      !std::all_of(key->begin(), key->end(), [](char c) { return c > 32 && c < 127; })) {
    return errors::Make(errors::Reason::kInvalidIdempotencyKey,
                        "Idempotency-Key must be 1 to 255 visible ASCII characters");
  }
  const std::string caller =
      crypto::Sha256Hex(absl::StrCat(request.authorization, "\n", request.api_key)).substr(0, 16);
  // The request's fingerprint, hashed in place: a batch's body may hold its images.
  crypto::Sha256 fingerprint;
  fingerprint.Update(request.content_type);
  fingerprint.Update("\n");
  fingerprint.Update(request.body);
  return Idempotency{.key = absl::StrCat(errors::Sv(kind), ":", caller, ":", *key),
                     .request_hash = fingerprint.HexDigest()};
}

absl::StatusOr<std::optional<job::JobRecord>> Service::FindIdempotent(
    const std::string& key, const std::string& request_hash) {
  // Another replica may have taken the first request.
  absl::StatusOr<std::optional<job::JobRecord>> found =
      LookCatchingUp([&] { return jobs_.FindByIdempotencyKey(key); });
  if (!found.ok()) return found.status();
  if (*found && (*found)->request_hash != request_hash) {
    return errors::Make(errors::Reason::kIdempotencyKeyReused,
                        "this Idempotency-Key was used with another request body");
  }
  if (*found) {
    absl::StatusOr<bool> kept = RequeueIfStranded(**found);
    if (!kept.ok()) return kept.status();
    if (!*kept) return std::optional<job::JobRecord>();
  }
  return found;
}

absl::StatusOr<bool> Service::RequeueIfStranded(const job::JobRecord& record) {
  // Its first request was answered 503: it was never accepted, so it is made anew.
  if (record.status.phase == job::Phase::kFailed && record.status.reason == "NotAccepted") {
    return false;
  }
  // Not started long after it was created: perhaps queued behind others, perhaps never queued
  // (the first request failed between its status and its job, and the NotAccepted record was
  // lost too). Queue it again; a job delivered twice finds its output and does nothing more.
  // A repeat within twice the produce timeout finds the first request's outcome settled.
  const int64_t created = job::Rfc3339ToUnixMillis(record.created_at);
  const bool stale =
      created > 0 && absl::FromUnixMillis(created) + 2 * options_.produce_timeout < clock_.Now();
  if (record.status.phase == job::Phase::kPending && record.status.attempts == 0 &&
      !record.status.cache_hit && stale) {
    PIXQ_RETURN_IF_ERROR(Send({.topic = options_.topics.jobs,
                               .key = record.id,
                               .value = job::ToJson(record).dump(),
                               .headers = {{"pixq-attempt", "1"}}}));
  }
  return true;
}

Service::KeyGuard::~KeyGuard() {
  std::lock_guard<std::mutex> lock(service_.claims_mu_);
  service_.claims_.erase(key_);
}

absl::StatusOr<std::unique_ptr<Service::KeyGuard>> Service::Claim(const std::string& key) {
  if (key.empty()) return std::unique_ptr<KeyGuard>();
  std::lock_guard<std::mutex> lock(claims_mu_);
  if (!claims_.insert(key).second) {
    return errors::Make(errors::Reason::kIdempotencyKeyInUse,
                        "a request with this Idempotency-Key is under way; try again shortly");
  }
  return std::make_unique<KeyGuard>(*this, key);
}

}  // namespace pixq::api
