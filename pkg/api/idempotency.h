#pragma once

// Idempotency-Key (draft-ietf-httpapi-idempotency-key-header): a client that repeats a request
// with the same key gets the same answer instead of a second job or batch. The key is scoped to
// the caller (a hash of the credentials it sent) and to the kind of request, and remembered with
// a hash of what was asked, so that the same key with another body is refused. The records that
// remember them are the jobs' own (JobRecord::idempotency_key, request_hash); api::Service looks
// them up (FindIdempotent) and claims a key while a request with it is under way (Claim).

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace pixq::api {

// A request as far as its idempotency goes.
struct KeyedRequest {
  std::optional<std::string> idempotency_key;  // the Idempotency-Key header, if sent
  std::string authorization;                   // the caller's credentials as sent: the
  std::string api_key;                         //   Authorization and X-API-Key headers
  std::string content_type;
  std::string_view body;
};

struct Idempotency {
  std::string key;           // "<kind>:<caller>:<Idempotency-Key>"; "" without a key
  std::string request_hash;  // SHA-256 (hex) of the content type and body; "" without a key
};

// The request's key scoped to the caller and to `kind` ("job", "batch"), and the hash of what was
// asked. Errors: "InvalidIdempotencyKey" (400) unless the key is 1 to 255 visible ASCII
// characters.
[[nodiscard]] absl::StatusOr<Idempotency> IdempotencyOf(std::string_view kind,
                                                        const KeyedRequest& request);

}  // namespace pixq::api
