#include "pkg/auth/auth.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

#include "pkg/crypto/hmac.h"
#include "pkg/crypto/sha256.h"
#include "pkg/errors/errors.h"

namespace pixq::auth {

Authenticator::Authenticator(AuthOptions options) : options_(std::move(options)) {}

absl::Status Authenticator::CheckKey(std::optional<std::string_view> authorization,
                                     std::optional<std::string_view> api_key) const {
  if (!options_.enabled) return absl::OkStatus();
  absl::string_view key;
  if (authorization) {
    absl::string_view value = absl::StripAsciiWhitespace(errors::Sv(*authorization));
    if (value.size() > 7 && absl::EqualsIgnoreCase(value.substr(0, 7), "Bearer ")) {
      key = absl::StripAsciiWhitespace(value.substr(7));
    }
  }
  if (key.empty() && api_key) key = absl::StripAsciiWhitespace(errors::Sv(*api_key));
  if (key.empty()) {
    return errors::Make(errors::Reason::kApiKeyMissing,
                        "send an API key as \"Authorization: Bearer <key>\" or \"X-API-Key\"");
  }
  const std::string presented = crypto::Sha256Hex(std::string_view(key.data(), key.size()));
  bool accepted = false;
  // Every configured hash is compared, so the time taken does not say which one came close.
  for (const std::string& hash : options_.api_key_sha256) {
    accepted = crypto::ConstantTimeEquals(presented, hash) || accepted;
  }
  if (!accepted) {
    return errors::Make(errors::Reason::kApiKeyInvalid, "the API key is not accepted");
  }
  return absl::OkStatus();
}

std::string Authenticator::Signature(std::string_view path, std::string_view expires) const {
  return crypto::HmacSha256Hex(options_.signing_key,
                               absl::StrCat(errors::Sv(path), "\n", errors::Sv(expires)));
}

std::string Authenticator::SignPath(std::string_view path, absl::Time now) const {
  if (!signs_urls()) return std::string(path);
  const std::string expires = absl::StrCat(absl::ToUnixSeconds(now + options_.signed_url_ttl));
  return absl::StrCat(errors::Sv(path), absl::StrContains(errors::Sv(path), "?") ? "&" : "?",
                      "expires=", expires, "&signature=", Signature(path, expires));
}

absl::Status Authenticator::CheckSignature(std::string_view path, std::string_view expires,
                                           std::string_view signature, absl::Time now) const {
  if (!signs_urls()) {
    return errors::Make(errors::Reason::kSignatureUnsupported,
                        "this server does not accept signed URLs");
  }
  int64_t expires_s = 0;
  if (!absl::SimpleAtoi(errors::Sv(expires), &expires_s) ||
      !crypto::ConstantTimeEquals(Signature(path, expires),
                                  absl::AsciiStrToLower(errors::Sv(signature)))) {
    return errors::Make(errors::Reason::kSignatureInvalid, "the URL's signature does not match it");
  }
  if (absl::FromUnixSeconds(expires_s) < now) {
    return errors::Make(errors::Reason::kSignatureExpired,
                        "the signed URL has expired; ask the API for a new one");
  }
  return absl::OkStatus();
}

}  // namespace pixq::auth
