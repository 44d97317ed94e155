// The whole path, end to end, against the real processes: pixq-devbroker (librdkafka's mock
// cluster, a real Kafka wire-protocol peer), pixq-api and two pixq-worker in one consumer group.
// A real 20-megapixel photograph and a PNG are uploaded, more than a hundred jobs mixing every
// step and format are submitted and long-polled to Succeeded, and every output is decoded and
// checked for its format and exact dimensions.

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "tests/integration/photos.h"
#include "tests/support/http_client.h"
#include "tests/support/system.h"

namespace pixq::testing {
namespace {

using nlohmann::json;

struct Size {
  int width;
  int height;
};

// What a step does to the dimensions, as DESIGN.md defines the steps (no upscaling here).
Size Apply(const json& step, Size in) {
  const std::string op = step["op"];
  if (op == "rotate") {
    return step["degrees"].get<int>() == 180 ? in : Size{in.height, in.width};
  }
  if (op == "crop") {
    return {std::min(step["width"].get<int>(), in.width),
            std::min(step["height"].get<int>(), in.height)};
  }
  if (op != "resize") return in;
  const std::string fit = step.value("fit", "inside");
  const bool has_w = step.contains("width");
  const bool has_h = step.contains("height");
  if (fit == "fill" || fit == "cover") return {step["width"], step["height"]};
  double scale;
  if (has_w && has_h) {
    scale =
        std::min(step["width"].get<double>() / in.width, step["height"].get<double>() / in.height);
  } else if (has_w) {
    scale = step["width"].get<double>() / in.width;
  } else {
    scale = step["height"].get<double>() / in.height;
  }
  if (scale >= 1.0) return in;
  return {std::max(1, static_cast<int>(std::lround(in.width * scale))),
          std::max(1, static_cast<int>(std::lround(in.height * scale)))};
}

std::string FormatOfBytes(const std::string& bytes) {
  if (bytes.size() > 3 && static_cast<unsigned char>(bytes[0]) == 0xFF &&
      static_cast<unsigned char>(bytes[1]) == 0xD8) {
    return "jpeg";
  }
  if (bytes.rfind("\x89PNG\r\n\x1a\n", 0) == 0) return "png";
  if (bytes.size() > 12 && bytes.compare(0, 4, "RIFF") == 0 && bytes.compare(8, 4, "WEBP") == 0) {
    return "webp";
  }
  return "unknown";
}

json ParseJson(const HttpResponse& r) {
  return json::parse(r.body, nullptr, /*allow_exceptions=*/false);
}

class EndToEndTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    system_ = new System(SystemOptions{.partitions = 4, .workers = 2});
  }
  static void TearDownTestSuite() {
    delete system_;
    system_ = nullptr;
  }
  static System* system_;

  const std::string& url() { return system_->url(); }

  json UploadPhoto() {
    const std::string bytes = ReadFile(kPhoto);
    EXPECT_GT(bytes.size(), 1000000u) << "the photograph is missing; run scripts/setup.sh";
    HttpResponse r = HttpPostForm(
        url() + "/v1/images",
        {{.name = "image", .data = bytes, .filename = "kleiber.jpg", .content_type = "image/jpeg"},
         {.name = "title", .data = "Kleiber"}});
    EXPECT_TRUE(r.status == 201 || r.status == 200) << r.status << " " << r.body;
    return ParseJson(r);
  }
};

System* EndToEndTest::system_ = nullptr;

TEST_F(EndToEndTest, AnswersTheProbes) {
  EXPECT_EQ(HttpGet(url() + "/healthz").status, 200);
  EXPECT_EQ(HttpGet(url() + "/readyz").status, 200);
  HttpResponse health = HttpGet(url() + "/health");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "OK");
  // Each worker has its own probe port; ready once it is in the consumer group.
  for (int i = 0; i < system_->worker_count(); ++i) {
    std::string probe;
    ASSERT_TRUE(Eventually([&] { return !(probe = system_->WorkerProbeUrl(i)).empty(); },
                           absl::Seconds(30)));
    EXPECT_EQ(HttpGet(probe + "/healthz").status, 200);
    EXPECT_TRUE(
        Eventually([&] { return HttpGet(probe + "/readyz").status == 200; }, absl::Seconds(60)))
        << system_->worker(i).Log();
  }
}

