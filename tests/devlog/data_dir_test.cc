#include "pkg/devlog/data_dir.h"

#include <filesystem>

#include <gtest/gtest.h>

#include "pkg/devlog/fs.h"
#include "pkg/devlog/log_file.h"
#include "tests/devlog/temp_dir.h"

namespace pixq::devlog {
namespace {

const PartitionId kJobs0{.topic = "pixq.jobs", .partition = 0};
const PartitionId kJobs1{.topic = "pixq.jobs", .partition = 1};

Record Job(int64_t offset) {
  return Record{.offset = offset, .key = "j" + std::to_string(offset), .value = "spec"};
}

TEST(DataDirTest, AnEmptyDirectoryHasNoPartitionsAndNoOffsets) {
  ScratchDir dir;
  auto data = DataDir::Open(dir.path() + "/data");
  ASSERT_TRUE(data.ok()) << data.status();
  auto stored = data->Load();
  ASSERT_TRUE(stored.ok());
  EXPECT_TRUE(stored->empty());
  auto offsets = data->ReadOffsets();
  ASSERT_TRUE(offsets.ok());
  EXPECT_TRUE(offsets->empty());
}

TEST(DataDirTest, ANewGenerationHoldsItsPartitionsAndStartsWithoutOffsets) {
  ScratchDir dir;
  auto data = DataDir::Open(dir.path());
  ASSERT_TRUE(data.ok());
  ASSERT_TRUE(data->StartGeneration({{kJobs0, {Job(0), Job(1)}}, {kJobs1, {}}}).ok());
  ASSERT_TRUE(data->WriteOffsets({{kJobs0, 1}}).ok());
  EXPECT_EQ(data->ReadOffsets()->at(kJobs0), 1);

  auto reopened = DataDir::Open(dir.path());
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(reopened->generation(), "gen-000001");
  auto stored = reopened->Load();
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 2u);
  EXPECT_EQ(stored->at(kJobs0).records.size(), 2u);
  EXPECT_EQ(reopened->ReadOffsets()->at(kJobs0), 1);

  ASSERT_TRUE(reopened->StartGeneration({{kJobs0, {Job(0)}}}).ok());
  EXPECT_EQ(reopened->generation(), "gen-000002");
  EXPECT_TRUE(reopened->ReadOffsets()->empty());
  EXPECT_EQ(reopened->Load()->size(), 1u);
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/gen-000001"));
}

TEST(DataDirTest, LoadingRepairsATornTailAndSaysHowMuchWasDropped) {
  ScratchDir dir;
  auto data = DataDir::Open(dir.path());
  ASSERT_TRUE(data.ok());
  ASSERT_TRUE(data->StartGeneration({{kJobs0, {Job(0)}}}).ok());
  {
    auto log = LogFile::Open(data->LogPath(kJobs0), {});
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->Append(Job(1)).ok());
  }
  const uint64_t whole = std::filesystem::file_size(data->LogPath(kJobs0));
  std::filesystem::resize_file(data->LogPath(kJobs0), whole - 3);
  auto stored = data->Load();
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->at(kJobs0).records.size(), 1u);
  EXPECT_EQ(stored->at(kJobs0).dropped_bytes, EncodeFrame(Job(1)).size() - 3);
  EXPECT_EQ(std::filesystem::file_size(data->LogPath(kJobs0)), EncodeFrame(Job(0)).size());
}

TEST(DataDirTest, AnUnfinishedGenerationIsIgnoredAndReplaced) {
  ScratchDir dir;
  auto data = DataDir::Open(dir.path());
  ASSERT_TRUE(data.ok());
  ASSERT_TRUE(data->StartGeneration({{kJobs0, {Job(0)}}}).ok());
  // A start that crashed after writing part of gen-000002 and before switching CURRENT.
  std::filesystem::create_directories(dir.path() + "/gen-000002");
  ASSERT_TRUE(WriteFileAtomically(dir.path() + "/gen-000002/pixq.jobs~7.log", "garbage").ok());
  auto reopened = DataDir::Open(dir.path());
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(reopened->Load()->size(), 1u);
  ASSERT_TRUE(reopened->StartGeneration({{kJobs1, {}}}).ok());
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/gen-000002/pixq.jobs~7.log"));
  EXPECT_EQ(reopened->Load()->count(kJobs1), 1u);
}

}  // namespace
}  // namespace pixq::devlog
