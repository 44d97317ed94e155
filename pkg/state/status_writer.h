#pragma once

// The one writer of pixq.job-status records (key: the job id; value: the job::JobRecord as JSON;
// a tombstone forgets the job), for the API (a job's Pending record, NotAccepted, a delete), the
// worker (Running, Pending with a retry, Succeeded, Failed) and the sweeper (expiry). JobTable
// (tables.h) is the reader of the same topic.
//
// Callers keep their own delivery policy (the worker sends its terminal status until it is
// acknowledged, the API sends without blocking behind its admission gate): Record and Tombstone
// give the message for them; Write, WriteAsync and Forget send it once.
//
// Thread-safe (the producer is).

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

#include "pkg/job/spec.h"
#include "pkg/queue/message.h"
#include "pkg/queue/producer.h"

namespace pixq::state {

class StatusWriter final {
 public:
  StatusWriter(queue::Producer& producer, std::string topic);

  // The record of `record` as it is now / the tombstone that forgets `job_id`.
  [[nodiscard]] queue::OutgoingMessage Record(const job::JobRecord& record) const;
  [[nodiscard]] queue::OutgoingMessage Tombstone(const std::string& job_id) const;

  // Sends the record and waits for the broker's acknowledgement. Errors: the producer's
  // (retriable: "ProduceTimeout", "BrokerUnavailable", "QueueFull").
  [[nodiscard]] absl::Status Write(const job::JobRecord& record, absl::Duration timeout);
  // Sends the record without blocking; `done` runs once with the outcome (Producer::SendAsync).
  void WriteAsync(const job::JobRecord& record, queue::Producer::DeliveryCallback done);
  // Sends the tombstone and waits for the acknowledgement. Errors: as Write.
  [[nodiscard]] absl::Status Forget(const std::string& job_id, absl::Duration timeout);

  [[nodiscard]] const std::string& topic() const { return topic_; }

 private:
  queue::Producer& producer_;
  std::string topic_;
};

}  // namespace pixq::state
