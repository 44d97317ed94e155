#pragma once

// An in-memory queue::Producer for unit tests: records what was sent, in order, and can be told
// to fail. Thread-safe.

#include <mutex>
#include <vector>

#include "pkg/errors/errors.h"
#include "pkg/queue/producer.h"

namespace pixq::testing {

class FakeProducer final : public queue::Producer {
 public:
  absl::Status Send(const queue::OutgoingMessage& message, absl::Duration) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (fail_topic_ == message.topic || fail_topic_ == "*") {
      return errors::Make(absl::StatusCode::kDeadlineExceeded, "ProduceTimeout", "no ack (fake)");
    }
    sent_.push_back(message);
    return absl::OkStatus();
  }

  void SendAsync(const queue::OutgoingMessage& message, DeliveryCallback done) override {
    done(Send(message, absl::ZeroDuration()));
  }

  absl::Status Flush(absl::Duration) override { return absl::OkStatus(); }

  // Sends to `topic` ("*" for all) fail with ProduceTimeout from now on; "" to stop failing.
  void FailTopic(std::string topic) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_topic_ = std::move(topic);
  }

  std::vector<queue::OutgoingMessage> Sent() const {
    std::lock_guard<std::mutex> lock(mu_);
    return sent_;
  }

  std::vector<queue::OutgoingMessage> SentTo(const std::string& topic) const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<queue::OutgoingMessage> out;
    for (const auto& m : sent_) {
      if (m.topic == topic) out.push_back(m);
    }
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<queue::OutgoingMessage> sent_;
  std::string fail_topic_;
};

}  // namespace pixq::testing
