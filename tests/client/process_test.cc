#include "pkg/client/process.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "pkg/client/commands.h"
#include "pkg/crypto/sha256.h"
#include "tests/client/fake_api.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_transport.h"
#include "tests/support/process.h"

namespace pixq::client {
namespace {

namespace fs = std::filesystem;

void Write(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

std::string Read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(ParseResizeTest, ReadsWidthHeightOrEither) {
  int w = 0, h = 0;
  ASSERT_TRUE(ParseResize("800x600", w, h).ok());
  EXPECT_EQ(w, 800);
  EXPECT_EQ(h, 600);
  ASSERT_TRUE(ParseResize("800x", w, h).ok());
  EXPECT_EQ(w, 800);
  EXPECT_EQ(h, 0);
  ASSERT_TRUE(ParseResize("x600", w, h).ok());
  EXPECT_EQ(w, 0);
  EXPECT_EQ(h, 600);
  for (const char* bad : {"", "800", "x", "0x0", "-1x5", "axb", "800x600x2"}) {
    EXPECT_FALSE(ParseResize(bad, w, h).ok()) << bad;
  }
}

class PlanTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  fs::path in_ = fs::path(dir_.path()) / "photos";
  fs::path out_ = fs::path(dir_.path()) / "out";
};

TEST_F(PlanTest, NamesOutputsAfterTheInputsAndKeepsSubfolders) {
  Write(in_ / "b.jpg", "IMG b");
  Write(in_ / "a.jpeg", "IMG a");
  Write(in_ / "trip" / "c.png", "IMG c");
  Write(in_ / ".DS_Store", "junk");
  Write(in_ / ".cache" / "d.jpg", "IMG d");
  absl::StatusOr<std::vector<PlannedItem>> plan =
      Plan({.sources = {in_.string()}, .out_dir = out_.string(), .format = "webp"});
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->size(), 3u) << "hidden files and folders left out";
  EXPECT_EQ((*plan)[0].source, (in_ / "a.jpeg").string());
  EXPECT_EQ((*plan)[0].output, (out_ / "a.webp").string());
  EXPECT_EQ((*plan)[1].output, (out_ / "b.webp").string());
  EXPECT_EQ((*plan)[2].output, (out_ / "trip" / "c.webp").string());
  for (const PlannedItem& item : *plan) EXPECT_FALSE(item.present);
}

TEST_F(PlanTest, KeepsTheInputExtensionWhenTwoInputsWouldShareAnOutput) {
  Write(in_ / "a.jpg", "IMG 1");
  Write(in_ / "a.png", "IMG 2");
  absl::StatusOr<std::vector<PlannedItem>> plan =
      Plan({.sources = {in_.string(), (in_ / "a.jpg").string()},
            .out_dir = out_.string(),
            .format = "jpeg"});
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->size(), 3u);
  EXPECT_EQ((*plan)[0].output, (out_ / "a.jpg.jpg").string());
  EXPECT_EQ((*plan)[1].output, (out_ / "a.png.jpg").string());
  EXPECT_EQ((*plan)[2].output, (out_ / "a.jpg-2.jpg").string()) << "the same file named twice";
}

TEST_F(PlanTest, SkipsOutputsPresentAndLeavesTheOutputFolderOut) {
  out_ = in_ / "out";  // inside the folder processed
  Write(in_ / "a.jpg", "IMG a");
  Write(in_ / "b.jpg", "IMG b");
  Write(out_ / "a.webp", "made before");
  Write(out_ / "b.webp", "");  // empty: not an output
  absl::StatusOr<std::vector<PlannedItem>> plan =
      Plan({.sources = {in_.string()}, .out_dir = out_.string()});
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->size(), 2u) << "the outputs are not inputs";
  EXPECT_TRUE((*plan)[0].present);
  EXPECT_FALSE((*plan)[1].present);
}

