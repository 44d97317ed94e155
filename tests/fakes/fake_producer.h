#pragma once

// An in-memory queue::Producer for unit tests: records what was sent, in order, and can be told
// to fail. Thread-safe.

#include <condition_variable>
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
      return errors::Make(errors::Reason::kProduceTimeout, "no ack (fake)");
    }
    sent_.push_back(message);
    sent_cv_.notify_all();
    return absl::OkStatus();
  }

  // Delivers at once, unless held (see Hold): then the message counts as sent and its outcome
  // waits for Release.
  void SendAsync(const queue::OutgoingMessage& message, DeliveryCallback done) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (holding_) {
        sent_.push_back(message);
        sent_cv_.notify_all();
        held_.push_back(std::move(done));
        return;
      }
    }
    done(Send(message, absl::ZeroDuration()));
  }

  // From now on, SendAsync keeps its callbacks, as a broker that has not answered yet.
  void Hold() {
    std::lock_guard<std::mutex> lock(mu_);
    holding_ = true;
  }
  // Acknowledges what was held, on the calling thread, and stops holding.
  void Release() {
    std::vector<DeliveryCallback> held;
    {
      std::lock_guard<std::mutex> lock(mu_);
      holding_ = false;
      held.swap(held_);
    }
    for (DeliveryCallback& done : held) done(absl::OkStatus());
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
    return SentToLocked(topic);
  }

  // Blocks until at least `count` messages were sent to `topic` (held ones count), and returns
  // them.
  std::vector<queue::OutgoingMessage> AwaitSentTo(const std::string& topic, size_t count) const {
    std::unique_lock<std::mutex> lock(mu_);
    sent_cv_.wait(lock, [&] { return SentToLocked(topic).size() >= count; });
    return SentToLocked(topic);
  }

 private:
  std::vector<queue::OutgoingMessage> SentToLocked(const std::string& topic) const {
    std::vector<queue::OutgoingMessage> out;
    for (const auto& m : sent_) {
      if (m.topic == topic) out.push_back(m);
    }
    return out;
  }

  mutable std::mutex mu_;
  mutable std::condition_variable sent_cv_;
  std::vector<queue::OutgoingMessage> sent_;
  std::string fail_topic_;
  bool holding_ = false;
  std::vector<DeliveryCallback> held_;
};

}  // namespace pixq::testing
