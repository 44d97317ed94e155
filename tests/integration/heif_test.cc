// HEIC and AVIF through the real processes (issue 18): an upload is answered with its format and
// its size as shown, a job and a variant on it succeed, and poison HEIF files get their documented
// answers (README, "Errors") with no process down. The files are those tests/imaging makes at
// build time with heif-enc from the golden photograph (360x240).

#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <string>

#include "nlohmann/json.hpp"
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "tests/integration/photos.h"
#include "tests/support/http_client.h"
#include "tests/support/origin.h"
#include "tests/support/process.h"
#include "tests/support/system.h"

namespace pixq::testing {
namespace {

using nlohmann::json;

std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(PIXQ_HEIF_FIXTURES_DIR) + "/" + name, std::ios::binary);
  std::string file{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  EXPECT_FALSE(file.empty()) << name << " was not made at build time (heif-enc)";
  return file;
}

void PutBe32(std::string& file, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) file[at + i] = static_cast<char>((v >> (24 - 8 * i)) & 0xFF);
}

// The offset of box `type`'s size field (its first occurrence), or npos.
size_t BoxAt(const std::string& file, const std::string& type) {
  const size_t at = file.find(type);
  return at == std::string::npos || at < 4 ? std::string::npos : at - 4;
}

// `file` with its primary image's ispe saying width x height.
std::string Declaring(std::string file, uint32_t width, uint32_t height) {
  const size_t ispe = BoxAt(file, "ispe");
  EXPECT_NE(ispe, std::string::npos);
  PutBe32(file, ispe + 12, width);
  PutBe32(file, ispe + 16, height);
  return file;
}

// heif-enc writes no irot; its 16-byte pixi property, associated with the primary image, becomes
// one (tests/imaging/heif_decode_test.cc, WithIrot).
std::string WithIrot(std::string file, int quarter_turns) {
  const size_t at = BoxAt(file, "pixi");
  EXPECT_NE(at, std::string::npos);
  file.replace(at + 4, 4, "irot");
  for (size_t i = at + 8; i < at + 16; ++i) file[i] = '\0';
  file[at + 8] = static_cast<char>(quarter_turns);
  return file;
}

class HeifTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // URL sources from origins on loopback (UrlImportTest's allow-list).
    system_ = new System(
        SystemOptions{.partitions = 2, .workers = 1, .env = {{"PIXQ_FETCH_ALLOW", "127.0.0.1"}}});
  }
  static void TearDownTestSuite() {
    delete system_;
    system_ = nullptr;
  }
  static System* system_;

  const std::string& url() { return system_->url(); }

  HttpResponse Upload(const std::string& bytes) {
    return HttpPost(url() + "/v1/images", bytes, "application/octet-stream");
  }

  json Uploaded(const std::string& bytes) {
    HttpResponse up = Upload(bytes);
    EXPECT_TRUE(up.status == 201 || up.status == 200) << up.body;
    return json::parse(up.body, nullptr, false);
  }

  json RunJob(const std::string& image_id, const json& steps) {
    const json spec = {
        {"source", {{"imageId", image_id}}}, {"steps", steps}, {"output", {{"format", "png"}}}};
    HttpResponse r = HttpPost(url() + "/v1/jobs", spec.dump(), "application/json");
    EXPECT_EQ(r.status, 202) << r.body;
    return AwaitJob(url(), json::parse(r.body)["metadata"]["id"], absl::Minutes(1));
  }

  void ExpectProblem(const HttpResponse& r, long status, const std::string& reason,
                     const std::string& what) {
    const json body = json::parse(r.body, nullptr, false);
    EXPECT_EQ(r.status, status) << what << ": " << r.body.substr(0, 300);
    EXPECT_EQ(body.value("reason", ""), reason) << what << ": " << r.body.substr(0, 300);
    std::cout << what << ": " << r.status << " " << body.value("reason", "") << " ("
              << body.value("detail", "") << ")\n";
  }

  void ExpectStillWorking() {
    EXPECT_TRUE(system_->api().Running()) << system_->api().Log();
    EXPECT_TRUE(system_->worker(0).Running()) << system_->worker(0).Log();
    const json image = Uploaded(Fixture("photo.avif"));
    const json job = RunJob(image.value("id", ""), json::array({{{"op", "grayscale"}}}));
    EXPECT_EQ(job["status"]["phase"], "Succeeded") << job.dump();
  }
};

System* HeifTest::system_ = nullptr;

TEST_F(HeifTest, UploadsAreNamedHeicOrAvifWithTheSizeAsShown) {
  const json heic = Uploaded(Fixture("photo.heic"));
  EXPECT_EQ(heic["format"], "heic") << heic.dump();
  EXPECT_EQ(heic["width"], 360);
  EXPECT_EQ(heic["height"], 240);
  const json avif = Uploaded(Fixture("photo.avif"));
  EXPECT_EQ(avif["format"], "avif") << avif.dump();
  // Stored 240x360 and turned by irot: shown, and so catalogued, 360x240.
  const json turned = Uploaded(WithIrot(Fixture("orientation-6.heic"), 3));
  EXPECT_EQ(turned["format"], "heic") << turned.dump();
  EXPECT_EQ(turned["width"], 360);
  EXPECT_EQ(turned["height"], 240);
  // The catalogue says the same.
  const HttpResponse got = HttpGet(url() + "/v1/images/" + turned.value("id", ""));
  EXPECT_EQ(json::parse(got.body, nullptr, false)["format"], "heic") << got.body;
  // The original comes back as it was sent, with its own media type.
  const HttpResponse content = HttpGet(url() + "/v1/images/" + heic.value("id", "") + "/content");
  EXPECT_EQ(content.status, 200);
  EXPECT_EQ(content.Header("content-type"), "image/heic");
  EXPECT_EQ(content.body, Fixture("photo.heic"));
}

