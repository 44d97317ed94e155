// The pixq CLI against the real processes: `pixq process` on a folder of 200 photos, killed
// halfway and run again (it completes, reusing the first run's batch: every photo processed
// once), run a third time (it skips everything), and on inputs that fail (a corrupt JPEG, a text
// file, a source that cannot be read), which it reports by name and reason, processing the rest
// and exiting non-zero.

#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/integration/photos.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/system.h"

namespace pixq::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kPhotos = 200;

// Non-hidden files directly in `dir`.
std::vector<fs::path> Outputs(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().filename().string()[0] != '.') out.push_back(entry.path());
  }
  return out;
}

class CliTest : public ::testing::Test {
 protected:
  CliTest() : system_(SystemOptions{.partitions = 4, .workers = 2}) {
    // Distinct photographs: the same picture, each with its own pixel in a corner.
    const cv::Mat base = SmallPhoto(480);
    fs::create_directories(photos_);
    for (int i = 0; i < kPhotos; ++i) {
      cv::Mat photo = base.clone();
      photo.at<cv::Vec3b>(0, 0) = cv::Vec3b(i % 256, i / 256, 7);
      std::ofstream(photos_ / absl::StrFormat("photo-%03d.jpg", i), std::ios::binary)
          << Encoded(photo, ".jpg");
    }
  }

  // `pixq` with `args`, its output in a log of its own; the API key in the environment.
  std::unique_ptr<Process> Start(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {BinaryDir() + "/cmd/pixq/pixq"};
    argv.insert(argv.end(), args.begin(), args.end());
    return Process::Start(argv, {{"PIXQ_URL", system_.url()}, {"PIXQ_API_KEY", kKey}},
                          absl::StrCat(system_.root(), "/pixq-", ++runs_, ".log"));
  }
  // Runs it to the end: its exit status and its output.
  std::pair<int, std::string> Run(const std::vector<std::string>& args) {
    std::unique_ptr<Process> pixq = Start(args);
    std::optional<int> status = pixq->Wait(absl::Minutes(5));
    EXPECT_TRUE(status.has_value()) << "pixq did not finish: " << pixq->Log();
    const int code = status && WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
    EXPECT_EQ(pixq->Log().find(kKey), std::string::npos) << "the API key was printed";
    return {code, pixq->Log()};
  }

  static constexpr char kKey[] = "never-printed-4711";
  System system_;
  fs::path photos_ = fs::path(system_.root()) / "photos";
  fs::path out_ = fs::path(system_.root()) / "out";
  int runs_ = 0;
};

