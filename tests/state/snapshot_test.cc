// Snapshots of the table store: a copy a new store starts from with its offsets, written
// atomically; an unusable one ignored (the store starts empty); and the turns of the Snapshotter.

#include "pkg/state/snapshot.h"

#include <filesystem>
#include <fstream>

#include "absl/time/clock.h"
#include <gtest/gtest.h>

#include "pkg/job/json.h"
#include "pkg/state/store_feed.h"
#include "pkg/state/tables.h"
#include "tests/fakes/fake_clock.h"

namespace pixq::state {
namespace {

namespace fs = std::filesystem;

class SnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/pixq-snapshot-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    snapshots_ = dir_ + "/volume/state-snapshots";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<Store> Open(const std::string& name, bool with_snapshots = true) {
    absl::StatusOr<std::unique_ptr<Store>> store =
        Store::Open({.dir = dir_ + "/" + name, .snapshot_dir = with_snapshots ? snapshots_ : ""});
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  // `n` Pending jobs at offsets [first, first + n) of pixq.job-status partition 0.
  static void Feed(Store& store, int first, int n) {
    JobTable jobs(store);
    ImageTable images(store);
    StoreFeed feed(store, jobs, images, queue::Topics::WithPrefix("pixq."));
    std::vector<queue::Message> records;
    for (int i = first; i < first + n; ++i) {
      job::JobRecord r;
      r.id = "j_" + std::to_string(1000 + i);
      r.created_at = "2026-11-22T10:00:00.000Z";
      r.spec.source.image_id = std::string(64, 'a');
      r.status.phase = job::Phase::kPending;
      records.push_back(
          {.topic = "pixq.job-status", .offset = i, .key = r.id, .value = job::ToJson(r).dump()});
    }
    ASSERT_TRUE(feed.Apply(records, {{.topic = "pixq.job-status",
                                      .next_offset = first + n,
                                      .last_offset = first + n - 1,
                                      .last_hash = queue::RecordHash(records.back())}})
                    .ok());
  }

  static std::vector<queue::StoredPosition> Stored(Store& store) {
    JobTable jobs(store);
    ImageTable images(store);
    StoreFeed feed(store, jobs, images, queue::Topics::WithPrefix("pixq."));
    return feed.Stored();
  }

  std::string dir_;
  std::string snapshots_;
};

TEST_F(SnapshotTest, AnEmptyStoreStartsFromTheSnapshotWithItsRecordsAndOffsets) {
  auto a = Open("a");
  ASSERT_NE(a, nullptr);
  Feed(*a, 0, 50);
  ASSERT_TRUE(WriteSnapshot(*a, snapshots_).ok());
  EXPECT_TRUE(fs::exists(snapshots_ + "/" + kSnapshotFile));
  Feed(*a, 50, 10);  // after the snapshot: not in it

  auto b = Open("b");
  ASSERT_NE(b, nullptr);
  EXPECT_TRUE(b->restored()) << b->restore_note();
  EXPECT_EQ(JobTable(*b).size(), 50u);
  const std::vector<queue::StoredPosition> stored = Stored(*b);
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].next_offset, 50);
  EXPECT_EQ(stored[0].last_offset, 49);
  EXPECT_NE(stored[0].last_hash, 0u);
  // Nothing of the copy is left beside the store, and it is writable.
  EXPECT_FALSE(fs::exists(dir_ + "/b/restoring"));
  Feed(*b, 50, 10);
  EXPECT_EQ(JobTable(*b).size(), 60u);
  for (const fs::directory_entry& e : fs::directory_iterator(snapshots_)) {
    EXPECT_EQ(e.path().filename(), kSnapshotFile) << "left behind: " << e.path();
  }
}

TEST_F(SnapshotTest, ANewSnapshotReplacesTheOldOne) {
  auto a = Open("a");
  ASSERT_NE(a, nullptr);
  Feed(*a, 0, 5);
  ASSERT_TRUE(WriteSnapshot(*a, snapshots_).ok());
  Feed(*a, 5, 5);
  ASSERT_TRUE(WriteSnapshot(*a, snapshots_).ok());
  auto b = Open("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(JobTable(*b).size(), 10u);
  EXPECT_EQ(Stored(*b)[0].next_offset, 10);
}

TEST_F(SnapshotTest, ACorruptSnapshotIsIgnoredAndTheStoreStartsEmpty) {
  fs::create_directories(snapshots_);
  std::ofstream(snapshots_ + "/" + kSnapshotFile) << std::string(20000, 'x');
  auto b = Open("b");
  ASSERT_NE(b, nullptr);
  EXPECT_FALSE(b->restored());
  EXPECT_NE(b->restore_note().find("not used"), std::string::npos) << b->restore_note();
  EXPECT_EQ(JobTable(*b).size(), 0u);
  EXPECT_TRUE(Stored(*b).empty());
  Feed(*b, 0, 3);
  EXPECT_EQ(JobTable(*b).size(), 3u);
}

TEST_F(SnapshotTest, ASnapshotWithoutOffsetsIsNotUsed) {
  auto a = Open("a", /*with_snapshots=*/false);
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(JobTable(*a).Apply("j_1", std::nullopt).ok());
  ASSERT_TRUE(WriteSnapshot(*a, snapshots_).ok());
  auto b = Open("b");
  ASSERT_NE(b, nullptr);
  EXPECT_FALSE(b->restored());
  EXPECT_NE(b->restore_note().find("no offsets"), std::string::npos) << b->restore_note();
}

TEST_F(SnapshotTest, AStoreThatHoldsRecordsKeepsThemAndIgnoresTheSnapshot) {
  auto a = Open("a");
  ASSERT_NE(a, nullptr);
  Feed(*a, 0, 20);
  ASSERT_TRUE(WriteSnapshot(*a, snapshots_).ok());
  auto b = Open("b");
  ASSERT_NE(b, nullptr);
  b.reset();
  b = Open("b");  // reopened: its own store, as it was
  ASSERT_NE(b, nullptr);
  EXPECT_FALSE(b->restored());
  Feed(*b, 20, 1);
  b.reset();
  b = Open("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(JobTable(*b).size(), 21u);
}

TEST_F(SnapshotTest, WithoutASnapshotTheStoreStartsEmptyAndSaysWhy) {
  auto b = Open("b");
  ASSERT_NE(b, nullptr);
  EXPECT_FALSE(b->restored());
  EXPECT_NE(b->restore_note().find("no snapshot"), std::string::npos) << b->restore_note();
}

TEST_F(SnapshotTest, TheSnapshotterWritesOnlyWhenReadyAndNoFreshSnapshotIsThere) {
  auto a = Open("a");
  ASSERT_NE(a, nullptr);
  Feed(*a, 0, 5);
  bool ready = false;
  pixq::testing::FakeClock clock(absl::Now());
  Snapshotter snapshotter(
      *a, snapshots_, absl::Minutes(5), [&] { return ready; }, clock);
  EXPECT_FALSE(*snapshotter.WriteIfDue());
  EXPECT_FALSE(fs::exists(snapshots_ + "/" + kSnapshotFile));
  ready = true;
  EXPECT_TRUE(*snapshotter.WriteIfDue());
  // Another replica's (or this one's) snapshot younger than half the interval: left as it is.
  EXPECT_FALSE(*snapshotter.WriteIfDue());
  clock.Advance(absl::Minutes(3));
  EXPECT_TRUE(*snapshotter.WriteIfDue());
}

}  // namespace
}  // namespace pixq::state
