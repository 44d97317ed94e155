// Poison input against the real processes: each bad upload or bad image gets its documented
// answer (README, "Errors"), no process goes down, and the next good job succeeds.

#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "tests/integration/photos.h"
#include "tests/support/figures.h"
#include "tests/support/http_client.h"
#include "tests/support/system.h"

namespace pixq::testing {
namespace {

using nlohmann::json;

void PutBe32(std::string& png, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) png[at + i] = static_cast<char>((v >> (24 - 8 * i)) & 0xFF);
}

// PNG's CRC-32 of bytes [from, to).
uint32_t PngCrc(const std::string& png, size_t from, size_t to) {
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = from; i < to; ++i) {
    crc ^= static_cast<unsigned char>(png[i]);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return crc ^ 0xFFFFFFFFu;
}

// A PNG whose IHDR declares width x height, with a valid CRC and a tiny (wrong) IDAT.
std::string PngDeclaring(uint32_t width, uint32_t height) {
  std::string png = Encoded(cv::Mat(8, 8, CV_8UC3, cv::Scalar(1, 2, 3)), ".png");
  PutBe32(png, 16, width);  // IHDR data starts at 16: width, height, ...
  PutBe32(png, 20, height);
  PutBe32(png, 29, PngCrc(png, 12, 29));  // the CRC covers the chunk type and data (12..29)
  return png;
}

// `png` with a chunk inserted right after IHDR (which ends at 33).
std::string WithChunk(std::string png, const std::string& type, const std::string& data) {
  std::string chunk(4, '\0');
  PutBe32(chunk, 0, static_cast<uint32_t>(data.size()));
  chunk += type + data + std::string(4, '\0');
  PutBe32(chunk, chunk.size() - 4, PngCrc(chunk, 4, chunk.size() - 4));
  return png.insert(33, chunk);
}

constexpr int kDecodeLimitMs = 250;

class PoisonTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // A decode limit tight enough for the slow image below, roomy for everything else.
    system_ = new System(
        SystemOptions{.partitions = 2,
                      .workers = 1,
                      .env = {{"PIXQ_LIMITS_DECODE_TIMEOUT_MS", std::to_string(kDecodeLimitMs)}}});
  }
  static void TearDownTestSuite() {
    delete system_;
    system_ = nullptr;
  }
  static System* system_;

  const std::string& url() { return system_->url(); }

  HttpResponse Upload(const std::string& bytes,
                      const std::string& type = "application/octet-stream") {
    return HttpPost(url() + "/v1/images", bytes, type);
  }

  // Uploads `bytes` (which must be accepted) and runs a resize on them; the job's last record.
  json RunJob(const std::string& bytes) {
    HttpResponse up = Upload(bytes);
    EXPECT_TRUE(up.status == 201 || up.status == 200) << up.body;
    const json image = json::parse(up.body, nullptr, false);
    const json spec = {{"source", {{"imageId", image.value("id", "")}}},
                       {"steps", json::array({{{"op", "resize"}, {"width", 64}}})},
                       {"output", {{"format", "png"}}}};
    HttpResponse r = HttpPost(url() + "/v1/jobs", spec.dump(), "application/json");
    EXPECT_EQ(r.status, 202) << r.body;
    return AwaitJob(url(), json::parse(r.body)["metadata"]["id"], absl::Minutes(1));
  }

  void ExpectProblem(const HttpResponse& r, long status, const std::string& reason,
                     const std::string& what) {
    EXPECT_EQ(r.status, status) << what << ": " << r.body.substr(0, 300);
    EXPECT_EQ(json::parse(r.body, nullptr, false).value("reason", ""), reason)
        << what << ": " << r.body.substr(0, 300);
    std::cout << what << ": " << r.status << " "
              << json::parse(r.body, nullptr, false).value("reason", "") << "\n";
    Poisoned(what,
             absl::StrCat("answered ", r.status, " ",
                          json::parse(r.body, nullptr, false).value("reason", "")),
             /*jobs=*/0, /*lost=*/0);
  }

  // Notes a poison input; recorded by the next ExpectStillWorking, with what it found.
  void Poisoned(const std::string& what, const std::string& outcome, int jobs, int lost) {
    poisoned_.push_back({.fault = "Poison input",
                         .injected = what,
                         .jobs = jobs,
                         .lost = lost,
                         .redeliveries = outcome});
  }

  // Both processes still up, and a good job succeeds; records the poison inputs noted since.
  bool ExpectStillWorking() {
    const bool up = system_->api().Running() && system_->worker(0).Running();
    EXPECT_TRUE(system_->api().Running()) << system_->api().Log();
    EXPECT_TRUE(system_->worker(0).Running()) << system_->worker(0).Log();
    static int n = 0;
    const json job =
        RunJob(Encoded(cv::Mat(50, 80 + n++, CV_8UC3, cv::Scalar(9, 99, 199)), ".jpg"));
    EXPECT_EQ(job["status"]["phase"], "Succeeded") << job.dump();
    const bool works = up && job["status"]["phase"] == "Succeeded";
    for (FaultFigures& figures : poisoned_) {
      figures.recovery = works ? "none needed: both processes stayed up and the next good job "
                                 "Succeeded"
                               : "FAILED: a process went down or the next good job did not succeed";
      RecordFault(figures);
    }
    poisoned_.clear();
    return works;
  }

  std::vector<FaultFigures> poisoned_;
};

System* PoisonTest::system_ = nullptr;

