#include "pkg/imaging/pipeline.h"

#include <gtest/gtest.h>

#include "pkg/errors/errors.h"
#include "tests/imaging/test_images.h"

namespace pixq::imaging {
namespace {

using job::Fit;
using testing::Decode;
using testing::Encode;

const job::OutputSpec kPng{.format = job::Format::kPng};

class PipelineTest : public ::testing::Test {
 protected:
  // Runs and decodes the output.
  cv::Mat Run(const cv::Mat& input, const std::vector<job::Step>& steps,
              const job::OutputSpec& output = kPng, const std::string& ext = ".png") {
    absl::StatusOr<Result> result = pipeline_.Run(Encode(input, ext), steps, output);
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok()) return {};
    cv::Mat out = Decode(result->bytes);
    EXPECT_EQ(out.cols, result->width);
    EXPECT_EQ(out.rows, result->height);
    return out;
  }

  absl::Status Error(const std::string& input, const std::vector<job::Step>& steps,
                     const job::OutputSpec& output = kPng) {
    return pipeline_.Run(input, steps, output).status();
  }

  Pipeline pipeline_{Limits{.max_pixels = 50'000'000, .max_output_dimension = 5000}};
};

cv::Vec3b At(const cv::Mat& m, int x, int y) { return m.at<cv::Vec3b>(y, x); }
const cv::Vec3b kRed(0, 0, 255), kGreen(0, 255, 0), kBlue(255, 0, 0), kWhite(255, 255, 255);

TEST_F(PipelineTest, ResizeInsideKeepsTheAspectRatio) {
  cv::Mat out = Run(testing::Photo(400, 200), {job::Resize{.width = 100, .height = 100}});
  EXPECT_EQ(out.size(), cv::Size(100, 50));
  out = Run(testing::Photo(400, 200), {job::Resize{.width = 300}});
  EXPECT_EQ(out.size(), cv::Size(300, 150));
  out = Run(testing::Photo(400, 200), {job::Resize{.height = 33}});
  EXPECT_EQ(out.size(), cv::Size(66, 33));
}

TEST_F(PipelineTest, ResizeDoesNotUpscaleUnlessAsked) {
  EXPECT_EQ(Run(testing::Photo(40, 20), {job::Resize{.width = 400}}).size(), cv::Size(40, 20));
  EXPECT_EQ(Run(testing::Photo(40, 20), {job::Resize{.width = 400, .upscale = true}}).size(),
            cv::Size(400, 200));
  EXPECT_EQ(Run(testing::Photo(40, 20), {job::Resize{.width = 80, .height = 80, .fit = Fit::kFill}})
                .size(),
            cv::Size(40, 20));
  EXPECT_EQ(
      Run(testing::Photo(40, 20), {job::Resize{.width = 30, .height = 30, .fit = Fit::kCover}})
          .size(),
      cv::Size(30, 20));
}

TEST_F(PipelineTest, ResizeCoverFillsTheBoxAndCropsTheCentre) {
  // 400x200 into 100x100: scaled to 200x100, the middle 100 columns kept.
  cv::Mat out = Run(testing::Quadrants(400, 200),
                    {job::Resize{.width = 100, .height = 100, .fit = Fit::kCover}});
  ASSERT_EQ(out.size(), cv::Size(100, 100));
  EXPECT_EQ(At(out, 10, 10), kRed);
  EXPECT_EQ(At(out, 90, 10), kGreen);
  EXPECT_EQ(At(out, 10, 90), kBlue);
  EXPECT_EQ(At(out, 90, 90), kWhite);
}

TEST_F(PipelineTest, ResizeFillStretchesToTheBox) {
  EXPECT_EQ(
      Run(testing::Photo(400, 200), {job::Resize{.width = 50, .height = 120, .fit = Fit::kFill}})
          .size(),
      cv::Size(50, 120));
}

TEST_F(PipelineTest, MirrorSwapsLeftAndRight) {
  cv::Mat out = Run(testing::Quadrants(40, 20), {job::Mirror{}});
  EXPECT_EQ(At(out, 5, 5), kGreen);
  EXPECT_EQ(At(out, 35, 5), kRed);
}

TEST_F(PipelineTest, FlipSwapsTopAndBottom) {
  cv::Mat out = Run(testing::Quadrants(40, 20), {job::Flip{}});
  EXPECT_EQ(At(out, 5, 15), kRed);
  EXPECT_EQ(At(out, 5, 5), kBlue);
}

TEST_F(PipelineTest, RotateTurnsClockwise) {
  cv::Mat r90 = Run(testing::Quadrants(40, 20), {job::Rotate{.degrees = 90}});
  ASSERT_EQ(r90.size(), cv::Size(20, 40));
  EXPECT_EQ(At(r90, 15, 5), kRed);  // top-left went to the top-right
  EXPECT_EQ(At(r90, 5, 5), kBlue);  // bottom-left went to the top-left
  cv::Mat r180 = Run(testing::Quadrants(40, 20), {job::Rotate{.degrees = 180}});
  EXPECT_EQ(At(r180, 35, 15), kRed);
  cv::Mat r270 = Run(testing::Quadrants(40, 20), {job::Rotate{.degrees = 270}});
  ASSERT_EQ(r270.size(), cv::Size(20, 40));
  EXPECT_EQ(At(r270, 5, 35), kRed);  // top-left went to the bottom-left
}

TEST_F(PipelineTest, GrayscaleGivesOneChannel) {
  cv::Mat out = Run(testing::Photo(40, 20), {job::Grayscale{}});
  EXPECT_EQ(out.channels(), 1);
  cv::Mat jpeg = Run(testing::Photo(40, 20), {job::Grayscale{}}, {.format = job::Format::kJpeg});
  EXPECT_EQ(jpeg.channels(), 1);
}

TEST_F(PipelineTest, GrayscaleKeepsAlpha) {
  cv::Mat rgba(10, 10, CV_8UC4, cv::Scalar(0, 0, 255, 100));
  cv::Mat out = Run(rgba, {job::Grayscale{}});
  ASSERT_EQ(out.channels(), 4);
  const cv::Vec4b px = out.at<cv::Vec4b>(5, 5);
  EXPECT_EQ(px[0], px[1]);
  EXPECT_EQ(px[1], px[2]);
  EXPECT_EQ(px[3], 100);
}

TEST_F(PipelineTest, CropTakesABoxOrAPlaceByGravity) {
  cv::Mat box =
      Run(testing::Quadrants(40, 20), {job::Crop{.x = 20, .y = 0, .width = 10, .height = 5}});
  ASSERT_EQ(box.size(), cv::Size(10, 5));
  EXPECT_EQ(At(box, 5, 2), kGreen);
  cv::Mat se = Run(testing::Quadrants(40, 20),
                   {job::Crop{.width = 10, .height = 5, .gravity = job::Gravity::kSouthEast}});
  EXPECT_EQ(At(se, 5, 2), kWhite);
  cv::Mat nw = Run(testing::Quadrants(40, 20),
                   {job::Crop{.width = 10, .height = 5, .gravity = job::Gravity::kNorthWest}});
  EXPECT_EQ(At(nw, 5, 2), kRed);
  // Clipped to the image.
  EXPECT_EQ(
      Run(testing::Quadrants(40, 20), {job::Crop{.x = 30, .y = 10, .width = 50, .height = 50}})
          .size(),
      cv::Size(10, 10));
  EXPECT_EQ(Run(testing::Quadrants(40, 20), {job::Crop{.width = 500, .height = 5}}).size(),
            cv::Size(40, 5));
}

TEST_F(PipelineTest, CropOutsideTheImageIsAnError) {
  absl::Status s = Error(Encode(testing::Photo(40, 20), ".png"),
                         {job::Crop{.x = 40, .y = 0, .width = 5, .height = 5}});
  EXPECT_EQ(errors::ReasonOf(s), "InvalidCrop");
}

double Variance(const cv::Mat& m) {
  cv::Mat gray;
  cv::cvtColor(m, gray, cv::COLOR_BGR2GRAY);
  cv::Mat lap;
  cv::Laplacian(gray, lap, CV_64F);
  cv::Scalar mean, stddev;
  cv::meanStdDev(lap, mean, stddev);
  return stddev[0] * stddev[0];
}

TEST_F(PipelineTest, BlurSoftensAndSharpenHardens) {
  const cv::Mat photo = testing::Photo(200, 100);
  const double base = Variance(Run(photo, {}));
  EXPECT_LT(Variance(Run(photo, {job::Blur{.sigma = 2}})), base / 2);
  EXPECT_GT(Variance(Run(photo, {job::Sharpen{.sigma = 1, .amount = 1}})), base * 1.5);
}

TEST_F(PipelineTest, EncodesEveryFormatItIsAskedFor) {
  const cv::Mat photo = testing::Photo(120, 80);
  for (job::Format format : {job::Format::kJpeg, job::Format::kPng, job::Format::kWebp}) {
    absl::StatusOr<Result> r = pipeline_.Run(Encode(photo, ".png"), {}, {.format = format});
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->format, format);
    cv::Mat out = Decode(r->bytes);
    EXPECT_EQ(out.size(), cv::Size(120, 80));
    EXPECT_EQ(r->quality, format == job::Format::kJpeg   ? 85
                          : format == job::Format::kWebp ? 80
                                                         : 0);
  }
}