TEST_F(PlanTest, SaysWhichSourceIsMissingAndRefusesAnUnknownFormat) {
  absl::StatusOr<std::vector<PlannedItem>> plan =
      Plan({.sources = {(in_ / "nothing.jpg").string()}, .out_dir = out_.string()});
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->size(), 1u);
  EXPECT_EQ((*plan)[0].missing, "no such file or folder");
  EXPECT_FALSE(Plan({.sources = {}, .out_dir = out_.string(), .format = "gif"}).ok());
}

TEST(BatchKeyTest, FollowsTheContentAndTheOptions) {
  const nlohmann::json rest = BatchRest({.width = 800, .height = 800, .quality = 80});
  EXPECT_EQ(rest["steps"][0],
            (nlohmann::json{{"op", "resize"}, {"fit", "inside"}, {"width", 800}, {"height", 800}}));
  EXPECT_EQ(rest["output"], (nlohmann::json{{"format", "webp"}, {"quality", 80}}));
  const std::string key = BatchKey(rest, {"a", "b"});
  EXPECT_EQ(key, BatchKey(BatchRest({.width = 800, .height = 800, .quality = 80}), {"a", "b"}));
  EXPECT_NE(key, BatchKey(rest, {"b", "a"}));
  EXPECT_NE(key, BatchKey(BatchRest({.width = 800, .height = 800, .quality = 81}), {"a", "b"}));
  EXPECT_LE(key.size(), 255u);
  EXPECT_EQ(key.rfind("pixq-process-", 0), 0u);
}

class RunProcessTest : public ::testing::Test {
 protected:
  int Run(std::string* summary = nullptr, std::string* errors = nullptr) {
    std::ostringstream shown, out, err;
    Progress progress(shown, /*terminal=*/false, clock_);
    const int status = ProcessCommand(client_, options_, progress, out, err);
    progress_ += shown.str();
    if (summary != nullptr) *summary = out.str();
    if (errors != nullptr) *errors = err.str();
    return status;
  }

  testing::TempDir dir_;
  fs::path in_ = fs::path(dir_.path()) / "photos";
  fs::path out_ = fs::path(dir_.path()) / "out";
  testing::FakeApi api_;
  testing::FakeTransport transport_{[this](const HttpCall& call) { return api_(call); }};
  testing::FakeClock clock_;
  Client client_{transport_, clock_};
  ProcessOptions options_{.sources = {in_.string()},
                          .out_dir = out_.string(),
                          .width = 800,
                          .height = 800,
                          .quality = 80};
  std::string progress_;
};

TEST_F(RunProcessTest, ProcessesAFolderInOneBatchAndReportsEachFailureByNameAndReason) {
  Write(in_ / "a.jpg", "IMG a");
  Write(in_ / "b.jpg", "IMG b");
  Write(in_ / "broken.jpg", "IMG BROKEN");
  Write(in_ / "notes.txt", "not an image");
  std::string summary, errors;
  EXPECT_EQ(Run(&summary, &errors), 1) << "something failed";
  EXPECT_EQ(Read(out_ / "a.webp"), "OUT:" + crypto::Sha256Hex("IMG a"));
  EXPECT_EQ(Read(out_ / "b.webp"), "OUT:" + crypto::Sha256Hex("IMG b"));
  EXPECT_FALSE(fs::exists(out_ / "broken.webp"));
  EXPECT_FALSE(fs::exists(out_ / "notes.webp"));
  EXPECT_EQ(api_.batches_created(), 1);
  EXPECT_EQ(api_.batch_bodies()[0]["images"].size(), 3u) << "what uploaded, in one batch";
  EXPECT_EQ(summary, "4 inputs: 2 processed, 0 already in " + out_.string() + ", 2 failed\n");
  EXPECT_NE(
      errors.find((in_ / "broken.jpg").string() + ": CorruptImage: the image could not be decoded"),
      std::string::npos)
      << errors;
  EXPECT_NE(
      errors.find((in_ / "notes.txt").string() + ": UnsupportedMediaType: not a JPEG, PNG, WebP"),
      std::string::npos)
      << errors;
  // Plain lines: one per item and stage, then the stage's totals.
  EXPECT_NE(progress_.find("upload 1/4 " + (in_ / "a.jpg").string()), std::string::npos)
      << progress_;
  EXPECT_NE(progress_.find("process 3/3 " + (in_ / "broken.jpg").string() + ": CorruptImage"),
            std::string::npos)
      << progress_;
  EXPECT_EQ(progress_.find('\r'), std::string::npos) << "nothing redrawn off a terminal";
}

