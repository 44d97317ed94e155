#pragma once

// A client::Transport that answers from a function the test gives, and keeps every call it got.
// Thread-safe.

#include <functional>
#include <mutex>
#include <utility>
#include <vector>

#include "pkg/client/transport.h"

namespace pixq::testing {

class FakeTransport final : public client::Transport {
 public:
  using Handler = std::function<absl::StatusOr<client::HttpAnswer>(const client::HttpCall&)>;

  explicit FakeTransport(Handler handler) : handler_(std::move(handler)) {}

  absl::StatusOr<client::HttpAnswer> Send(const client::HttpCall& call) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      calls_.push_back(call);
    }
    return handler_(call);
  }

  std::vector<client::HttpCall> calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  Handler handler_;
  mutable std::mutex mu_;
  std::vector<client::HttpCall> calls_;
};

}  // namespace pixq::testing
