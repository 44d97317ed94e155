#include "pkg/worker/sweeper.h"

#include <filesystem>
#include <fstream>

#include "absl/time/clock.h"
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "pkg/errors/errors.h"
#include "tests/fakes/fake_producer.h"
#include "tests/support/process.h"

namespace pixq::worker {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

class SweeperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = storage::VolumeStore::Open(dir_.path(), absl::Hours(1));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  // An output file last written at `written`.
  std::string Output(char fill, absl::Time written) {
    const std::string key(64, fill);
    absl::StatusOr<std::string> path = store_->PutOutput(key, "jpg", std::string(1000, fill));
    EXPECT_TRUE(path.ok());
    const timespec times[2] = {absl::ToTimespec(written), absl::ToTimespec(written)};
    EXPECT_EQ(::utimensat(AT_FDCWD, store_->AbsolutePath(*path).c_str(), times, 0), 0);
    return key;
  }

  job::JobRecord Record(const std::string& id, const std::string& output_key, absl::Time created,
                        std::optional<absl::Time> finished) {
    job::JobRecord r;
    r.id = id;
    r.output_key = output_key;
    r.created_at = Rfc3339(created);
    if (finished) {
      r.status.phase = job::Phase::kSucceeded;
      r.status.finished_at = Rfc3339(*finished);
    }
    return r;
  }

  bool Exists(const std::string& key) { return store_->Exists(store_->OutputPath(key, "jpg")); }

  std::vector<std::string> Tombstoned() {
    std::vector<std::string> ids;
    for (const auto& m : producer_.SentTo("pixq.job-status")) {
      EXPECT_TRUE(m.tombstone);
      ids.push_back(m.key);
    }
    return ids;
  }

  testing::TempDir dir_;
  std::unique_ptr<storage::VolumeStore> store_;
  testing::FakeProducer producer_;
  RetentionOptions options_{.job_records = absl::Hours(24 * 7), .outputs = absl::Hours(24 * 30)};
};

TEST_F(SweeperTest, ForgetsRecordsFinishedBeforeTheRetentionAndKeepsTheRest) {
  const std::vector<job::JobRecord> records = {
      Record("old", "k1", kNow - absl::Hours(24 * 9), kNow - absl::Hours(24 * 8)),
      Record("recent", "k2", kNow - absl::Hours(24 * 9), kNow - absl::Hours(24 * 6)),
      Record("stuck", "k3", kNow - absl::Hours(24 * 8), std::nullopt),
      Record("new-pending", "k4", kNow - absl::Hours(1), std::nullopt)};
  absl::StatusOr<SweepReport> report = Sweep(records, *store_, producer_, options_, kNow);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->job_records_expired, 2);
  EXPECT_EQ(Tombstoned(), (std::vector<std::string>{"old", "stuck"}));
}

TEST_F(SweeperTest, RemovesOutputsNobodyUsedWithinTheRetention) {
  const std::string unused = Output('a', kNow - absl::Hours(24 * 40));
  const std::string fresh = Output('b', kNow - absl::Hours(24 * 2));
  // Written long ago, but a kept job (a cache hit) named it last week.
  const std::string reused = Output('c', kNow - absl::Hours(24 * 40));
  // Named only by a job being forgotten now: that does not keep it.
  const std::string orphan = Output('d', kNow - absl::Hours(24 * 40));
  const std::vector<job::JobRecord> records = {
      Record("hit", reused, kNow - absl::Hours(24 * 5), kNow - absl::Hours(24 * 5)),
      Record("gone", orphan, kNow - absl::Hours(24 * 40), kNow - absl::Hours(24 * 40))};
  absl::StatusOr<SweepReport> report = Sweep(records, *store_, producer_, options_, kNow);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(Exists(unused));
  EXPECT_TRUE(Exists(fresh));
  EXPECT_TRUE(Exists(reused));
  EXPECT_FALSE(Exists(orphan));
  EXPECT_EQ(report->outputs_removed, 2);
  EXPECT_EQ(report->bytes_freed, 2000);
}

TEST_F(SweeperTest, KeepsEverythingWhenRetentionIsZero) {
  const std::string old = Output('e', kNow - absl::Hours(24 * 4000));
  absl::StatusOr<SweepReport> report =
      Sweep({Record("ancient", old, kNow - absl::Hours(24 * 4000), kNow - absl::Hours(24 * 4000))},
            *store_, producer_, RetentionOptions{}, kNow);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->job_records_expired, 0);
  EXPECT_EQ(report->outputs_removed, 0);
  EXPECT_TRUE(Exists(old));
  EXPECT_TRUE(producer_.Sent().empty());
}

TEST_F(SweeperTest, LeavesFilesItDidNotWriteAlone) {
  std::filesystem::create_directories(dir_.path() + "/outputs/zz");
  std::ofstream(dir_.path() + "/outputs/zz/notes.txt") << "someone else's";
  const timespec old[2] = {absl::ToTimespec(kNow - absl::Hours(24 * 400)),
                           absl::ToTimespec(kNow - absl::Hours(24 * 400))};
  ASSERT_EQ(::utimensat(AT_FDCWD, (dir_.path() + "/outputs/zz/notes.txt").c_str(), old, 0), 0);
  ASSERT_TRUE(Sweep({}, *store_, producer_, options_, kNow).ok());
  EXPECT_TRUE(std::filesystem::exists(dir_.path() + "/outputs/zz/notes.txt"));
}

TEST_F(SweeperTest, FailsWhenATombstoneIsNotAcknowledgedAndThenRemovesNothing) {
  // The job is still known to the API (its tombstone was refused), so its output must stay.
  const std::string output = Output('8', kNow - absl::Hours(24 * 40));
  producer_.FailTopic("pixq.job-status");
  absl::StatusOr<SweepReport> report =
      Sweep({Record("old", output, kNow - absl::Hours(24 * 40), kNow - absl::Hours(24 * 40))},
            *store_, producer_, options_, kNow);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(errors::ReasonOf(report.status()), "StatusNotPublished");
  EXPECT_TRUE(Exists(output));
}

TEST_F(SweeperTest, KeepsARecordAndItsOutputWhenItsTimeCannotBeRead) {
  const std::string output = Output('9', kNow - absl::Hours(24 * 40));
  job::JobRecord undated = Record("undated", output, kNow, kNow);
  undated.created_at = "yesterday";
  undated.status.finished_at = "not a time";
  absl::StatusOr<SweepReport> report = Sweep({undated}, *store_, producer_, options_, kNow);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->job_records_expired, 0);
  EXPECT_TRUE(Tombstoned().empty());
  EXPECT_TRUE(Exists(output));
}

}  // namespace
}  // namespace pixq::worker