TEST_F(RunProcessTest, ASecondRunSkipsEverythingDone) {
  Write(in_ / "a.jpg", "IMG a");
  Write(in_ / "b.jpg", "IMG b");
  ASSERT_EQ(Run(), 0);
  const int uploads = api_.uploads();
  std::string summary;
  EXPECT_EQ(Run(&summary), 0);
  EXPECT_EQ(summary, "2 inputs: 0 processed, 2 already in " + out_.string() + ", 0 failed\n");
  EXPECT_EQ(api_.uploads(), uploads) << "nothing uploaded again";
  EXPECT_EQ(api_.batches_created(), 1);
}

TEST_F(RunProcessTest, AnInterruptedRunIsCompletedByTheNext) {
  Write(in_ / "a.jpg", "IMG a");
  Write(in_ / "b.jpg", "IMG b");
  Write(in_ / "c.jpg", "IMG c");
  api_.BreakDownloadsOf(crypto::Sha256Hex("IMG c"));
  std::string errors;
  EXPECT_EQ(Run(nullptr, &errors), 1);
  EXPECT_NE(errors.find("c.jpg: EndpointUnreachable"), std::string::npos) << errors;
  EXPECT_FALSE(fs::exists(out_ / "c.webp"));

  api_.RepairDownloads();
  const int uploads = api_.uploads();
  std::string summary;
  EXPECT_EQ(Run(&summary), 0);
  EXPECT_EQ(summary, "3 inputs: 1 processed, 2 already in " + out_.string() + ", 0 failed\n");
  EXPECT_EQ(Read(out_ / "c.webp"), "OUT:" + crypto::Sha256Hex("IMG c"));
  EXPECT_EQ(api_.uploads(), uploads) << "the API has every image already";
  EXPECT_EQ(api_.batches_created(), 1) << "the first run's batch and jobs, nothing queued again";
  const std::vector<HttpCall> calls = transport_.calls();
  int downloads = 0;
  for (const HttpCall& call : calls) downloads += !call.output_file.empty();
  EXPECT_EQ(downloads, 4) << "three in the first run (one broke), the one left in the second";
}

TEST_F(RunProcessTest, ARepeatOfTheSameRunFindsItsBatchAgain) {
  Write(in_ / "a.jpg", "IMG a");
  api_.BreakDownloadsOf(crypto::Sha256Hex("IMG a"));
  EXPECT_EQ(Run(), 1);
  api_.RepairDownloads();
  EXPECT_EQ(Run(), 0);
  EXPECT_EQ(api_.batches_created(), 1) << "the same Idempotency-Key: the same batch";
  const std::vector<HttpCall> calls = transport_.calls();
  int keyed = 0;
  for (const HttpCall& call : calls) {
    for (const auto& [name, value] : call.headers) {
      keyed += name == "Idempotency-Key" && value.rfind("pixq-process-", 0) == 0;
    }
  }
  EXPECT_EQ(keyed, 2);
}

TEST_F(RunProcessTest, ReportsAnUnreadableOrMissingInput) {
  Write(in_ / "a.jpg", "IMG a");
  options_.sources.push_back((in_ / "gone.jpg").string());
  std::string errors;
  EXPECT_EQ(Run(nullptr, &errors), 1);
  EXPECT_NE(errors.find("gone.jpg: SourceMissing: no such file or folder"), std::string::npos)
      << errors;
  EXPECT_TRUE(fs::exists(out_ / "a.webp"));
}

}  // namespace
}  // namespace pixq::client
