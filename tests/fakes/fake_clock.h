#pragma once

// A clock::Clock that moves only when a test says so. Threads that wait on it (AwaitWithDeadline,
// SleepUntil) are woken by Advance once their deadline has come, and a test can wait, without
// sleeping, until its subject is waiting on the clock (AwaitWaiters) before it moves time.
// Thread-safe.

#include <algorithm>
#include <atomic>
#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "pkg/clock/clock.h"

namespace pixq::testing {

class FakeClock final : public clock::Clock {
 public:
  // Starts at a fixed, ordinary instant (2027-01-15T08:00:00Z), so that outputs are repeatable.
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1'800'000'000)) : now_(start) {}

  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }

  // Moves time forward by `by` (or to `to`) and wakes every waiter whose deadline has come.
  void Advance(absl::Duration by) {
    std::vector<std::shared_ptr<Waiter>> due;
    {
      absl::MutexLock lock(&mu_);
      now_ += by;
      for (const std::shared_ptr<Waiter>& waiter : waiters_) {
        if (waiter->deadline <= now_) {
          waiter->due = true;
          due.push_back(waiter);
        }
      }
    }
    // absl::Mutex evaluates a waiter's condition when its mutex is released: taking and releasing
    // the waiter's own mutex makes it look at `due`. The clock's lock is not held here, so a
    // waiter registering (its mutex held, then the clock's) cannot deadlock with this.
    for (const std::shared_ptr<Waiter>& waiter : due) {
      if (waiter->mu != nullptr) {
        waiter->mu->Lock();
        waiter->mu->Unlock();
      }
    }
  }
  void AdvanceTo(absl::Time to) { Advance(to - Now()); }

  // Blocks until at least `count` threads are waiting on this clock.
  void AwaitWaiters(int count) const {
    const auto enough = [this, count]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return static_cast<int>(waiters_.size()) >= count;
    };
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&enough));
  }

  // How many threads wait on this clock now.
  int waiters() const {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(waiters_.size());
  }

  bool AwaitWithDeadline(absl::Mutex& mu, const absl::Condition& cond,
                         absl::Time deadline) override {
    if (cond.Eval()) return true;
    std::shared_ptr<Waiter> waiter = Register(&mu, deadline);
    if (!waiter->due) {
      const Waiter* self = waiter.get();
      const auto due_or_cond = [self, &cond] { return self->due.load() || cond.Eval(); };
      mu.Await(absl::Condition(&due_or_cond));
    }
    Unregister(waiter);
    return cond.Eval();
  }

  void SleepUntil(absl::Time deadline) override {
    absl::MutexLock lock(&mu_);
    if (now_ >= deadline) return;
    auto waiter = std::make_shared<Waiter>();
    waiter->deadline = deadline;
    waiters_.push_back(waiter);
    const auto due = [&waiter] { return waiter->due.load(); };
    mu_.Await(absl::Condition(&due));
    std::erase(waiters_, waiter);
  }

 private:
  struct Waiter {
    absl::Mutex* mu = nullptr;  // the waiter's own mutex; null for SleepUntil
    absl::Time deadline;
    std::atomic<bool> due{false};
  };

  std::shared_ptr<Waiter> Register(absl::Mutex* mu, absl::Time deadline) {
    auto waiter = std::make_shared<Waiter>();
    waiter->mu = mu;
    waiter->deadline = deadline;
    absl::MutexLock lock(&mu_);
    if (deadline <= now_) waiter->due = true;
    waiters_.push_back(waiter);
    return waiter;
  }
  void Unregister(const std::shared_ptr<Waiter>& waiter) {
    absl::MutexLock lock(&mu_);
    std::erase(waiters_, waiter);
  }

  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<Waiter>> waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pixq::testing
