#pragma once

// A FakeClock (tests/fakes/fake_clock.h) that also tells which deadlines threads wait for, so that
// a test moves time exactly when the long-poll it started waits for its deadline (AwaitDeadline),
// and not when some other wait does. The server's clock stands still until the test moves it, so
// a poll's deadline is the clock's time when the test sent it, plus its ?wait=. Thread-safe.

#include <set>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "pkg/clock/clock.h"
#include "tests/fakes/fake_clock.h"

namespace pixq::testing {

class DeadlineClock final : public clock::Clock {
 public:
  absl::Time Now() const override { return fake_.Now(); }

  bool AwaitWithDeadline(absl::Mutex& mu, const absl::Condition& cond,
                         absl::Time deadline) override {
    Add(deadline);
    const bool held = fake_.AwaitWithDeadline(mu, cond, deadline);
    Remove(deadline);
    return held;
  }

  void SleepUntil(absl::Time deadline) override {
    Add(deadline);
    fake_.SleepUntil(deadline);
    Remove(deadline);
  }

  void Advance(absl::Duration by) { fake_.Advance(by); }

  // Blocks until a thread waits on this clock for `deadline`.
  void AwaitDeadline(absl::Time deadline) const {
    const auto waited = [this, deadline]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return deadlines_.count(deadline) > 0;
    };
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&waited));
  }

 private:
  void Add(absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    deadlines_.insert(deadline);
  }
  void Remove(absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    deadlines_.erase(deadlines_.find(deadline));
  }

  FakeClock fake_;
  mutable absl::Mutex mu_;
  std::multiset<absl::Time> deadlines_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pixq::testing
