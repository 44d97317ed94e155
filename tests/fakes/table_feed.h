#pragma once

// Feeds what a FakeProducer recorded into the API's tables, as the table reader does with Kafka:
// each record once, in the order it was sent. Thread-safe.

#include <mutex>
#include <optional>
#include <string>

#include "pkg/queue/message.h"
#include "pkg/state/tables.h"
#include "tests/fakes/fake_producer.h"

namespace pixq::testing {

class TableFeed final {
 public:
  TableFeed(const FakeProducer& producer, state::JobTable& jobs, state::ImageTable& images,
            queue::Topics topics = queue::Topics::WithPrefix("pixq."))
      : producer_(producer), jobs_(jobs), images_(images), topics_(std::move(topics)) {}

  // Applies the records sent since the last call.
  void Apply() {
    std::lock_guard<std::mutex> lock(mu_);
    const std::vector<queue::OutgoingMessage> sent = producer_.Sent();
    for (size_t i = applied_; i < sent.size(); ++i) {
      const queue::OutgoingMessage& m = sent[i];
      std::optional<std::string> value;
      if (!m.tombstone) value = m.value;
      if (m.topic == topics_.images) (void)images_.Apply(m.key, value);
      if (m.topic == topics_.job_status) (void)jobs_.Apply(m.key, value);
    }
    applied_ = sent.size();
  }

 private:
  const FakeProducer& producer_;
  state::JobTable& jobs_;
  state::ImageTable& images_;
  const queue::Topics topics_;
  std::mutex mu_;
  size_t applied_ = 0;
};

}  // namespace pixq::testing
