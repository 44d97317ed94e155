// The store's edges: offsets that cannot be read, a store that is full, the outputs index of
// forgotten jobs, and the private stores that killed processes leave behind (issue 16's review).

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include "pkg/errors/errors.h"
#include "pkg/job/json.h"
#include "pkg/state/store.h"
#include "pkg/state/store_feed.h"
#include "pkg/state/tables.h"

namespace pixq::state {
namespace {

class StoreEdgesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/pixq-store-edges-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Store> Open(StoreOptions options) {
    options.dir = dir_ + "/state";
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  std::string dir_;
  queue::Topics topics_ = queue::Topics::WithPrefix("pixq.");
};

job::JobRecord Job(const std::string& id, job::Phase phase, const std::string& output_key) {
  job::JobRecord r;
  r.id = id;
  r.created_at = "2026-11-22T10:00:00.000Z";
  r.spec.source.image_id = std::string(64, 'a');
  r.output_key = output_key;
  r.status.phase = phase;
  if (phase == job::Phase::kSucceeded) {
    r.status.output = job::OutputInfo{.path = "outputs/ke/" + output_key, .width = 3, .height = 4};
  }
  return r;
}

std::string Json(const job::JobRecord& r) { return job::ToJson(r).dump(); }

TEST_F(StoreEdgesTest, StoredAnswersUnreadableRatherThanNothingWhenItsReadFails) {
  auto store = Open({.max_readers = 1});
  ASSERT_NE(store, nullptr);
  JobTable jobs(*store);
  ImageTable images(*store);
  StoreFeed feed(*store, jobs, images, topics_);
  ASSERT_TRUE(
      feed.Apply({}, {{.topic = "pixq.job-status", .next_offset = 5, .last_offset = 4}}).ok());
  // The one reader slot taken: the feed's read transaction cannot begin.
  absl::StatusOr<std::unique_ptr<kv::Txn>> held = store->Read();
  ASSERT_TRUE(held.ok()) << held.status();
  const std::vector<queue::StoredPosition> stored = feed.Stored();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].topic, kUnreadableOffsets);
  held->reset();
  ASSERT_EQ(feed.Stored().size(), 1u);
  EXPECT_EQ(feed.Stored()[0].next_offset, 5);
}

TEST_F(StoreEdgesTest, AFullStoreFailsTheBatchWithStateStoreFullAndKeepsNoneOfIt) {
  auto store = Open({.max_bytes = 1 << 20});
  ASSERT_NE(store, nullptr);
  JobTable jobs(*store);
  ImageTable images(*store);
  StoreFeed feed(*store, jobs, images, topics_);
  job::JobRecord big = Job("j_big", job::Phase::kPending, "k");
  big.spec.labels["pad"] = std::string(20000, 'x');
  absl::Status status;
  int64_t stored_next = 0;
  for (int64_t offset = 0; offset < 1000 && status.ok(); offset += 10) {
    std::vector<queue::Message> batch;
    for (int64_t i = offset; i < offset + 10; ++i) {
      big.id = "j_big" + std::to_string(i);
      batch.push_back({.topic = "pixq.job-status", .offset = i, .key = big.id, .value = Json(big)});
    }
    status = feed.Apply(
        batch,
        {{.topic = "pixq.job-status", .next_offset = offset + 10, .last_offset = offset + 9}});
    if (status.ok()) stored_next = offset + 10;
  }
  ASSERT_FALSE(status.ok()) << "a 1 MiB store took 20 MB";
  EXPECT_EQ(errors::ReasonOf(status), "StateStoreFull") << status;
  EXPECT_EQ(errors::HttpStatusOf(status), 503);
  EXPECT_TRUE(IsStoreFailure(status));
  EXPECT_NE(status.message().find("state.max_bytes"), std::string::npos) << status;
  // Nothing of the failed batch: the offsets are those of the last batch that fit.
  ASSERT_EQ(feed.Stored().size(), 1u);
  EXPECT_EQ(feed.Stored()[0].next_offset, stored_next);
  EXPECT_EQ(jobs.size(), static_cast<size_t>(stored_next));
}

