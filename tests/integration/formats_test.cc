// GIF, TIFF and BMP through the real processes (issue 18): an upload is answered with its format
// and its size as shown (a GIF's with firstFrameOnly), a variant of each succeeds, and poison GIFs
// get their documented answers (README, "Errors") with no process down. The files are those
// tests/imaging makes at build time with ImageMagick from the golden photograph (360x240).

#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <string>

#include "nlohmann/json.hpp"
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/system.h"

namespace pixq::testing {
namespace {

using nlohmann::json;

std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(PIXQ_FORMATS_FIXTURES_DIR) + "/" + name, std::ios::binary);
  std::string file{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  EXPECT_FALSE(file.empty()) << name << " was not made at build time (ImageMagick)";
  return file;
}

class FormatsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    system_ = new System(SystemOptions{.partitions = 2, .workers = 1});
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
};

System* FormatsTest::system_ = nullptr;

TEST_F(FormatsTest, UploadsOfGifTiffAndBmpAreNamedAndTheirVariantsSucceed) {
  const std::pair<const char*, const char*> files[] = {
      {"photo.gif", "gif"}, {"photo.tiff", "tiff"}, {"photo.bmp", "bmp"}};
  for (const auto& [name, format] : files) {
    const std::string bytes = Fixture(name);
    const json image = Uploaded(bytes);
    EXPECT_EQ(image["format"], format) << image.dump();
    EXPECT_EQ(image["width"], 360) << name;
    EXPECT_EQ(image["height"], 240) << name;
    // Only a GIF says that one frame of it is used.
    EXPECT_EQ(image.value("firstFrameOnly", false), std::string(format) == "gif") << image.dump();
    const std::string id = image.value("id", "");
    // The catalogue says the same; the original comes back as sent, with its media type.
    const json got = json::parse(HttpGet(url() + "/v1/images/" + id).body, nullptr, false);
    EXPECT_EQ(got["format"], format) << got.dump();
    const HttpResponse content = HttpGet(url() + "/v1/images/" + id + "/content");
    EXPECT_EQ(content.status, 200);
    EXPECT_EQ(content.Header("content-type"), std::string("image/") + format);
    EXPECT_EQ(content.body, bytes);

    // Grayscale keeps the image's own format where pixq can write it: for these, JPEG.
    const HttpResponse gray = HttpGet(url() + "/v1/images/" + id + "/grayscale?wait=30s");
    ASSERT_EQ(gray.status, 200) << name << ": " << gray.body.substr(0, 300);
    EXPECT_EQ(gray.Header("content-type"), "image/jpeg") << name;
    const cv::Mat decoded =
        cv::imdecode(std::vector<uchar>(gray.body.begin(), gray.body.end()), cv::IMREAD_UNCHANGED);
    EXPECT_EQ(decoded.cols, 360) << name;
    EXPECT_EQ(decoded.rows, 240) << name;

    // A job, fitted within 180 wide.
    const json job =
        RunJob(id, json::array({{{"op", "resize"}, {"width", 180}, {"fit", "inside"}}}));
    ASSERT_EQ(job["status"]["phase"], "Succeeded") << job.dump();
    EXPECT_EQ(job["status"]["output"]["width"], 180) << name;
    EXPECT_EQ(job["status"]["output"]["height"], 120) << name;
  }
}

TEST_F(FormatsTest, ATiffIsCataloguedAndRunAsItsOrientationShowsIt) {
  // Stored 240x360 with Orientation 6: shown, and so catalogued, 360x240.
  const json image = Uploaded(Fixture("orientation-6.tiff"));
  EXPECT_EQ(image["format"], "tiff") << image.dump();
  EXPECT_EQ(image["width"], 360);
  EXPECT_EQ(image["height"], 240);
  const json job = RunJob(image.value("id", ""), json::array({{{"op", "grayscale"}}}));
  ASSERT_EQ(job["status"]["phase"], "Succeeded") << job.dump();
  EXPECT_EQ(job["status"]["output"]["width"], 360);
  EXPECT_EQ(job["status"]["output"]["height"], 240);
}

TEST_F(FormatsTest, PoisonGifsGetTheirDocumentedAnswers) {
  const std::string gif = Fixture("photo.gif");
  std::string bomb = gif;
  for (int i = 6; i < 10; ++i) bomb[i] = '\xff';
  ExpectProblem(Upload(bomb), 422, "ImageTooLarge", "a GIF whose screen is 65535 x 65535");
  ExpectProblem(Upload(gif.substr(0, gif.size() / 2)), 400, "CorruptImage",
                "a GIF cut short in its first frame");
  std::mt19937 rng(18);
  std::string random = gif;
  for (size_t i = 6; i < random.size(); ++i) random[i] = static_cast<char>(rng());
  const HttpResponse r = Upload(random);
  const json body = json::parse(r.body, nullptr, false);
  std::cout << "random bytes behind GIF89a: " << r.status << " " << body.value("reason", "") << " ("
            << body.value("detail", "") << ")\n";
  EXPECT_TRUE(r.status == 400 || r.status == 422) << r.body.substr(0, 300);

  // Every process up, and the next good job succeeds.
  EXPECT_TRUE(system_->api().Running()) << system_->api().Log();
  EXPECT_TRUE(system_->worker(0).Running()) << system_->worker(0).Log();
  const json image = Uploaded(Fixture("anim.gif"));
  const json job = RunJob(image.value("id", ""), json::array({{{"op", "mirror"}}}));
  EXPECT_EQ(job["status"]["phase"], "Succeeded") << job.dump();
}

}  // namespace
}  // namespace pixq::testing
