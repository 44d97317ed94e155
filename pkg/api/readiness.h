#pragma once

// Whether this API replica can take work, checked in the background so that probes and requests
// never wait on Kafka: every `interval` the state tables are caught up to the log end (a
// ListOffsets round trip to the broker, then the reader reaching those offsets within `timeout`).
//
// Ready() is what /readyz answers: not ready before the first success, while the broker is
// unreachable, or while the tables lag behind the log. Admit() is the backpressure gate before
// producing: while the broker is known unreachable, requests are refused at once (503 with
// Retry-After) instead of each waiting out the produce timeout.

#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "pkg/api/service.h"
#include "pkg/clock/clock.h"

namespace pixq::api {

class Readiness final {
 public:
  // The background checks are `interval` apart on `clock`.
  Readiness(CatchUpFn catch_up, absl::Duration interval, absl::Duration timeout,
            clock::Clock& clock);
  ~Readiness();  // stops the background checks

  // Starts checking every `interval` on a background thread.
  void Start();
  // Runs one check now, on the calling thread.
  void CheckNow();

  // Errors: "NotReady" before the first successful check, "BrokerUnavailable" (503),
  // "CatchUpTimeout" (503) when the tables did not reach the log end within the timeout,
  // "StateStoreFull" (503) while the store cannot take the next batch (full map or disk).
  [[nodiscard]] absl::Status Ready() const;
  // Errors: "BrokerUnavailable" while the last check could not reach the broker.
  [[nodiscard]] absl::Status Admit() const;

 private:
  CatchUpFn catch_up_;
  absl::Duration interval_;
  absl::Duration timeout_;

  clock::Clock& clock_;

  mutable absl::Mutex mu_;
  absl::Status last_ ABSL_GUARDED_BY(mu_);
  bool broker_down_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace pixq::api