TEST_F(EndToEndTest, UploadsAPhotographOnceByContent) {
  json first = UploadPhoto();
  EXPECT_EQ(first["format"], "jpeg");
  EXPECT_EQ(first["width"], 6028);
  EXPECT_EQ(first["height"], 3391);
  EXPECT_EQ(first["title"], "Kleiber");
  EXPECT_EQ(first["id"].get<std::string>().size(), 64u);
  // The same bytes again are the same image.
  HttpResponse again = HttpPost(url() + "/v1/images", ReadFile(kPhoto), "image/jpeg");
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(ParseJson(again)["id"], first["id"]);
  HttpResponse meta = HttpGet(url() + "/v1/images/" + first["id"].get<std::string>());
  EXPECT_EQ(meta.status, 200);
  EXPECT_EQ(ParseJson(meta)["bytes"], ReadFile(kPhoto).size());
  HttpResponse content =
      HttpGet(url() + "/v1/images/" + first["id"].get<std::string>() + "/content");
  EXPECT_EQ(content.status, 200);
  EXPECT_EQ(content.Header("content-type"), "image/jpeg");
  EXPECT_TRUE(content.body == ReadFile(kPhoto));
}

TEST_F(EndToEndTest, RefusesBadInputWithProblemDetails) {
  auto expect_problem = [](const HttpResponse& r, long status, const std::string& reason) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.Header("content-type"), "application/problem+json") << r.body;
    json body = ParseJson(r);
    EXPECT_EQ(body.value("reason", ""), reason) << r.body;
    EXPECT_EQ(body.value("status", 0), status);
  };
  expect_problem(HttpPost(url() + "/v1/images", "just some text, not an image", "text/plain"), 415,
                 "UnsupportedMediaType");
  expect_problem(HttpPost(url() + "/v1/images", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
                          "image/svg+xml"),
                 415, "UnsupportedMediaType");
  expect_problem(HttpPost(url() + "/v1/jobs", "{not json", "application/json"), 400,
                 "MalformedJson");
  const std::string image = std::string(64, 'a');
  expect_problem(HttpPost(url() + "/v1/jobs",
                          R"({"source":{"imageId":")" + image + R"("},"steps":[{"op":"explode"}]})",
                          "application/json"),
                 422, "InvalidSpec");
  expect_problem(
      HttpPost(url() + "/v1/jobs",
               R"({"source":{"imageId":")" + image + R"("},"steps":[{"op":"resize","width":-5}]})",
               "application/json"),
      422, "InvalidSpec");
  expect_problem(HttpPost(url() + "/v1/jobs", R"({"source":{"imageId":")" + image + R"("}})",
                          "application/json"),
                 422, "ImageNotFound");
  expect_problem(HttpGet(url() + "/v1/jobs/j_01HV3K9Q6Y0S4W7T1F2D5G8B9C"), 404, "JobNotFound");
  expect_problem(HttpGet(url() + "/v1/jobs/..%2F..%2Fetc%2Fpasswd"), 404, "JobNotFound");
  expect_problem(HttpGet(url() + "/v1/images/" + image), 404, "ImageNotFound");
  expect_problem(HttpGet(url() + "/v1/nothing-here"), 404, "RouteNotFound");
  // Still alive and well after all that.
  EXPECT_EQ(HttpGet(url() + "/healthz").status, 200);
}

