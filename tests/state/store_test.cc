// The tables over their LMDB store: what survives a close and reopen, offsets written with the
// records, visibility only after a commit, and stores that are wiped rather than trusted.

#include "pkg/state/store.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "pkg/job/json.h"
#include "pkg/state/store_feed.h"
#include "pkg/state/tables.h"

namespace pixq::state {
namespace {

// A directory of its own per test, removed after.
class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/pixq-store-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Store> Open() {
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open({.dir = dir_ + "/state"});
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  std::string dir_;
  queue::Topics topics_ = queue::Topics::WithPrefix("pixq.");
};

job::JobRecord Job(const std::string& id, job::Phase phase) {
  job::JobRecord r;
  r.id = id;
  r.created_at = "2026-11-22T10:00:00.000Z";
  r.spec.source.image_id = std::string(64, 'a');
  r.output_key = "key-" + id;
  r.status.phase = phase;
  if (phase == job::Phase::kSucceeded) {
    r.status.output = job::OutputInfo{.path = "outputs/ke/" + id + ".jpg", .width = 3, .height = 4};
  }
  return r;
}

queue::Message JobMessage(const job::JobRecord& r, int64_t offset) {
  return {.topic = "pixq.job-status",
          .partition = 0,
          .offset = offset,
          .key = r.id,
          .value = job::ToJson(r).dump()};
}

queue::Message ImageMessage(const std::string& id, const std::string& title, int64_t offset) {
  job::ImageMeta meta{.id = id,
                      .title = title,
                      .created_at = "2026-11-22T10:00:0" + std::to_string(offset % 10) + ".000Z"};
  return {.topic = "pixq.images",
          .partition = 1,
          .offset = offset,
          .key = id,
          .value = job::ToJson(meta).dump()};
}

std::string JobId(int i) {
  std::string id = "j_01HV3K9Q6Y0S4W7T1F2D5G8B";
  id += static_cast<char>('A' + i / 10);
  id += static_cast<char>('0' + i % 10);
  return id;
}

TEST_F(StoreTest, RecordsIndexesAndOffsetsSurviveACloseAndReopen) {
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    JobTable jobs(*store);
    ImageTable images(*store);
    StoreFeed feed(*store, jobs, images, topics_);
    job::JobRecord batched = Job(JobId(2), job::Phase::kPending);
    batched.batch_id = "b1";
    batched.batch_index = 0;
    batched.idempotency_key = "caller:key";
    ASSERT_TRUE(
        feed.Apply({JobMessage(Job(JobId(1), job::Phase::kSucceeded), 0), JobMessage(batched, 1),
                    ImageMessage(std::string(64, 'c'), "Sunset Beach", 0)},
                   {{.topic = "pixq.job-status",
                     .partition = 0,
                     .next_offset = 2,
                     .last_offset = 1,
                     .last_hash = 42},
                    {.topic = "pixq.images",
                     .partition = 1,
                     .next_offset = 1,
                     .last_offset = 0,
                     .last_hash = 7}})
            .ok());
  }
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->wipe_reason(), "");
  JobTable jobs(*store);
  ImageTable images(*store);
  StoreFeed feed(*store, jobs, images, topics_);
  EXPECT_EQ(jobs.size(), 2u);
  ASSERT_TRUE(jobs.Get(JobId(1)).has_value());
  EXPECT_EQ(jobs.Get(JobId(1))->status.phase, job::Phase::kSucceeded);
  ASSERT_TRUE(jobs.FindOutput("key-" + JobId(1)).has_value());
  EXPECT_EQ(jobs.FindOutput("key-" + JobId(1))->height, 4);
  ASSERT_TRUE(jobs.FindByIdempotencyKey("caller:key").has_value());
  EXPECT_EQ(jobs.FindByIdempotencyKey("caller:key")->id, JobId(2));
  ASSERT_EQ(jobs.Batch("b1").size(), 1u);
  EXPECT_EQ(jobs.ListInPhases("", 10, {job::Phase::kPending}).items.size(), 1u);
  EXPECT_EQ(images.ListByTitle(std::nullopt, 10, "beach").items.size(), 1u);
  const std::vector<queue::StoredPosition> stored = feed.Stored();
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[0].topic, "pixq.images");
  EXPECT_EQ(stored[0].last_hash, 7u);
  EXPECT_EQ(stored[1].topic, "pixq.job-status");
  EXPECT_EQ(stored[1].next_offset, 2);
  EXPECT_EQ(stored[1].last_offset, 1);
  EXPECT_EQ(stored[1].last_hash, 42u);
}

