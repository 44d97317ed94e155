#pragma once

// Who may call pixq-api: API keys, and HMAC-signed output URLs that can be handed on without a
// key (../shared/DESIGN.md, API). Keys are configured only as their SHA-256, so the configuration
// (and a leaked ConfigMap) never holds a usable key; the comparison takes the same time whichever
// configured key a presented one resembles.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace pixq::auth {

struct AuthOptions {
  bool enabled = false;
  std::vector<std::string> api_key_sha256;  // lowercase hex
  std::string signing_key;                  // empty: no signed URLs
  absl::Duration signed_url_ttl = absl::Hours(1);
};

class Authenticator final {
 public:
  explicit Authenticator(AuthOptions options);

  [[nodiscard]] bool enabled() const { return options_.enabled; }
  [[nodiscard]] bool signs_urls() const { return !options_.signing_key.empty(); }

  // Checks the key of a request from its `Authorization` header ("Bearer <key>") or its
  // `X-API-Key` header. OK when auth is off or the key is one of the configured ones.
  // Errors: "ApiKeyMissing" (Unauthenticated, 401) when neither header carries a key,
  // "ApiKeyInvalid" (Unauthenticated, 401) when the key is not accepted.
  [[nodiscard]] absl::Status CheckKey(std::optional<std::string_view> authorization,
                                      std::optional<std::string_view> api_key) const;

  // `path` with `expires` (unix seconds: now + the configured lifetime) and `signature` query
  // parameters appended; `path` unchanged when no signing key is configured.
  [[nodiscard]] std::string SignPath(std::string_view path, absl::Time now) const;

  // Checks a signed path's parameters. Errors (PermissionDenied, 403): "SignatureInvalid" when
  // the signature does not match the path and expiry (tampered, or signed with another key),
  // "SignatureExpired" when `expires` has passed, "SignatureUnsupported" without a signing key.
  [[nodiscard]] absl::Status CheckSignature(std::string_view path, std::string_view expires,
                                            std::string_view signature, absl::Time now) const;

 private:
  std::string Signature(std::string_view path, std::string_view expires) const;

  AuthOptions options_;
};

}  // namespace pixq::auth
