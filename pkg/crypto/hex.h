#pragma once

// Lowercase hex of raw digest bytes; internal to pkg/crypto.

#include <cstddef>
#include <string>

namespace pixq::crypto::internal {

inline std::string LowerHex(const unsigned char* bytes, size_t len) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (size_t i = 0; i < len; ++i) {
    out.push_back(kHex[bytes[i] >> 4]);
    out.push_back(kHex[bytes[i] & 0xF]);
  }
  return out;
}

}  // namespace pixq::crypto::internal
