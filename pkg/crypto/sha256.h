#pragma once

// SHA-256 over bytes, incrementally or at once, as lowercase hex. Wraps OpenSSL; no other pixq
// library links it. A Sha256 object is not thread-safe; use one per stream.

#include <memory>
#include <string>
#include <string_view>

namespace pixq::crypto {

class Sha256 final {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view bytes);
  // The digest of everything passed to Update, as 64 lowercase hex characters. Call once.
  [[nodiscard]] std::string HexDigest();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

[[nodiscard]] std::string Sha256Hex(std::string_view bytes);

}  // namespace pixq::crypto
