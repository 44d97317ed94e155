#include "pkg/devlog/log_file.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "pkg/devlog/fs.h"
#include "tests/devlog/temp_dir.h"

namespace pixq::devlog {
namespace {

Record Update(int64_t offset, std::string key, std::optional<std::string> value) {
  return Record{
      .offset = offset, .timestamp_ms = offset, .key = std::move(key), .value = std::move(value)};
}

TEST(LogFileTest, AppendedRecordsAreReadBackInOrderAfterReopening) {
  ScratchDir dir;
  const std::string path = dir.path() + "/t~0.log";
  {
    auto log = LogFile::Open(path, {});
    ASSERT_TRUE(log.ok()) << log.status();
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE((*log)->Append(Update(i, "k" + std::to_string(i), std::to_string(i))).ok());
    }
    ASSERT_TRUE((*log)->Sync().ok());
    EXPECT_EQ((*log)->next_offset(), 10);
  }
  auto log = LogFile::Open(path, {});
  ASSERT_TRUE(log.ok());
  const std::vector<Record> records = (*log)->TakeRecordsReadAtOpen();
  ASSERT_EQ(records.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(records[i].offset, i);
  EXPECT_EQ((*log)->dropped_bytes(), 0u);
  EXPECT_EQ((*log)->next_offset(), 10);
}

TEST(LogFileTest, ATornTailIsTruncatedAndReportedAndAppendsContinueAfterIt) {
  ScratchDir dir;
  const std::string path = dir.path() + "/t~0.log";
  const std::string whole = EncodeFrame(Update(0, "a", "1"));
  const std::string torn = EncodeFrame(Update(1, "b", "2")).substr(0, 11);
  ASSERT_TRUE(WriteFileAtomically(path, whole + torn).ok());
  {
    auto log = LogFile::Open(path, {});
    ASSERT_TRUE(log.ok());
    EXPECT_EQ((*log)->dropped_bytes(), torn.size());
    EXPECT_EQ((*log)->TakeRecordsReadAtOpen().size(), 1u);
    EXPECT_EQ(std::filesystem::file_size(path), whole.size());
    ASSERT_TRUE((*log)->Append(Update(1, "b", "again")).ok());
    ASSERT_TRUE((*log)->Sync().ok());
  }
  auto log = LogFile::Open(path, {});
  ASSERT_TRUE(log.ok());
  const std::vector<Record> records = (*log)->TakeRecordsReadAtOpen();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].value, "again");
  EXPECT_EQ((*log)->dropped_bytes(), 0u);
}

TEST(LogFileTest, ACompactedLogStaysBoundedUnderManyUpdatesOfOneKey) {
  ScratchDir dir;
  const std::string path = dir.path() + "/status~0.log";
  const LogOptions options{.compacted = true, .compact_min_bytes = 4096};
  auto log = LogFile::Open(path, options);
  ASSERT_TRUE(log.ok());
  const std::string value(100, 'x');
  ASSERT_TRUE((*log)->Append(Update(0, "other", value)).ok());
  uint64_t largest = 0;
  for (int i = 1; i <= 3000; ++i) {
    ASSERT_TRUE((*log)->Append(Update(i, "hot", value + std::to_string(i))).ok());
    if ((*log)->NeedsCompaction()) {
      ASSERT_TRUE((*log)->Compact().ok());
    }
    largest = std::max<uint64_t>(largest, std::filesystem::file_size(path));
  }
  ASSERT_TRUE((*log)->Sync().ok());
  // Over 300 KB written; the file never held more than the threshold and a frame.
  EXPECT_LE(largest, 4096u + 256u);
  EXPECT_EQ((*log)->next_offset(), 3001);
  auto reopened = LogFile::Open(path, options);
  ASSERT_TRUE(reopened.ok());
  const std::vector<Record> records = LatestPerKey((*reopened)->TakeRecordsReadAtOpen());
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].key, "other");
  EXPECT_EQ(records[1].value, value + "3000");
}

TEST(LogFileTest, CompactionDropsKeysWhoseLatestRecordIsATombstone) {
  ScratchDir dir;
  const std::string path = dir.path() + "/images~0.log";
  auto log = LogFile::Open(path, {.compacted = true, .compact_min_bytes = 0});
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->Append(Update(0, "a", "1")).ok());
  ASSERT_TRUE((*log)->Append(Update(1, "b", "1")).ok());
  ASSERT_TRUE((*log)->Append(Update(2, "a", std::nullopt)).ok());
  EXPECT_TRUE((*log)->NeedsCompaction());
  ASSERT_TRUE((*log)->Compact().ok());
  EXPECT_EQ((*log)->size_bytes(), (*log)->live_bytes());
  EXPECT_EQ((*log)->size_bytes(), std::filesystem::file_size(path));
  ASSERT_TRUE((*log)->Append(Update(3, "c", "1")).ok());
  ASSERT_TRUE((*log)->Sync().ok());
  auto reopened = LogFile::Open(path, {.compacted = true});
  ASSERT_TRUE(reopened.ok());
  const std::vector<Record> records = (*reopened)->TakeRecordsReadAtOpen();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].key, "b");
  EXPECT_EQ(records[1].offset, 3);
}

TEST(LogFileTest, AnUncompactedLogNeverAsksForCompaction) {
  ScratchDir dir;
  auto log = LogFile::Open(dir.path() + "/jobs~0.log", {.compact_min_bytes = 0});
  ASSERT_TRUE(log.ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE((*log)->Append(Update(i, "same", "v")).ok());
  EXPECT_FALSE((*log)->NeedsCompaction());
}

}  // namespace
}  // namespace pixq::devlog