TEST_F(PipelineTest, WebpIsLossyWithAQuality) {
  // Lossless WebP starts its bitstream with the VP8L chunk; lossy with "VP8 ".
  absl::StatusOr<Result> r =
      pipeline_.Run(Encode(testing::Photo(64, 64), ".png"), {}, {.format = job::Format::kWebp});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->bytes.substr(12, 4), "VP8 ");
}

TEST_F(PipelineTest, LowerQualityMakesSmallerJpegs) {
  const std::string input = Encode(testing::Photo(300, 200), ".png");
  auto size = [&](int q) {
    return pipeline_.Run(input, {}, {.format = job::Format::kJpeg, .quality = q})->bytes.size();
  };
  EXPECT_LT(size(30), size(90));
}

TEST_F(PipelineTest, MaxBytesFindsTheHighestQualityThatFits) {
  const std::string input = Encode(testing::Photo(300, 200), ".png");
  const size_t full = pipeline_.Run(input, {}, {.format = job::Format::kJpeg})->bytes.size();
  const int64_t limit = static_cast<int64_t>(full * 6 / 10);
  absl::StatusOr<Result> r =
      pipeline_.Run(input, {}, {.format = job::Format::kJpeg, .max_bytes = limit});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_LE(static_cast<int64_t>(r->bytes.size()), limit);
  EXPECT_LT(r->quality, 85);
  // One step higher would not fit.
  absl::StatusOr<Result> higher =
      pipeline_.Run(input, {}, {.format = job::Format::kJpeg, .quality = r->quality + 1});
  EXPECT_GT(static_cast<int64_t>(higher->bytes.size()), limit);
  EXPECT_EQ(
      errors::ReasonOf(
          pipeline_.Run(input, {}, {.format = job::Format::kJpeg, .max_bytes = 100}).status()),
      "OutputTooLarge");
  EXPECT_EQ(errors::ReasonOf(
                pipeline_.Run(input, {}, {.format = job::Format::kPng, .max_bytes = 100}).status()),
            "OutputTooLarge");
}