TEST_F(HeifTest, JobsAndVariantsOnAHeicSucceedShownAsItsIrotSays) {
  const json turned = Uploaded(WithIrot(Fixture("orientation-6.heic"), 3));
  const json job = RunJob(turned.value("id", ""),
                          json::array({{{"op", "resize"}, {"width", 180}, {"fit", "inside"}}}));
  ASSERT_EQ(job["status"]["phase"], "Succeeded") << job.dump();
  EXPECT_EQ(job["status"]["output"]["format"], "png");
  EXPECT_EQ(job["status"]["output"]["width"], 180);
  EXPECT_EQ(job["status"]["output"]["height"], 120);

  // Grayscale keeps the image's own format where pixq can write it: for a HEIC, JPEG.
  const HttpResponse gray =
      HttpGet(url() + "/v1/images/" + turned.value("id", "") + "/grayscale?wait=30s");
  ASSERT_EQ(gray.status, 200) << gray.body.substr(0, 300);
  EXPECT_EQ(gray.Header("content-type"), "image/jpeg");
  const cv::Mat decoded =
      cv::imdecode(std::vector<uchar>(gray.body.begin(), gray.body.end()), cv::IMREAD_UNCHANGED);
  EXPECT_EQ(decoded.cols, 360);
  EXPECT_EQ(decoded.rows, 240);
}

TEST_F(HeifTest, AUrlImportOfAnAvifJoinsTheCatalogueAsAvif) {
  const std::string avif = Fixture("photo.avif");
  Origin origin([&](const OriginRequest&) {
    return OriginReply{.headers = {{"Content-Type", "image/avif"}}, .body = avif};
  });
  const json spec = {{"source", {{"url", origin.url() + "/phone/IMG_0001.avif"}}},
                     {"steps", json::array({{{"op", "resize"}, {"width", 90}}})},
                     {"output", {{"format", "jpeg"}}}};
  HttpResponse r = HttpPost(url() + "/v1/jobs", spec.dump(), "application/json");
  ASSERT_EQ(r.status, 202) << r.body;
  const json done = AwaitJob(url(), json::parse(r.body)["metadata"]["id"], absl::Minutes(1));
  ASSERT_EQ(done["status"]["phase"], "Succeeded") << done.dump();
  EXPECT_EQ(done["status"]["output"]["width"], 90);
  EXPECT_EQ(done["status"]["output"]["height"], 60);
  const std::string image_id = done["status"].value("imageId", "");
  HttpResponse meta;
  ASSERT_TRUE(Eventually(
      [&] {
        meta = HttpGet(url() + "/v1/images/" + image_id);
        return meta.status == 200;
      },
      absl::Seconds(10)))
      << meta.status << " " << meta.body;
  const json image = json::parse(meta.body, nullptr, false);
  EXPECT_EQ(image["format"], "avif") << meta.body;
  EXPECT_EQ(image["width"], 360);
  EXPECT_EQ(image["height"], 240);
}

TEST_F(HeifTest, PoisonHeifFilesGetTheirDocumentedAnswers) {
  const std::string heic = Fixture("photo.heic");
  ExpectProblem(Upload(Declaring(heic, 100000, 100000)), 422, "ImageTooLarge",
                "a HEIC whose ispe declares 100000 x 100000");
  ExpectProblem(Upload(heic.substr(0, heic.size() / 2)), 400, "CorruptImage", "truncated HEIC");
  std::mt19937 rng(18);
  std::string random = heic;
  const size_t after_ftyp = BoxAt(heic, "meta");
  ASSERT_NE(after_ftyp, std::string::npos);
  for (size_t i = after_ftyp; i < random.size(); ++i) random[i] = static_cast<char>(rng());
  ExpectProblem(Upload(random), 400, "CorruptImage", "random bytes behind a HEIC ftyp box");

  // A sound header over a coded image larger than it declares: accepted at the door (only the
  // decoder can tell), refused by libheif in the codec process, for good.
  const json small = Uploaded(Declaring(heic, 100, 100));
  const json lying = RunJob(small.value("id", ""), json::array({{{"op", "grayscale"}}}));
  EXPECT_EQ(lying["status"]["phase"], "Failed") << lying.dump();
  EXPECT_EQ(lying["status"]["reason"], "CorruptImage") << lying.dump();
  EXPECT_EQ(lying["status"].value("attempts", 0), 1) << "not retried: " << lying.dump();
  std::cout << "a HEIC whose ispe declares 100 x 100 over 360 x 240 of data: job "
            << lying["status"].value("phase", "") << " " << lying["status"].value("reason", "")
            << " (" << lying["status"].value("message", "") << ")\n";
  ExpectStillWorking();
}

}  // namespace
}  // namespace pixq::testing
