#pragma once

// Sending records with the broker's acknowledgement. Producers are idempotent with acks=all, so a
// record acknowledged once is in the log exactly once, in order per partition.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "pkg/queue/message.h"

namespace pixq::queue {

// The seam the API and the workers send through. Implementations are thread-safe.
class Producer {
 public:
  using DeliveryCallback = std::function<void(absl::Status)>;

  virtual ~Producer() = default;

  // Sends and blocks until the broker acknowledged the record or `timeout` passed.
  // Errors (retriable): reason "ProduceTimeout" (kDeadlineExceeded) when no acknowledgement came in
  // time, "BrokerUnavailable" (kUnavailable) when the client cannot send at all, "QueueFull"
  // (kResourceExhausted) when the local send queue is full.
  [[nodiscard]] virtual absl::Status Send(const OutgoingMessage& message,
                                          absl::Duration timeout) = 0;

  // Sends without blocking; `done` runs once with the outcome: on the producer's thread, or on
  // the caller's when the record cannot even be queued.
  virtual void SendAsync(const OutgoingMessage& message, DeliveryCallback done) = 0;

  // Waits until every record handed over so far is acknowledged or failed.
  [[nodiscard]] virtual absl::Status Flush(absl::Duration timeout) = 0;
};

// librdkafka's producer with enable.idempotence=true and acks=all; message.timeout.ms bounds how
// long a record may wait for the broker.
class KafkaProducer final : public Producer {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<KafkaProducer>> Create(
      const ClientOptions& options, absl::Duration message_timeout);
  ~KafkaProducer() override;

  absl::Status Send(const OutgoingMessage& message, absl::Duration timeout) override;
  void SendAsync(const OutgoingMessage& message, DeliveryCallback done) override;
  absl::Status Flush(absl::Duration timeout) override;

  // Looks up the partitions and leaders of `topics` now, so that the first record to each is sent
  // at once: without it librdkafka holds a record for a topic it has not produced to yet until
  // its periodic topic scan (each second) asks for the topic's metadata. Call once, before the
  // first send. Errors: what fetching the metadata returned (the topic does not exist, no broker);
  // sending works without it, only later.
  [[nodiscard]] absl::Status Prepare(const std::vector<std::string>& topics,
                                     absl::Duration timeout);

  struct Impl;

 private:
  explicit KafkaProducer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pixq::queue