TEST_F(PipelineTest, CompositesAlphaOverWhiteForJpeg) {
  cv::Mat transparent(10, 10, CV_8UC4, cv::Scalar(0, 0, 0, 0));
  cv::Mat out = Run(transparent, {}, {.format = job::Format::kJpeg});
  ASSERT_EQ(out.channels(), 3);
  EXPECT_GT(At(out, 5, 5)[0], 240);
}

TEST_F(PipelineTest, RefusesImagesOverThePixelLimitBeforeDecoding) {
  absl::Status s = Error(testing::PngHeaderClaiming(100000, 100000), {});
  EXPECT_EQ(errors::ReasonOf(s), "ImageTooLarge");
  EXPECT_EQ(errors::HttpStatusOf(s), 422);
}

TEST_F(PipelineTest, RefusesStepsThatWouldExceedTheOutputLimit) {
  absl::Status s = Error(Encode(testing::Photo(100, 100), ".png"),
                         {job::Resize{.width = 6000, .upscale = true}});
  EXPECT_EQ(errors::ReasonOf(s), "ImageTooLarge");
}

TEST_F(PipelineTest, ReportsUndecodableDataAsCorrupt) {
  std::string png = Encode(testing::Photo(64, 64), ".png");
  for (size_t i = png.find("IDAT") + 4; i < png.size() - 12; ++i) png[i] = static_cast<char>(i);
  EXPECT_EQ(errors::ReasonOf(Error(png, {})), "CorruptImage");
  EXPECT_EQ(errors::ReasonOf(Error("not an image", {})), "UnsupportedMediaType");
}

