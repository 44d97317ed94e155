// Job listings by image and newest first (issues 16, 19): the job_image index kept in the job's
// own write, tombstones and moves leaving it, the phase filter combined with it, and every listing
// walked backwards across pages.

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pkg/job/json.h"
#include "pkg/kv/kv.h"
#include "pkg/state/store.h"
#include "pkg/state/tables.h"

namespace pixq::state {
namespace {

class JobListingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/pixq-job-listing-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open({.dir = dir_ + "/state"});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    jobs_ = std::make_unique<JobTable>(*store_);
  }
  void TearDown() override {
    jobs_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Put(const job::JobRecord& r) { ASSERT_TRUE(jobs_->Apply(r.id, job::ToJson(r).dump()).ok()); }

  // Every page of a listing, `page_size` at a time, as job ids.
  std::vector<std::string> Walk(size_t page_size, const JobTable::Listing& listing) {
    std::vector<std::string> seen;
    std::string after;
    for (;;) {
      JobTable::Page page = jobs_->ListJobs(after, page_size, listing);
      for (const job::JobRecord& r : page.items) seen.push_back(r.id);
      if (!page.more) break;
      EXPECT_EQ(page.items.size(), page_size);
      after = page.items.back().id;
    }
    return seen;
  }

  std::string dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<JobTable> jobs_;
};

std::string JobId(int i) {
  std::string id = "j_01HV3K9Q6Y0S4W7T1F2D5G8B";
  id += static_cast<char>('A' + i / 10);
  id += static_cast<char>('0' + i % 10);
  return id;
}

std::string ImageId(int i) { return std::string(64, static_cast<char>('a' + i)); }

job::JobRecord Job(int i, const std::string& image_id, job::Phase phase = job::Phase::kPending) {
  job::JobRecord r;
  r.id = JobId(i);
  r.created_at = "2026-11-22T10:00:00.000Z";
  r.spec.source.image_id = image_id;
  r.output_key = "key-" + r.id;
  r.status.phase = phase;
  return r;
}

std::vector<std::string> Ids(const std::vector<int>& numbers) {
  std::vector<std::string> ids;
  for (int i : numbers) ids.push_back(JobId(i));
  return ids;
}

TEST_F(JobListingTest, ListsAnImagesJobsInBothOrdersAcrossPages) {
  for (int i = 0; i < 30; ++i) Put(Job(i, ImageId(i % 3)));
  std::vector<int> expected;
  for (int i = 1; i < 30; i += 3) expected.push_back(i);
  EXPECT_EQ(Walk(4, {.image_id = ImageId(1)}), Ids(expected));
  std::reverse(expected.begin(), expected.end());
  EXPECT_EQ(Walk(4, {.image_id = ImageId(1), .order = Order::kDescending}), Ids(expected));
  EXPECT_TRUE(jobs_->ListJobs("", 10, {.image_id = ImageId(7)}).items.empty());
}

TEST_F(JobListingTest, ListsAUrlJobUnderTheImageItDownloadedOnceKnown) {
  job::JobRecord fetched = Job(1, "");
  fetched.spec.source.url = "https://example.com/a.jpg";
  Put(fetched);
  EXPECT_TRUE(jobs_->ListJobs("", 10, {.image_id = ImageId(0)}).items.empty());
  fetched.status.image_id = ImageId(0);
  fetched.status.phase = job::Phase::kRunning;
  Put(fetched);
  EXPECT_EQ(Walk(10, {.image_id = ImageId(0)}), Ids({1}));
}

TEST_F(JobListingTest, AForgottenOrMovedJobLeavesItsImagesRows) {
  Put(Job(1, ImageId(0)));
  Put(Job(2, ImageId(0)));
  ASSERT_TRUE(jobs_->Apply(JobId(1), std::nullopt).ok());
  // A record whose image changed (not something pixq publishes, but the index must follow it).
  Put(Job(2, ImageId(1)));
  EXPECT_TRUE(jobs_->ListJobs("", 10, {.image_id = ImageId(0)}).items.empty());
  EXPECT_EQ(Walk(10, {.image_id = ImageId(1)}), Ids({2}));
  auto txn = store_->Read();
  ASSERT_TRUE(txn.ok());
  EXPECT_EQ((*txn)->Count(store_->tables().job_image).value_or(99), 1u);
}

TEST_F(JobListingTest, CombinesAnImageWithPhases) {
  const job::Phase phases[] = {job::Phase::kPending, job::Phase::kRunning, job::Phase::kFailed};
  for (int i = 0; i < 24; ++i) Put(Job(i, ImageId(i % 2), phases[i % 3]));
  // Image 0: even i; Pending or Failed: i % 3 is 0 or 2.
  std::vector<int> expected;
  for (int i = 0; i < 24; i += 2) {
    if (i % 3 != 1) expected.push_back(i);
  }
  const JobTable::Listing listing = {.phases = {job::Phase::kPending, job::Phase::kFailed},
                                     .image_id = ImageId(0)};
  EXPECT_EQ(Walk(3, listing), Ids(expected));
  JobTable::Listing backwards = listing;
  backwards.order = Order::kDescending;
  std::reverse(expected.begin(), expected.end());
  EXPECT_EQ(Walk(3, backwards), Ids(expected));
}

TEST_F(JobListingTest, ListsEveryJobAndPhasesNewestFirstAcrossPages) {
  const job::Phase phases[] = {job::Phase::kPending, job::Phase::kRunning, job::Phase::kFailed};
  for (int i = 0; i < 30; ++i) Put(Job(i, ImageId(0), phases[i % 3]));
  std::vector<int> all;
  for (int i = 29; i >= 0; --i) all.push_back(i);
  EXPECT_EQ(Walk(7, {.order = Order::kDescending}), Ids(all));
  std::vector<int> some;
  for (int i = 29; i >= 0; --i) {
    if (i % 3 != 1) some.push_back(i);
  }
  EXPECT_EQ(
      Walk(4, {.phases = {job::Phase::kPending, job::Phase::kFailed}, .order = Order::kDescending}),
      Ids(some));
  // The first page backwards starts at the newest job.
  JobTable::Page first = jobs_->ListJobs("", 1, {.order = Order::kDescending});
  ASSERT_EQ(first.items.size(), 1u);
  EXPECT_EQ(first.items[0].id, JobId(29));
  EXPECT_TRUE(first.more);
}

TEST_F(JobListingTest, AStoreWithoutTheImageIndexIsWipedToBeReadAgain) {
  Put(Job(1, ImageId(0)));
  {
    auto batch = store_->Write();
    ASSERT_TRUE(batch.ok());
    ASSERT_TRUE((*batch)->txn().Put(store_->tables().meta, "format", "pixq-state 2").ok());
    ASSERT_TRUE((*batch)->Commit().ok());
  }
  jobs_.reset();
  store_.reset();
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open({.dir = dir_ + "/state"});
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_NE((*store)->wipe_reason().find("pixq-state 2"), std::string::npos);
  store_ = *std::move(store);
  jobs_ = std::make_unique<JobTable>(*store_);
  EXPECT_EQ(jobs_->size(), 0u);
}

TEST(KvCursorTest, WalksBackwardsFromBeforeAKey) {
  char pattern[] = "/tmp/pixq-kv-cursor-test-XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  const std::string dir = pattern;
  {
    absl::StatusOr<std::unique_ptr<kv::Env>> env =
        kv::Env::Open({.dir = dir, .map_bytes = uint64_t{16} << 20});
    ASSERT_TRUE(env.ok()) << env.status();
    absl::StatusOr<kv::Table> table = (*env)->OpenTable("t");
    ASSERT_TRUE(table.ok());
    auto txn = (*env)->Begin(kv::Env::Mode::kWrite);
    ASSERT_TRUE(txn.ok());
    for (const char* key : {"b", "d", "f"}) ASSERT_TRUE((*txn)->Put(*table, key, "").ok());
    auto walk = [&](std::string_view from) {
      std::string seen;
      absl::StatusOr<kv::Cursor> cursor = (*txn)->Open(*table);
      EXPECT_TRUE(cursor.ok());
      for (cursor->SeekBefore(from); cursor->Valid(); cursor->Prev()) seen += cursor->key();
      return seen;
    };
    EXPECT_EQ(walk(""), "fdb");
    EXPECT_EQ(walk("d"), "b");
    EXPECT_EQ(walk("e"), "db");
    EXPECT_EQ(walk("z"), "fdb");
    EXPECT_EQ(walk("a"), "");
    // A position longer than any key LMDB stores (a page token's) is compared as any other.
    EXPECT_EQ(walk(std::string(600, 'e')), "db");
    EXPECT_EQ(walk(std::string(600, 'a')), "");
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace pixq::state
