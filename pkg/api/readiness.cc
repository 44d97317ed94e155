#include "pkg/api/readiness.h"

#include "pkg/errors/errors.h"
#include "pkg/observability/log.h"

namespace pixq::api {

Readiness::Readiness(CatchUpFn catch_up, absl::Duration interval, absl::Duration timeout)
    : catch_up_(std::move(catch_up)),
      interval_(interval),
      timeout_(timeout),
      last_(errors::Unavailable("NotReady", "the state tables are still being loaded")) {}

Readiness::~Readiness() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Readiness::Start() {
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      lock.unlock();
      CheckNow();
      lock.lock();
      stop_cv_.wait_for(lock, absl::ToChronoMilliseconds(interval_), [this] { return stopping_; });
    }
  });
}

void Readiness::CheckNow() {
  absl::Status status = catch_up_(timeout_);
  const bool down = !status.ok() && errors::ReasonOf(status) == "BrokerUnavailable";
  std::lock_guard<std::mutex> lock(mu_);
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
  std::lock_guard<std::mutex> lock(mu_);
  return last_;
}

absl::Status Readiness::Admit() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (broker_down_) {
    return errors::Unavailable("BrokerUnavailable",
                               "Kafka is unreachable; nothing can be accepted until it is back");
  }
  return absl::OkStatus();
}

}  // namespace pixq::api