TEST_F(StoreTest, ABatchIsSeenOnlyOnceItCommitted) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  JobTable jobs(*store);
  int woken = 0;
  jobs.Watch(JobId(1), [&](const job::JobRecord&) { ++woken; });
  auto batch = store->Write();
  ASSERT_TRUE(batch.ok());
  ASSERT_TRUE(
      jobs.Apply(**batch, JobId(1), job::ToJson(Job(JobId(1), job::Phase::kRunning)).dump()).ok());
  EXPECT_FALSE(jobs.Get(JobId(1)).has_value());
  EXPECT_EQ(woken, 0);
  ASSERT_TRUE((*batch)->Commit().ok());
  EXPECT_TRUE(jobs.Get(JobId(1)).has_value());
  EXPECT_EQ(woken, 1);
}

TEST_F(StoreTest, AnUnreadableRecordIsSkippedAndItsPositionStillStored) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  JobTable jobs(*store);
  ImageTable images(*store);
  StoreFeed feed(*store, jobs, images, topics_);
  queue::Message bad{.topic = "pixq.job-status", .offset = 0, .key = JobId(1), .value = "garbage"};
  ASSERT_TRUE(feed.Apply({bad, JobMessage(Job(JobId(2), job::Phase::kPending), 1)},
                         {{.topic = "pixq.job-status", .next_offset = 2, .last_offset = 1}})
                  .ok());
  EXPECT_EQ(jobs.size(), 1u);
  ASSERT_EQ(feed.Stored().size(), 1u);
  EXPECT_EQ(feed.Stored()[0].next_offset, 2);
}

TEST_F(StoreTest, ResetForgetsRecordsIndexesAndOffsets) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  JobTable jobs(*store);
  ImageTable images(*store);
  StoreFeed feed(*store, jobs, images, topics_);
  ASSERT_TRUE(feed.Apply({JobMessage(Job(JobId(1), job::Phase::kSucceeded), 0)},
                         {{.topic = "pixq.job-status", .next_offset = 1, .last_offset = 0}})
                  .ok());
  ASSERT_TRUE(feed.Reset("test").ok());
  EXPECT_EQ(jobs.size(), 0u);
  EXPECT_TRUE(feed.Stored().empty());
  EXPECT_TRUE(jobs.ListInPhases("", 10, {job::Phase::kSucceeded}).items.empty());
}

TEST_F(StoreTest, AFileThatIsNotAStoreIsWipedAndStartedAfresh) {
  std::filesystem::create_directories(dir_ + "/state");
  std::ofstream(dir_ + "/state/data.mdb") << std::string(10000, 'x');
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_NE(store->wipe_reason(), "");
  JobTable jobs(*store);
  ASSERT_TRUE(jobs.Apply(JobId(1), job::ToJson(Job(JobId(1), job::Phase::kPending)).dump()).ok());
  EXPECT_EQ(jobs.size(), 1u);
}

TEST_F(StoreTest, AStoreInAnotherFormatIsWiped) {
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    JobTable jobs(*store);
    ASSERT_TRUE(jobs.Apply(JobId(1), job::ToJson(Job(JobId(1), job::Phase::kPending)).dump()).ok());
    auto batch = store->Write();
    ASSERT_TRUE(batch.ok());
    ASSERT_TRUE((*batch)->txn().Put(store->tables().meta, "format", "pixq-state 0").ok());
    ASSERT_TRUE((*batch)->Commit().ok());
  }
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_NE(store->wipe_reason().find("format"), std::string::npos);
  JobTable jobs(*store);
  EXPECT_EQ(jobs.size(), 0u);
}

TEST_F(StoreTest, ListsByPhaseFromTheIndexInIdOrderAcrossPages) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  JobTable jobs(*store);
  const job::Phase phases[] = {job::Phase::kPending, job::Phase::kRunning, job::Phase::kFailed};
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(jobs.Apply(JobId(i), job::ToJson(Job(JobId(i), phases[i % 3])).dump()).ok());
  }
  // A job that moved on leaves its old phase's index.
  ASSERT_TRUE(jobs.Apply(JobId(0), job::ToJson(Job(JobId(0), job::Phase::kSucceeded)).dump()).ok());
  const std::vector<job::Phase> wanted = {job::Phase::kPending, job::Phase::kFailed};
  std::vector<std::string> seen;
  std::string after;
  for (;;) {
    JobTable::Page page = jobs.ListInPhases(after, 4, wanted);
    for (const job::JobRecord& r : page.items) seen.push_back(r.id);
    if (!page.more) break;
    after = page.items.back().id;
  }
  std::vector<std::string> expected;
  for (int i = 1; i < 30; ++i) {
    if (i % 3 != 1) expected.push_back(JobId(i));
  }
  EXPECT_EQ(seen, expected);
  EXPECT_TRUE(jobs.ListInPhases("", 10, {job::Phase::kRunning}).items.size() == 10);
}

