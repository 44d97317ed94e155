#pragma once

// HMAC-SHA256 and a comparison that takes the same time wherever the inputs differ. Wraps
// OpenSSL, like sha256.h.

#include <string>
#include <string_view>

namespace pixq::crypto {

// HMAC-SHA256 of `data` under `key`, as 64 lowercase hex characters.
[[nodiscard]] std::string HmacSha256Hex(std::string_view key, std::string_view data);

// Whether a and b are equal, in time that depends only on their lengths (for secrets).
[[nodiscard]] bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace pixq::crypto