TEST_F(PoisonTest, RefusesBadUploadsAtTheDoor) {
  ExpectProblem(Upload(""), 400, "EmptyBody", "zero-byte body");
  ExpectProblem(Upload("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1\" height=\"1\"/>",
                       "image/svg+xml"),
                415, "UnsupportedMediaType", "SVG");
  std::mt19937 rng(7);
  std::string random(4096, '\0');
  for (char& c : random) c = static_cast<char>(rng());
  random[0] = static_cast<char>(0xFF);
  random[1] = static_cast<char>(0xD8);
  random[2] = static_cast<char>(0xFF);
  ExpectProblem(Upload(random), 400, "CorruptImage", "random bytes behind a JPEG magic number");
  const std::string bomb = PngDeclaring(100000, 100000);
  ASSERT_LT(bomb.size(), 1024u);
  ExpectProblem(Upload(bomb), 422, "ImageTooLarge", "a 1 KB PNG declaring 100000 x 100000");
  // 200 MB, four times the upload limit: refused while reading, not after buffering it all.
  const std::string huge(200u << 20, 'x');
  const absl::Time start = absl::Now();
  ExpectProblem(Upload(huge, "image/jpeg"), 413, "PayloadTooLarge", "200 MB body");
  std::cout << "200 MB body refused in " << absl::FormatDuration(absl::Now() - start) << "\n";
  ExpectStillWorking();
}

TEST_F(PoisonTest, RefusesOrFailsImagesThatDoNotDecode) {
  const std::string photo = Encoded(cv::imread(kPhoto, cv::IMREAD_REDUCED_COLOR_8), ".jpg");
  ASSERT_GT(photo.size(), 10000u);
  // Cut short, it would decode with its lower half grey: refused at the door instead.
  ExpectProblem(Upload(photo.substr(0, photo.size() / 2)), 400, "CorruptImage", "truncated JPEG");

  std::string bad_crc = Encoded(cv::Mat(64, 64, CV_8UC3, cv::Scalar(5, 6, 7)), ".png");
  const size_t idat = bad_crc.find("IDAT");
  ASSERT_NE(idat, std::string::npos);
  bad_crc[idat + 6] = static_cast<char>(bad_crc[idat + 6] ^ 0x55);  // data changed, CRC not
  const json crc = RunJob(bad_crc);
  EXPECT_EQ(crc["status"]["phase"], "Failed") << crc.dump();
  EXPECT_EQ(crc["status"]["reason"], "CorruptImage") << crc.dump();
  std::cout << "PNG with a bad CRC: " << crc["status"]["reason"] << "\n";
  Poisoned("PNG with a bad CRC (accepted at upload: its header is sound)",
           "job Failed " + crc["status"].value("reason", ""), /*jobs=*/1,
           /*lost=*/crc["status"]["reason"] == "CorruptImage" ? 0 : 1);
  ExpectStillWorking();
}

// A valid image that takes longer to decode than limits.decode_timeout_ms: the codec process is
// killed, the job fails for good with the reason, and the worker carries on with a new one.
TEST_F(PoisonTest, AnImageThatDecodesTooSlowlyFailsAndTheWorkerCarriesOn) {
  cv::Mat small(50, 50, CV_8UC3);
  cv::randu(small, 0, 255);
  cv::Mat big;
  cv::resize(small, big, cv::Size(6000, 6000), 0, 0, cv::INTER_CUBIC);
  // With a transparent colour (tRNS), which keeps it off the worker's fast PNG path
  // (imaging::DecodeSimplePng) and on libpng's: over twice the limit here, where the fast path
  // would come too close to it to tell.
  const std::string png = WithChunk(Encoded(big, ".png"), "tRNS", std::string(6, '\0'));
  const absl::Time start = absl::Now();
  const json slow = RunJob(png);
  EXPECT_EQ(slow["status"]["phase"], "Failed") << slow.dump();
  EXPECT_EQ(slow["status"]["reason"], "TimeLimitExceeded") << slow.dump();
  EXPECT_EQ(slow["status"].value("attempts", 0), 1) << "not retried: " << slow.dump();
  const int megapixels = static_cast<int>(big.total() / 1'000'000);
  std::cout << "a " << megapixels << " MP PNG (" << png.size() / 1000 << " KB) over a "
            << kDecodeLimitMs << " ms decode limit: " << slow["status"].value("message", "")
            << "; job ended after " << absl::FormatDuration(absl::Now() - start) << "\n";
  const std::string message =
      slow["status"]["message"].is_string() ? slow["status"]["message"].get<std::string>() : "";
  const bool killed = message.find("the codec process was stopped") != std::string::npos;
  EXPECT_TRUE(killed) << slow.dump();
  const bool as_documented = slow["status"]["reason"] == "TimeLimitExceeded" &&
                             slow["status"].value("attempts", 0) == 1 && killed;
  const absl::Time next = absl::Now();
  const bool works = ExpectStillWorking();
  RecordFault(
      {.fault = "An image that decodes too slowly",
       .injected =
           absl::StrCat("a valid ", megapixels, " MP PNG with a tRNS chunk (", png.size() / 1000,
                        " KB) under a ", kDecodeLimitMs, " ms limits.decode_timeout_ms"),
       .jobs = 2,
       .lost = (as_documented ? 0 : 1) + (works ? 0 : 1),
       .redeliveries = as_documented ? "job Failed TimeLimitExceeded on attempt 1: " + message
                                     : "NOT AS DOCUMENTED: " + slow["status"].dump(),
       .recovery =
           works ? "a new codec process; the next job Succeeded in " + Took(absl::Now() - next)
                 : "FAILED: the next job did not succeed"});
}

}  // namespace
}  // namespace pixq::testing