TEST_F(StoreEdgesTest, AForgottenJobLeavesTheOutputsIndexButOthersWithTheSameOutputStayFound) {
  auto store = Open({});
  ASSERT_NE(store, nullptr);
  JobTable jobs(*store);
  const std::string key(64, 'c');
  ASSERT_TRUE(jobs.Apply("j_first", Json(Job("j_first", job::Phase::kSucceeded, key))).ok());
  ASSERT_TRUE(jobs.Apply("j_hit", Json(Job("j_hit", job::Phase::kSucceeded, key))).ok());
  ASSERT_TRUE(jobs.Apply("j_first", std::nullopt).ok());  // a tombstone
  ASSERT_TRUE(jobs.FindOutput(key).has_value()) << "j_hit still names the output";
  // Run again (a retry): no longer Succeeded, so its row goes too.
  ASSERT_TRUE(jobs.Apply("j_hit", Json(Job("j_hit", job::Phase::kPending, key))).ok());
  EXPECT_FALSE(jobs.FindOutput(key).has_value());

  auto count = [&] {
    auto txn = store->Read();
    EXPECT_TRUE(txn.ok());
    return *(*txn)->Count(store->tables().job_outputs);
  };
  ASSERT_TRUE(jobs.Apply("j_hit", Json(Job("j_hit", job::Phase::kSucceeded, key))).ok());
  EXPECT_EQ(count(), 1u);
  ASSERT_TRUE(jobs.Apply("j_hit", std::nullopt).ok());
  EXPECT_EQ(count(), 0u);
  EXPECT_FALSE(jobs.FindOutput(key).has_value());
}

// $TMPDIR pointed at the test's directory for the private stores opened in one test.
class ScopedTmpDir {
 public:
  explicit ScopedTmpDir(const std::string& dir) {
    if (const char* old = std::getenv("TMPDIR")) old_ = old;
    setenv("TMPDIR", dir.c_str(), 1);
  }
  ~ScopedTmpDir() {
    if (old_) {
      setenv("TMPDIR", old_->c_str(), 1);
    } else {
      unsetenv("TMPDIR");
    }
  }

 private:
  std::optional<std::string> old_;
};

TEST_F(StoreEdgesTest, OpeningAPrivateStoreRemovesThoseOfProcessesThatAreGone) {
  namespace fs = std::filesystem;
  const ScopedTmpDir tmp(dir_);
  for (const char* name :
       {"pixq-state-dead", "pixq-state-live", "pixq-state-old", "pixq-state-fresh",
        ".pixq-state-new-old", ".pixq-state-new-fresh", "other-dir"}) {
    fs::create_directories(fs::path(dir_) / name);
  }
  std::ofstream(dir_ + "/pixq-state-dead/owner.lock").put('x');
  std::ofstream(dir_ + "/pixq-state-live/owner.lock").put('x');
  // Its owner holds the lock (here: this test, through a descriptor of its own).
  const int live = open((dir_ + "/pixq-state-live/owner.lock").c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(live, 0);
  ASSERT_EQ(flock(live, LOCK_EX | LOCK_NB), 0);
  // No lock file: one an older pixq left, long ago, and one it left just now. Staging
  // directories (a store being made, not yet locked and renamed): one whose maker died long ago,
  // and one being made this instant.
  for (const char* name : {"pixq-state-old", ".pixq-state-new-old"}) {
    fs::last_write_time(
        fs::path(dir_) / name,
        fs::file_time_type::clock::now() - std::chrono::seconds(kStalePrivateAgeSeconds + 60));
  }

  std::string own;
  {
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open({});
    ASSERT_TRUE(store.ok()) << store.status();
    own = (*store)->dir();
    EXPECT_TRUE(own.starts_with(dir_ + "/pixq-state-")) << own;
    EXPECT_FALSE(fs::exists(dir_ + "/pixq-state-dead"));
    EXPECT_FALSE(fs::exists(dir_ + "/pixq-state-old"));
    EXPECT_FALSE(fs::exists(dir_ + "/.pixq-state-new-old"));
    EXPECT_TRUE(fs::exists(dir_ + "/.pixq-state-new-fresh"));
    EXPECT_TRUE(fs::exists(dir_ + "/pixq-state-live"));
    EXPECT_TRUE(fs::exists(dir_ + "/pixq-state-fresh"));
    EXPECT_TRUE(fs::exists(dir_ + "/other-dir"));

    // A second store sees the first one's lock held and keeps it.
    absl::StatusOr<std::unique_ptr<Store>> second = Store::Open({});
    ASSERT_TRUE(second.ok()) << second.status();
    EXPECT_TRUE(fs::exists(own));
  }
  EXPECT_FALSE(fs::exists(own));
  close(live);
}

}  // namespace
}  // namespace pixq::state
