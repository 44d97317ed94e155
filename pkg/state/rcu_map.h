#pragma once

// A map from string keys to immutable values whose reads take no lock: liburcu's lock-free hash
// table (rculfhash) under read-copy-update. A reader marks a read-side critical section (a
// thread-local counter, no atomic read-modify-write on shared memory), looks the key up and copies
// the value out; a writer publishes a new node and frees the one it replaced only after every
// reader that might still see it has left its critical section. So readers never wait for the
// writer, nor for each other, and no cache line is written by every read.
//
// Thread-safety: every member may be called from any thread at once (the table takes concurrent
// writers too; two Puts of one key leave one of the two). Readers need no registration (the
// "bulletproof" flavour registers a thread on its first read).
//
// Ownership: the map shares each value with whoever handed it in; a replaced or erased value is
// released after a grace period, on liburcu's call_rcu thread. The destructor waits for that.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"

namespace pixq::state {
namespace internal {

// The untyped table behind RcuMap<T>; the only code that includes liburcu.
class RcuTable final {
 public:
  RcuTable();
  ~RcuTable();
  RcuTable(const RcuTable&) = delete;
  RcuTable& operator=(const RcuTable&) = delete;

  void Put(std::string key, std::shared_ptr<const void> value);
  bool Erase(std::string_view key);
  // Calls `read` with the key's value inside a read-side critical section (the value stays alive
  // until `read` returns; `read` must not Put, which may wait for such sections to end); false,
  // without calling it, when the key is absent.
  bool Read(std::string_view key, absl::FunctionRef<void(const void*)> read) const;
  [[nodiscard]] size_t size() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace internal

template <typename T>
class RcuMap final {
 public:
  // Adds the key, or replaces its value. A Put that takes the map past its buckets doubles them
  // before it returns (waiting for a grace period or two); readers never wait for that.
  void Put(std::string key, std::shared_ptr<const T> value) {
    table_.Put(std::move(key), std::move(value));
  }
  // False when the key was absent.
  bool Erase(std::string_view key) { return table_.Erase(key); }
  // A copy of the key's value, made without a lock.
  [[nodiscard]] std::optional<T> Get(std::string_view key) const {
    std::optional<T> out;
    table_.Read(key, [&out](const void* value) { out.emplace(*static_cast<const T*>(value)); });
    return out;
  }
  [[nodiscard]] size_t size() const { return table_.size(); }

 private:
  internal::RcuTable table_;
};

}  // namespace pixq::state
