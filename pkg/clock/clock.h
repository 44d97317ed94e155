#pragma once

// What time it is, and waiting for a time: the seam that lets tests move time instead of sleeping.
//
// Everything in pixq that reads the time to decide something (a long-poll's deadline, a retry's
// not-before, a stage's time limit, readiness, the expiry sweep) takes a Clock& in its
// constructor; only main picks RealClock(). Tests pass tests/fakes/fake_clock.h's FakeClock and
// advance it. Timestamps that are only reported (a log line's time) may read absl::Now().
//
// Thread-safety: every method may be called from any thread.

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace pixq::clock {

class Clock {
 public:
  virtual ~Clock() = default;

  // The current time.
  [[nodiscard]] virtual absl::Time Now() const = 0;

  // Like absl::Mutex::AwaitWithDeadline on this clock's time: with `mu` held, releases it until
  // `cond` holds or Now() reaches `deadline`, and returns with `mu` held again and whether `cond`
  // holds. `cond` is evaluated with `mu` held, whenever `mu` is released by another thread.
  virtual bool AwaitWithDeadline(absl::Mutex& mu, const absl::Condition& cond,
                                 absl::Time deadline) = 0;

  // Blocks the calling thread until Now() reaches `deadline`.
  virtual void SleepUntil(absl::Time deadline) = 0;

  void SleepFor(absl::Duration duration) { SleepUntil(Now() + duration); }
};

// The system's clock (absl::Now), shared by the whole process.
[[nodiscard]] Clock& RealClock();

}  // namespace pixq::clock