TEST_F(EndToEndTest, RunsMoreThanAHundredJobsOnBothWorkers) {
  ASSERT_TRUE(Eventually([] { return system_->AllWorkersOwnPartitions(); }, absl::Seconds(60)))
      << "the consumer group did not give both workers partitions";

  const json photo = UploadPhoto();
  ASSERT_TRUE(photo.contains("id"));
  // A PNG made from the photograph, uploaded as a raw body.
  cv::Mat decoded = cv::imread(kPhoto, cv::IMREAD_REDUCED_COLOR_4);
  ASSERT_FALSE(decoded.empty());
  std::vector<uchar> png_bytes;
  ASSERT_TRUE(cv::imencode(".png", decoded, png_bytes));
  HttpResponse png_upload = HttpPost(url() + "/v1/images?title=Kleiber%20PNG",
                                     std::string(png_bytes.begin(), png_bytes.end()), "image/png");
  ASSERT_EQ(png_upload.status, 201) << png_upload.body;
  const json png = ParseJson(png_upload);
  EXPECT_EQ(png["format"], "png");
  EXPECT_EQ(png["width"], decoded.cols);
  EXPECT_EQ(png["height"], decoded.rows);

  const std::vector<json> step_lists = {
      json::array({{{"op", "resize"}, {"width", 800}, {"height", 800}}}),
      json::array({{{"op", "resize"}, {"width", 640}, {"height", 480}, {"fit", "cover"}}}),
      json::array({{{"op", "resize"}, {"width", 300}, {"height", 200}, {"fit", "fill"}}}),
      json::array({{{"op", "resize"}, {"width", 500}}, {{"op", "grayscale"}}}),
      json::array({{{"op", "resize"}, {"height", 400}}, {{"op", "mirror"}}}),
      json::array({{{"op", "resize"}, {"width", 700}}, {{"op", "flip"}}}),
      json::array({{{"op", "resize"}, {"width", 600}}, {{"op", "rotate"}, {"degrees", 90}}}),
      json::array({{{"op", "resize"}, {"width", 450}}, {{"op", "rotate"}, {"degrees", 180}}}),
      json::array({{{"op", "resize"}, {"width", 520}},
                   {{"op", "rotate"}, {"degrees", 270}},
                   {{"op", "grayscale"}},
                   {{"op", "mirror"}}}),
      json::array({{{"op", "crop"}, {"width", 900}, {"height", 700}, {"gravity", "center"}},
                   {{"op", "resize"}, {"width", 300}}}),
      json::array({{{"op", "resize"}, {"width", 640}}, {{"op", "blur"}, {"sigma", 2}}}),
      json::array({{{"op", "resize"}, {"width", 640}}, {{"op", "sharpen"}}}),
  };
  const std::vector<std::string> formats = {"jpeg", "png", "webp"};
  struct Submitted {
    std::string id;
    std::string format;
    Size expected;
    bool grayscale;
  };
  std::vector<Submitted> submitted;
  const int kJobs = 120;
  for (int i = 0; i < kJobs; ++i) {
    const bool use_photo = i % 2 == 0;
    const json& source = use_photo ? photo : png;
    json steps = step_lists[i % step_lists.size()];
    // Every job differs (a width a pixel apart), so none is a cache hit and all are real work.
    if (steps[0].contains("width")) {
      steps[0]["width"] = steps[0]["width"].get<int>() - i / static_cast<int>(step_lists.size());
    }
    const std::string format = formats[(i / 2) % formats.size()];
    json output = {{"format", format}};
    if (format != "png") output["quality"] = 70 + i % 25;
    const json spec = {
        {"source", {{"imageId", source["id"]}}}, {"steps", steps}, {"output", output}};
    HttpResponse r = HttpPost(url() + "/v1/jobs", spec.dump(), "application/json");
    ASSERT_EQ(r.status, 202) << r.body;
    const json job = ParseJson(r);
    ASSERT_EQ(r.Header("location"), "/v1/jobs/" + job["metadata"]["id"].get<std::string>());
    EXPECT_EQ(job["status"]["phase"], "Pending");
    Size size{source["width"], source["height"]};
    bool grayscale = false;
    for (const json& step : steps) {
      size = Apply(step, size);
      grayscale = grayscale || step["op"] == "grayscale";
    }
    submitted.push_back({job["metadata"]["id"], format, size, grayscale});
  }

  // Long-poll every job to its end.
  std::map<std::string, int> per_worker;
  const absl::Time deadline = absl::Now() + absl::Minutes(5);
  for (const Submitted& s : submitted) {
    const json job = AwaitJob(url(), s.id, std::max(deadline - absl::Now(), absl::Seconds(1)));
    ASSERT_EQ(job["status"]["phase"], "Succeeded") << job.dump();
    per_worker[job["status"]["worker"].get<std::string>()]++;
    const json& out = job["status"]["output"];
    EXPECT_EQ(out["format"], s.format);
    EXPECT_EQ(out["width"], s.expected.width) << job.dump();
    EXPECT_EQ(out["height"], s.expected.height) << job.dump();

    HttpResponse bytes = HttpGet(url() + out["url"].get<std::string>());
    ASSERT_EQ(bytes.status, 200);
    EXPECT_EQ(bytes.Header("content-type"), "image/" + s.format);
    EXPECT_FALSE(bytes.Header("etag").empty());
    EXPECT_EQ(FormatOfBytes(bytes.body), s.format);
    EXPECT_EQ(static_cast<size_t>(out["bytes"].get<int64_t>()), bytes.body.size());
    cv::Mat image = cv::imdecode(std::vector<uchar>(bytes.body.begin(), bytes.body.end()),
                                 cv::IMREAD_UNCHANGED);
    ASSERT_FALSE(image.empty()) << "output of " << s.id << " does not decode";
    EXPECT_EQ(image.cols, s.expected.width) << s.id;
    EXPECT_EQ(image.rows, s.expected.height) << s.id;
    if (s.grayscale) {
      // WebP has no single-channel form; OpenCV reads it back as three equal channels.
      if (s.format != "webp") {
        EXPECT_EQ(image.channels(), 1) << s.id;
      }
    } else {
      EXPECT_GE(image.channels(), 3) << s.id;
    }
  }
  std::string distribution;
  for (const auto& [worker, count] : per_worker) {
    distribution += worker + "=" + std::to_string(count) + " ";
  }
  std::cout << "jobs per worker: " << distribution << "\n";
  EXPECT_EQ(per_worker.size(), 2u) << "both workers should have run jobs: " << distribution;

  // The same job again is born Succeeded from the existing output: nothing queued.
  const json again = {{"source", {{"imageId", photo["id"]}}},
                      {"steps", step_lists[0]},
                      {"output", {{"format", "jpeg"}, {"quality", 70}}}};
  HttpResponse hit = HttpPost(url() + "/v1/jobs", again.dump(), "application/json");
  ASSERT_EQ(hit.status, 201) << hit.body;
  EXPECT_EQ(ParseJson(hit)["status"]["phase"], "Succeeded");
  EXPECT_EQ(ParseJson(hit)["status"]["cacheHit"], true);
  // And its output is served with caching headers, 304 when the client has it.
  HttpResponse served = HttpGet(url() + "/v1/jobs/" +
                                ParseJson(hit)["metadata"]["id"].get<std::string>() + "/output");
  ASSERT_EQ(served.status, 200);
  EXPECT_NE(served.Header("cache-control").find("immutable"), std::string::npos);
  HttpResponse not_modified =
      HttpGet(url() + "/v1/jobs/" + ParseJson(hit)["metadata"]["id"].get<std::string>() + "/output",
              {{"If-None-Match", served.Header("etag")}});
  EXPECT_EQ(not_modified.status, 304);

  // No partial file is left in tmp/.
  size_t leftovers = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator(system_->root() + "/volume/tmp")) {
    ++leftovers;
  }
  EXPECT_EQ(leftovers, 0u);
}