TEST_F(CliTest, ProcessesAFolderResumesAfterAKillAndSkipsWhatIsDone) {
  const std::vector<std::string> args = {"process",  photos_.string(), "--resize",  "200x200",
                                         "--format", "webp",           "--quality", "80",
                                         "--out",    out_.string()};
  // Killed once some outputs are there, and before all are.
  std::unique_ptr<Process> first = Start(args);
  ASSERT_TRUE(
      Eventually([&] { return Outputs(out_).size() >= 20 || !first->Running(); }, absl::Minutes(3)))
      << first->Log();
  first->Signal(SIGKILL);
  std::optional<int> killed = first->Wait(absl::Seconds(10));
  ASSERT_TRUE(killed.has_value());
  ASSERT_TRUE(WIFSIGNALED(*killed)) << "finished before it could be interrupted: " << first->Log();
  const size_t before = Outputs(out_).size();
  EXPECT_LT(before, static_cast<size_t>(kPhotos));
  // What a download killed half-way leaves, beside an output not yet there: the rerun removes it.
  fs::path leftover;
  for (int i = kPhotos - 1; i >= 0 && leftover.empty(); --i) {
    const std::string name = absl::StrFormat("photo-%03d.webp", i);
    if (!fs::exists(out_ / name)) leftover = out_ / absl::StrCat(".", name, ".Xy12Zw");
  }
  std::ofstream(leftover) << "half an image";

  auto [code, log] = Run(args);
  EXPECT_EQ(code, 0) << log;
  EXPECT_NE(log.find(absl::StrCat(kPhotos, " inputs: ", kPhotos - before, " processed, ", before,
                                  " already in ", out_.string(), ", 0 failed")),
            std::string::npos)
      << log;
  // Every output there, named after its input, decodable and fitted inside 200x200.
  const std::vector<fs::path> outputs = Outputs(out_);
  ASSERT_EQ(outputs.size(), static_cast<size_t>(kPhotos));
  int hidden = 0;
  for (const auto& entry : fs::directory_iterator(out_)) {
    hidden += entry.path().filename().string()[0] == '.';
  }
  EXPECT_EQ(hidden, 0) << "no temporary file left, " << leftover << " included";
  for (int i = 0; i < kPhotos; ++i) {
    const fs::path output = out_ / absl::StrFormat("photo-%03d.webp", i);
    const cv::Mat decoded = cv::imread(output.string(), cv::IMREAD_COLOR);
    ASSERT_FALSE(decoded.empty()) << output;
    EXPECT_EQ(std::max(decoded.cols, decoded.rows), 200) << output;
  }
  // No work done twice: the second run found the first run's batch, so one job per photo.
  HttpResponse jobs = HttpGet(system_.url() + "/v1/jobs?limit=1000");
  ASSERT_EQ(jobs.status, 200) << jobs.body;
  const json items = json::parse(jobs.body)["items"];
  EXPECT_EQ(items.size(), static_cast<size_t>(kPhotos));
  for (const json& job : items) EXPECT_EQ(job["status"]["phase"], "Succeeded") << job.dump();

  // Once more: nothing to do, nothing asked.
  auto [again, again_log] = Run(args);
  EXPECT_EQ(again, 0) << again_log;
  EXPECT_NE(
      again_log.find(absl::StrCat(kPhotos, " inputs: 0 processed, ", kPhotos, " already in ")),
      std::string::npos)
      << again_log;
}

TEST_F(CliTest, ReportsEachFailingInputByNameAndReasonAndProcessesTheRest) {
  const fs::path mixed = fs::path(system_.root()) / "mixed";
  fs::create_directories(mixed);
  fs::copy_file(photos_ / "photo-000.jpg", mixed / "good-1.jpg");
  fs::copy_file(photos_ / "photo-001.jpg", mixed / "good-2.jpg");
  {
    std::ifstream in(photos_ / "photo-002.jpg", std::ios::binary);
    const std::string jpeg((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(mixed / "corrupt.jpg", std::ios::binary) << jpeg.substr(0, jpeg.size() / 2);
  }
  std::ofstream(mixed / "notes.txt") << "not a photo\n";
  // A source that cannot be read: a file without permissions (root reads those anyway, so then a
  // link to nothing).
  std::string unreadable = (mixed / "locked.jpg").string();
  if (::geteuid() != 0) {
    fs::copy_file(photos_ / "photo-003.jpg", unreadable);
    fs::permissions(unreadable, fs::perms::none);
  } else {
    unreadable = (fs::path(system_.root()) / "gone.jpg").string();
    fs::create_symlink(fs::path(system_.root()) / "nowhere.jpg", unreadable);
  }
  const fs::path out = fs::path(system_.root()) / "mixed-out";
  std::vector<std::string> args = {"process", mixed.string(), "--resize",
                                   "200x200", "--out",        out.string()};
  if (::geteuid() == 0) args.insert(args.begin() + 2, unreadable);

  auto [code, log] = Run(args);
  EXPECT_EQ(code, 1) << log;
  EXPECT_NE(log.find("5 inputs: 2 processed, 0 already in " + out.string() + ", 3 failed"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find((mixed / "corrupt.jpg").string() + ": CorruptImage: "), std::string::npos)
      << log;
  EXPECT_NE(log.find((mixed / "notes.txt").string() + ": UnsupportedMediaType: "),
            std::string::npos)
      << log;
  EXPECT_NE(log.find(unreadable + ": "), std::string::npos) << log;
  EXPECT_TRUE(fs::exists(out / "good-1.webp"));
  EXPECT_TRUE(fs::exists(out / "good-2.webp"));
  EXPECT_EQ(Outputs(out).size(), 2u);
}

}  // namespace
}  // namespace pixq::testing
