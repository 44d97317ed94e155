#include "pkg/storage/volume.h"

#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <utime.h>

#include "pkg/errors/errors.h"
#include "tests/support/process.h"

namespace pixq::storage {
namespace {

namespace fs = std::filesystem;

const std::string kId = std::string(62, 'a') + "0f";
const std::string kKey = std::string(64, 'b');

size_t FilesIn(const std::string& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

class VolumeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = VolumeStore::Open(dir_.path() + "/vol", absl::Hours(1));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }
  testing::TempDir dir_;
  std::unique_ptr<VolumeStore> store_;
};

TEST_F(VolumeTest, CreatesTheLayout) {
  for (const char* sub : {"originals", "outputs", "tmp"}) {
    EXPECT_TRUE(fs::is_directory(dir_.path() + "/vol/" + sub)) << sub;
  }
}

TEST_F(VolumeTest, RoundTripsAnOriginalUnderItsId) {
  ASSERT_TRUE(store_->PutOriginal(kId, "bytes").ok());
  EXPECT_TRUE(store_->HasOriginal(kId));
  EXPECT_EQ(*store_->ReadOriginal(kId), "bytes");
  EXPECT_TRUE(fs::exists(dir_.path() + "/vol/originals/aa/" + kId));
  EXPECT_EQ(FilesIn(dir_.path() + "/vol/tmp"), 0u);
}

TEST_F(VolumeTest, LeavesAnExistingOriginalUntouched) {
  ASSERT_TRUE(store_->PutOriginal(kId, "first").ok());
  ASSERT_TRUE(store_->PutOriginal(kId, "second").ok());
  EXPECT_EQ(*store_->ReadOriginal(kId), "first");
}

TEST_F(VolumeTest, ReportsAMissingOriginal) {
  absl::StatusOr<std::string> missing = store_->ReadOriginal(kId);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(errors::ReasonOf(missing.status()), "ImageNotFound");
  EXPECT_FALSE(store_->HasOriginal(kId));
  EXPECT_TRUE(store_->RemoveOriginal(kId).ok());
}

TEST_F(VolumeTest, RefusesNamesThatAreNotIds) {
  for (const std::string& bad :
       std::vector<std::string>{"../../etc/passwd", "", "ABC", std::string(64, 'A'),
                                std::string(63, 'a') + "/", std::string(64, 'g')}) {
    absl::Status put = store_->PutOriginal(bad, "x");
    EXPECT_EQ(errors::ReasonOf(put), "InvalidId") << bad;
    EXPECT_FALSE(store_->PutOutput(bad, "png", "x").ok()) << bad;
    EXPECT_FALSE(store_->HasOriginal(bad));
  }
  EXPECT_EQ(errors::ReasonOf(store_->PutOutput(kKey, "exe", "x").status()), "InvalidId");
  EXPECT_EQ(errors::ReasonOf(store_->PutOutput(kKey, "png/../../x", "x").status()), "InvalidId");
  EXPECT_FALSE(store_->Exists("/etc/passwd"));
  EXPECT_FALSE(store_->Exists("outputs/../../etc/passwd"));
  EXPECT_FALSE(store_->Remove("tmp/x").ok());
}

TEST_F(VolumeTest, WritesOutputsUnderTheirKey) {
  absl::StatusOr<std::string> path = store_->PutOutput(kKey, "webp", "one");
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(*path, "outputs/bb/" + kKey + ".webp");
  EXPECT_EQ(*path, store_->OutputPath(kKey, "webp"));
  EXPECT_TRUE(store_->Exists(*path));
  EXPECT_EQ(*store_->SizeOf(*path), 3);
  // Again: same path, bytes replaced.
  ASSERT_TRUE(store_->PutOutput(kKey, "webp", "three").ok());
  EXPECT_EQ(*store_->SizeOf(*path), 5);
  EXPECT_EQ(store_->AbsolutePath(*path), store_->root() + "/" + *path);
  ASSERT_TRUE(store_->Remove(*path).ok());
  EXPECT_FALSE(store_->Exists(*path));
  EXPECT_TRUE(store_->Remove(*path).ok());
}

TEST_F(VolumeTest, ConcurrentWritersOfOneKeyLeaveOneIntactFile) {
  std::vector<std::thread> threads;
  const std::string a(100000, 'a');
  const std::string b(100000, 'b');
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < 20; ++j) ASSERT_TRUE(store_->PutOutput(kKey, "png", i % 2 ? a : b).ok());
    });
  }
  for (auto& t : threads) t.join();
  std::ifstream in(store_->AbsolutePath(store_->OutputPath(kKey, "png")), std::ios::binary);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(content == a || content == b);
  EXPECT_EQ(FilesIn(dir_.path() + "/vol/tmp"), 0u);
}

TEST_F(VolumeTest, SweepsStaleTemporaryFilesButNotFreshOnes) {
  const std::string stale = dir_.path() + "/vol/tmp/stale.part";
  const std::string fresh = dir_.path() + "/vol/tmp/fresh.part";
  std::ofstream(stale) << "x";
  std::ofstream(fresh) << "y";
  struct utimbuf old_times {
    .actime = time(nullptr) - 7200, .modtime = time(nullptr) - 7200
  };
  ASSERT_EQ(utime(stale.c_str(), &old_times), 0);
  auto reopened = VolumeStore::Open(dir_.path() + "/vol", absl::Hours(1));
  ASSERT_TRUE(reopened.ok());
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(fresh));
}

TEST(VolumeOpenTest, FailsOnARootThatCannotBeCreated) {
  absl::StatusOr<std::unique_ptr<VolumeStore>> store =
      VolumeStore::Open("/proc/pixq-cannot-be-here", absl::Hours(1));
  EXPECT_FALSE(store.ok());
}

TEST(ValidateRelativePathTest, AcceptsOnlyTheShapesTheStoreHandsOut) {
  EXPECT_TRUE(ValidateRelativePath(OriginalRelativePath(kId)).ok());
  EXPECT_TRUE(ValidateRelativePath(OutputRelativePath(kKey, "jpg")).ok());
  EXPECT_FALSE(ValidateRelativePath("originals/bb/" + kId).ok());  // wrong fan-out dir
  EXPECT_FALSE(ValidateRelativePath("outputs/bb/" + kKey).ok());   // no extension
  EXPECT_FALSE(ValidateRelativePath("outputs/bb/" + kKey + ".gif").ok());
}

}  // namespace
}  // namespace pixq::storage
