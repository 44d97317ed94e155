#pragma once

// Hexadecimal text of bytes, lowercase: digests, HMACs and trace ids are written this way. Plain
// functions, no state.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace pixq::encoding {

// Two lowercase hex digits per byte.
[[nodiscard]] std::string LowerHex(std::span<const uint8_t> bytes);

// Fills `out` from exactly 2 × out.size() lowercase hex digits. False (and `out` unspecified) for
// any other length, or any other character, uppercase digits included (W3C trace context refuses
// them).
[[nodiscard]] bool ParseLowerHex(std::string_view text, std::span<uint8_t> out);

// Whether `text` is `digits` lowercase hex digits, e.g. a SHA-256 of 64.
[[nodiscard]] bool IsLowerHex(std::string_view text, size_t digits);

}  // namespace pixq::encoding