TEST_F(PipelineTest, AppliesEveryExifOrientation) {
  // Stored 40x20 quadrants; EXIF says how to turn them for display. Where the red (top-left when
  // stored) quadrant must end up, per orientation, as (x, y) probes in the displayed image.
  const std::string stored =
      Encode(testing::Quadrants(40, 20), ".jpg", {cv::IMWRITE_JPEG_QUALITY, 100});
  struct Expect {
    cv::Size size;
    cv::Point red;
  };
  const std::map<int, Expect> expected = {{1, {{40, 20}, {5, 5}}},   {2, {{40, 20}, {35, 5}}},
                                          {3, {{40, 20}, {35, 15}}}, {4, {{40, 20}, {5, 15}}},
                                          {5, {{20, 40}, {5, 5}}},   {6, {{20, 40}, {15, 5}}},
                                          {7, {{20, 40}, {15, 35}}}, {8, {{20, 40}, {5, 35}}}};
  for (const auto& [orientation, e] : expected) {
    absl::StatusOr<Result> r =
        pipeline_.Run(testing::WithExifOrientation(stored, orientation), {}, kPng);
    ASSERT_TRUE(r.ok()) << r.status();
    cv::Mat out = Decode(r->bytes);
    ASSERT_EQ(out.size(), e.size) << "orientation " << orientation;
    const cv::Vec3b px = At(out, e.red.x, e.red.y);
    EXPECT_GT(px[2], 200) << "orientation " << orientation;
    EXPECT_LT(px[1], 60) << "orientation " << orientation;
  }
}

double Psnr(const cv::Mat& a, const cv::Mat& b) { return cv::PSNR(a, b); }

TEST_F(PipelineTest, ShrinkOnLoadGivesTheSameSizeAndAlmostTheSamePixels) {
  const cv::Mat photo = testing::Photo(2400, 1600);
  // Baseline, and progressive (whose scans beyond the scale are dropped at 1/4 and 1/8).
  for (const std::string& jpeg :
       {Encode(photo, ".jpg", {cv::IMWRITE_JPEG_QUALITY, 92}),
        Encode(photo, ".jpg", {cv::IMWRITE_JPEG_QUALITY, 92, cv::IMWRITE_JPEG_PROGRESSIVE, 1})}) {
    for (const job::Resize& resize :
         {job::Resize{.width = 800, .height = 800}, job::Resize{.width = 300},
          job::Resize{.width = 640, .height = 480, .fit = Fit::kCover},
          job::Resize{.width = 500, .height = 100, .fit = Fit::kFill}}) {
      absl::StatusOr<Result> fast = pipeline_.Run(jpeg, {resize}, kPng);
      // A crop first prevents shrink-on-load: the reference full decode, then the same resize.
      absl::StatusOr<Result> full = pipeline_.Run(
          jpeg, {job::Crop{.x = 0, .y = 0, .width = 2400, .height = 1600}, resize}, kPng);
      ASSERT_TRUE(fast.ok() && full.ok());
      EXPECT_GT(fast->decode_scale, 1);
      EXPECT_EQ(full->decode_scale, 1);
      EXPECT_EQ(fast->width, full->width);
      EXPECT_EQ(fast->height, full->height);
      const double psnr = Psnr(Decode(fast->bytes), Decode(full->bytes));
      EXPECT_GT(psnr, 40.0) << fast->width << "x" << fast->height << ", scale "
                            << fast->decode_scale;
    }
  }
}

TEST_F(PipelineTest, ShrinkOnLoadAccountsForOrientation) {
  // Stored 2400x1200, displayed 1200x2400: a 600-wide box needs half the stored height.
  const std::string jpeg =
      testing::WithExifOrientation(Encode(testing::Photo(2400, 1200), ".jpg"), 6);
  absl::StatusOr<Result> r = pipeline_.Run(jpeg, {job::Resize{.width = 600}}, kPng);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->width, 600);
  EXPECT_EQ(r->height, 1200);
  EXPECT_EQ(r->decode_scale, 2);
}

TEST_F(PipelineTest, IsSafeToRunFromManyThreads) {
  const std::string jpeg = Encode(testing::Photo(600, 400), ".jpg");
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      absl::StatusOr<Result> r =
          pipeline_.Run(jpeg, {job::Resize{.width = 100 + i}, job::Grayscale{}}, kPng);
      if (r.ok() && r->width == 100 + i) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8);
}

}  // namespace
}  // namespace pixq::imaging
