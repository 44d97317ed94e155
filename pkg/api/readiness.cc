#include "pkg/api/readiness.h"

#include "pkg/errors/errors.h"
#include "pkg/observability/log.h"

namespace pixq::api {

Readiness::Readiness(CatchUpFn catch_up, absl::Duration interval, absl::Duration timeout,
                     clock::Clock& clock)
    : catch_up_(std::move(catch_up)),
      interval_(interval),
      timeout_(timeout),
      clock_(clock),
      last_(errors::Make(errors::Reason::kNotReady, "the state tables are still being loaded")) {}

Readiness::~Readiness() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void Readiness::Start() {
  thread_ = std::thread([this] {
    const auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        if (stopping_) return;
      }
      CheckNow();
      absl::MutexLock lock(&mu_);
      if (clock_.AwaitWithDeadline(mu_, absl::Condition(&stopping), clock_.Now() + interval_)) {
        return;
      }
    }
  });
}

void Readiness::CheckNow() {
  absl::Status status = catch_up_(timeout_);
  const bool down = !status.ok() && errors::ReasonOf(status) == "BrokerUnavailable";
  absl::MutexLock lock(&mu_);
  if (status.ok() != last_.ok() || down != broker_down_) {
    if (status.ok()) {
      observability::LogInfo("ready", {});
    } else {
      observability::LogWarn("not ready", {{"reason", errors::ReasonOf(status)},
                                           {"error", std::string(status.message())}});
    }
  }
  last_ = std::move(status);
  broker_down_ = down;
}

absl::Status Readiness::Ready() const {
  absl::MutexLock lock(&mu_);
  return last_;
}

absl::Status Readiness::Admit() const {
  absl::MutexLock lock(&mu_);
  if (broker_down_) {
    return errors::Make(errors::Reason::kBrokerUnavailable,
                        "Kafka is unreachable; nothing can be accepted until it is back");
  }
  return absl::OkStatus();
}

}  // namespace pixq::api
