#include "pkg/clock/clock.h"

#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

#include "tests/fakes/fake_clock.h"

namespace pixq::clock {
namespace {

using ::pixq::testing::FakeClock;

TEST(RealClockTest, AwaitWithDeadlineReturnsAtOnceWhenTheConditionHolds) {
  absl::Mutex mu;
  bool ready = true;
  absl::MutexLock lock(&mu);
  EXPECT_TRUE(RealClock().AwaitWithDeadline(mu, absl::Condition(&ready), absl::InfiniteFuture()));
}

TEST(RealClockTest, AwaitWithDeadlineGivesUpAtAPastDeadline) {
  absl::Mutex mu;
  bool ready = false;
  absl::MutexLock lock(&mu);
  EXPECT_FALSE(RealClock().AwaitWithDeadline(mu, absl::Condition(&ready), absl::InfinitePast()));
}

TEST(FakeClockTest, MovesOnlyWhenAdvanced) {
  FakeClock clock;
  const absl::Time start = clock.Now();
  EXPECT_EQ(clock.Now(), start);
  clock.Advance(absl::Seconds(3));
  EXPECT_EQ(clock.Now(), start + absl::Seconds(3));
}

TEST(FakeClockTest, WakesAnAwaiterWhenItsDeadlineComes) {
  FakeClock clock;
  absl::Mutex mu;
  bool ready = false;
  bool result = true;
  std::thread waiter([&] {
    absl::MutexLock lock(&mu);
    result = clock.AwaitWithDeadline(mu, absl::Condition(&ready), clock.Now() + absl::Seconds(10));
  });
  clock.AwaitWaiters(1);
  clock.Advance(absl::Seconds(9));
  EXPECT_EQ(clock.waiters(), 1) << "woken before its deadline";
  clock.Advance(absl::Seconds(1));
  waiter.join();
  EXPECT_FALSE(result);
}

TEST(FakeClockTest, AnAwaiterReturnsWhenItsConditionTurnsTrue) {
  FakeClock clock;
  absl::Mutex mu;
  bool ready = false;
  bool result = false;
  std::thread waiter([&] {
    absl::MutexLock lock(&mu);
    result = clock.AwaitWithDeadline(mu, absl::Condition(&ready), absl::InfiniteFuture());
  });
  clock.AwaitWaiters(1);
  {
    absl::MutexLock lock(&mu);
    ready = true;
  }
  waiter.join();
  EXPECT_TRUE(result);
  EXPECT_EQ(clock.waiters(), 0);
}

TEST(FakeClockTest, SleepUntilReturnsOnceTimeHasCome) {
  FakeClock clock;
  const absl::Time until = clock.Now() + absl::Minutes(1);
  std::thread sleeper([&] { clock.SleepUntil(until); });
  clock.AwaitWaiters(1);
  clock.AdvanceTo(until);
  sleeper.join();
  EXPECT_EQ(clock.waiters(), 0);
}

}  // namespace
}  // namespace pixq::clock
