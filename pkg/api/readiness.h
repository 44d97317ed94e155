#pragma once

// Whether this API replica can take work, checked in the background so that probes and requests
// never wait on Kafka: every `interval` the state tables are caught up to the log end (a
// ListOffsets round trip to the broker, then the reader reaching those offsets within `timeout`).
//
// Ready() is what /readyz answers: not ready before the first success, while the broker is
// unreachable, or while the tables lag behind the log. Admit() is the backpressure gate before
// producing: while the broker is known unreachable, requests are refused at once (503 with
// Retry-After) instead of each waiting out the produce timeout.

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"

#include "pkg/api/service.h"

namespace pixq::api {

class Readiness final {
 public:
  Readiness(CatchUpFn catch_up, absl::Duration interval, absl::Duration timeout);
  ~Readiness();  // stops the background checks

  // Starts checking every `interval` on a background thread.
  void Start();
  // Runs one check now, on the calling thread.
  void CheckNow();

  // Errors: "NotReady" before the first successful check, "BrokerUnavailable" (503),
  // "CatchUpTimeout" (503) when the tables did not reach the log end within the timeout.
  [[nodiscard]] absl::Status Ready() const;
  // Errors: "BrokerUnavailable" while the last check could not reach the broker.
  [[nodiscard]] absl::Status Admit() const;

 private:
  CatchUpFn catch_up_;
  absl::Duration interval_;
  absl::Duration timeout_;

  mutable std::mutex mu_;
  absl::Status last_;
  bool broker_down_ = false;
  bool stopping_ = false;
  std::condition_variable stop_cv_;
  std::thread thread_;
};

}  // namespace pixq::api
