#include "pkg/worker/offsets.h"

#include <gtest/gtest.h>

namespace pixq::worker {
namespace {

const OffsetTracker::Partition kP0{"pixq.jobs", 0};
const OffsetTracker::Partition kP1{"pixq.jobs", 1};

TEST(OffsetTrackerTest, StoresTheNextOffsetWhenJobsFinishInOrder) {
  OffsetTracker t;
  t.Started(kP0, 10);
  t.Started(kP0, 11);
  EXPECT_EQ(t.Finished(kP0, 10), 11);
  EXPECT_EQ(t.Finished(kP0, 11), 12);
  EXPECT_EQ(t.Running(), 0u);
}

TEST(OffsetTrackerTest, NeverPassesAnUnfinishedJob) {
  OffsetTracker t;
  t.Started(kP0, 10);
  t.Started(kP0, 11);
  t.Started(kP0, 12);
  // 11 and 12 finish first: 10 still runs, so nothing may be committed past it.
  EXPECT_EQ(t.Finished(kP0, 11), std::nullopt) << "10 is still running";
  EXPECT_EQ(t.Finished(kP0, 12), std::nullopt);
  EXPECT_EQ(t.Running(kP0), 1u);
  // When 10 finishes, everything up to 12 is done at once.
  EXPECT_EQ(t.Finished(kP0, 10), 13);
}

TEST(OffsetTrackerTest, MovesToTheOldestStillRunning) {
  OffsetTracker t;
  for (int64_t o = 20; o < 25; ++o) t.Started(kP0, o);
  EXPECT_EQ(t.Finished(kP0, 20), 21);
  EXPECT_EQ(t.Finished(kP0, 23), std::nullopt);
  EXPECT_EQ(t.Finished(kP0, 21), 22);  // 22 still runs
  EXPECT_EQ(t.Finished(kP0, 22), 24);  // 23 is done, 24 runs
  EXPECT_EQ(t.Finished(kP0, 24), 25);
}

TEST(OffsetTrackerTest, KeepsPartitionsApart) {
  OffsetTracker t;
  t.Started(kP0, 5);
  t.Started(kP1, 100);
  t.Started(kP1, 101);
  EXPECT_EQ(t.Finished(kP1, 101), std::nullopt) << "100 on the same partition still runs";
  EXPECT_EQ(t.Finished(kP0, 5), 6) << "partition 1's job does not hold partition 0 back";
  EXPECT_EQ(t.Running(kP1), 1u);
  EXPECT_EQ(t.Running(), 1u);
}

TEST(OffsetTrackerTest, IgnoresJobsItDoesNotKnow) {
  OffsetTracker t;
  EXPECT_EQ(t.Finished(kP0, 3), std::nullopt);
  t.Started(kP0, 3);
  EXPECT_EQ(t.Finished(kP0, 3), 4);
  EXPECT_EQ(t.Finished(kP0, 3), std::nullopt) << "finished twice";
}

TEST(OffsetTrackerTest, ForgetsARevokedPartition) {
  OffsetTracker t;
  t.Started(kP0, 7);
  t.Started(kP0, 8);
  t.Forget(kP0);
  EXPECT_EQ(t.Running(), 0u);
  // A job of the revoked partition that finishes late stores nothing: the new owner decides.
  EXPECT_EQ(t.Finished(kP0, 7), std::nullopt);
  // Assigned again later, it starts over from what the group committed.
  t.Started(kP0, 7);
  EXPECT_EQ(t.Finished(kP0, 7), 8);
}

TEST(OffsetTrackerTest, AHeldJobStopsTheOffsetButIsNotRunning) {
  OffsetTracker t;
  t.Started(kP0, 10);
  t.Started(kP0, 11);
  t.Held(kP0, 10);  // ended without a durable result
  EXPECT_EQ(t.Running(kP0), 1u) << "nothing waits for a held job";
  EXPECT_EQ(t.Finished(kP0, 11), std::nullopt) << "10 must be delivered again";
  t.Started(kP0, 12);
  EXPECT_EQ(t.Finished(kP0, 12), std::nullopt);
  t.Forget(kP0);  // revoked: the new owner starts from 10
  EXPECT_EQ(t.Running(), 0u);
}

TEST(OffsetTrackerTest, NeverMovesBackwards) {
  OffsetTracker t;
  t.Started(kP0, 50);
  EXPECT_EQ(t.Finished(kP0, 50), 51);
  // A redelivered older message (the group rewound) finishing does not store an older offset.
  t.Started(kP0, 40);
  EXPECT_EQ(t.Finished(kP0, 40), std::nullopt);
}

}  // namespace
}  // namespace pixq::worker