TEST_F(EndToEndTest, FailsAJobOnAnUndecodableImageAndStaysUp) {
  // A PNG whose header is fine but whose pixel data is garbage: accepted at upload (the header
  // is read, not the pixels), refused by the worker's decoder.
  std::vector<uchar> encoded;
  ASSERT_TRUE(cv::imencode(".png", cv::Mat(64, 64, CV_8UC3, cv::Scalar(10, 200, 30)), encoded));
  std::string bytes(encoded.begin(), encoded.end());
  const size_t idat = bytes.find("IDAT");
  ASSERT_NE(idat, std::string::npos);
  for (size_t i = idat + 4; i < bytes.size() - 12; ++i) bytes[i] = static_cast<char>(0xA5 ^ i);
  HttpResponse upload = HttpPost(url() + "/v1/images", bytes, "image/png");
  ASSERT_EQ(upload.status, 201) << upload.body;
  const json spec = {{"source", {{"imageId", ParseJson(upload)["id"]}}},
                     {"steps", json::array({{{"op", "resize"}, {"width", 100}}})}};
  HttpResponse created = HttpPost(url() + "/v1/jobs", spec.dump(), "application/json");
  ASSERT_EQ(created.status, 202) << created.body;
  const std::string id = ParseJson(created)["metadata"]["id"];
  const json job = AwaitJob(url(), id, absl::Seconds(60));
  EXPECT_EQ(job["status"]["phase"], "Failed");
  EXPECT_FALSE(job["status"]["reason"].get<std::string>().empty());
  EXPECT_EQ(HttpGet(url() + "/v1/jobs/" + id + "/output").status, 422);
  for (int i = 0; i < system_->worker_count(); ++i) {
    EXPECT_TRUE(system_->worker(i).Running()) << system_->worker(i).Log();
  }
  EXPECT_TRUE(system_->api().Running());
}

}  // namespace
}  // namespace pixq::testing