TEST_F(StoreTest, ListsImagesByTitleWithoutCaseOldestFirst) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  ImageTable images(*store);
  const std::string titles[] = {"Red Barn", "blue sky", "BARNYARD", "field"};
  for (int i = 0; i < 4; ++i) {
    job::ImageMeta meta{.id = std::string(64, static_cast<char>('a' + i)),
                        .title = titles[i],
                        .created_at = "2026-11-22T10:00:0" + std::to_string(i) + ".000Z"};
    ASSERT_TRUE(images.Apply(meta.id, job::ToJson(meta).dump()).ok());
  }
  ImageTable::Page first = images.ListByTitle(std::nullopt, 1, "barn");
  ASSERT_EQ(first.items.size(), 1u);
  EXPECT_EQ(first.items[0].title, "Red Barn");
  EXPECT_TRUE(first.more);
  ImageTable::Page rest = images.ListByTitle(ImageTable::PositionOf(first.items[0]), 10, "barn");
  ASSERT_EQ(rest.items.size(), 1u);
  EXPECT_EQ(rest.items[0].title, "BARNYARD");
  EXPECT_FALSE(rest.more);
  EXPECT_EQ(images.ListByTitle(std::nullopt, 10, "").items.size(), 4u);
}

TEST_F(StoreTest, APrivateStoreIsRemovedWithItsTables) {
  std::string dir;
  {
    JobTable jobs;
    ASSERT_TRUE(jobs.Apply(JobId(1), job::ToJson(Job(JobId(1), job::Phase::kPending)).dump()).ok());
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open({});
    ASSERT_TRUE(store.ok());
    dir = (*store)->dir();
    EXPECT_TRUE(std::filesystem::exists(dir));
  }
  EXPECT_FALSE(std::filesystem::exists(dir));
}

}  // namespace
}  // namespace pixq::state

namespace pixq::state {
namespace {

TEST_F(StoreTest, AGetAnsweredFromTheCacheSeesEveryLaterChange) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  JobTable jobs(*store);
  ImageTable images(*store);
  StoreFeed feed(*store, jobs, images, topics_);
  ASSERT_TRUE(jobs.Apply(JobId(1), job::ToJson(Job(JobId(1), job::Phase::kPending)).dump()).ok());
  ASSERT_EQ(jobs.Get(JobId(1))->status.phase, job::Phase::kPending);  // now cached
  ASSERT_EQ(jobs.Get(JobId(1))->status.phase, job::Phase::kPending);
  ASSERT_TRUE(jobs.Apply(JobId(1), job::ToJson(Job(JobId(1), job::Phase::kRunning)).dump()).ok());
  EXPECT_EQ(jobs.Get(JobId(1))->status.phase, job::Phase::kRunning);
  ASSERT_TRUE(jobs.Apply(JobId(1), std::nullopt).ok());
  EXPECT_FALSE(jobs.Get(JobId(1)).has_value());
  ASSERT_TRUE(jobs.Apply(JobId(2), job::ToJson(Job(JobId(2), job::Phase::kPending)).dump()).ok());
  ASSERT_TRUE(jobs.Get(JobId(2)).has_value());
  ASSERT_TRUE(feed.Reset("test").ok());
  EXPECT_FALSE(jobs.Get(JobId(2)).has_value());
}

TEST_F(StoreTest, TheCacheStaysBoundedAndEveryJobStaysReadable) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  JobTable jobs(*store);
  auto batch = store->Write();
  ASSERT_TRUE(batch.ok());
  constexpr int kJobs = 20000;  // more than the cache holds
  auto id = [](int i) { return "j_" + std::to_string(1000000 + i); };
  for (int i = 0; i < kJobs; ++i) {
    ASSERT_TRUE(
        jobs.Apply(**batch, id(i), job::ToJson(Job(id(i), job::Phase::kPending)).dump()).ok());
  }
  ASSERT_TRUE((*batch)->Commit().ok());
  for (int i = 0; i < kJobs; i += 97) {
    ASSERT_TRUE(jobs.Get(id(i)).has_value()) << i;
    EXPECT_EQ(jobs.Get(id(i))->id, id(i));
  }
}

}  // namespace
}  // namespace pixq::state
