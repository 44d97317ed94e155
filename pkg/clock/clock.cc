#include "pkg/clock/clock.h"

namespace pixq::clock {
namespace {

class SystemClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }

  bool AwaitWithDeadline(absl::Mutex& mu, const absl::Condition& cond,
                         absl::Time deadline) override {
    return mu.AwaitWithDeadline(cond, deadline);
  }

  void SleepUntil(absl::Time deadline) override {
    const absl::Duration left = deadline - absl::Now();
    if (left > absl::ZeroDuration()) absl::SleepFor(left);
  }
};

}  // namespace

Clock& RealClock() {
  static SystemClock* const clock = new SystemClock();  // never destroyed: used until exit
  return *clock;
}

}  // namespace pixq::clock
