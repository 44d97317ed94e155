#include "tests/imaging/image_metrics.h"

#include <cmath>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "tests/imaging/test_images.h"

namespace pixq::imaging::testing {
namespace {

TEST(SsimTest, IsOneForEqualImagesAndSymmetric) {
  const cv::Mat photo = Photo(64, 48);
  EXPECT_NEAR(Ssim(photo, photo), 1.0, 1e-6);
  cv::Mat noisy = photo.clone();
  cv::randn(noisy, cv::Scalar::all(0), cv::Scalar::all(10));
  noisy += photo;
  EXPECT_NEAR(Ssim(photo, noisy), Ssim(noisy, photo), 1e-6);
}

TEST(SsimTest, ReducesToTheLuminanceTermForFlatImages) {
  // With no variance anywhere the structure term is C2 / C2 = 1, and what is left is
  // (2 μx μy + C1) / (μx² + μy² + C1) with C1 = (0.01 · 255)².
  const cv::Mat a(32, 32, CV_8UC1, cv::Scalar(100));
  const cv::Mat b(32, 32, CV_8UC1, cv::Scalar(140));
  const double c1 = 2.55 * 2.55;
  EXPECT_NEAR(Ssim(a, b), (2 * 100.0 * 140.0 + c1) / (100.0 * 100.0 + 140.0 * 140.0 + c1), 1e-5);
}

TEST(SsimTest, FallsAsNoiseGrows) {
  const cv::Mat photo = Photo(96, 64);
  double previous = 1.0;
  for (double sigma : {2.0, 8.0, 32.0}) {
    cv::Mat noise(photo.size(), CV_16SC3);
    cv::theRNG().state = 7;
    cv::randn(noise, cv::Scalar::all(0), cv::Scalar::all(sigma));
    cv::Mat noisy;
    cv::add(photo, noise, noisy, cv::noArray(), CV_8UC3);
    const double ssim = Ssim(photo, noisy);
    EXPECT_LT(ssim, previous) << sigma;
    previous = ssim;
  }
  EXPECT_LT(previous, 0.5);
}

TEST(SsimTest, ComparesLumaOnly) {
  // Swapping red and blue in a grey image changes nothing; in a colour image it changes the luma.
  cv::Mat grey;
  cv::cvtColor(cv::Mat(Photo(40, 40)), grey, cv::COLOR_BGR2GRAY);
  cv::Mat grey_bgr;
  cv::cvtColor(grey, grey_bgr, cv::COLOR_GRAY2BGR);
  EXPECT_NEAR(Ssim(grey, grey_bgr), 1.0, 1e-6);
  cv::Mat swapped;
  cv::cvtColor(Photo(40, 40), swapped, cv::COLOR_BGR2RGB);
  EXPECT_LT(Ssim(Photo(40, 40), swapped), 0.99);
}

TEST(LumaTest, WeighsTheChannelsAsRec601AndIgnoresAlpha) {
  const cv::Mat bgra(1, 1, CV_8UC4, cv::Scalar(10, 20, 30, 0));
  EXPECT_NEAR(Luma(bgra).at<float>(0, 0), 0.114 * 10 + 0.587 * 20 + 0.299 * 30, 1e-4);
}

TEST(PsnrTest, IsOpenCvsPsnrAndMarksEqualImages) {
  const cv::Mat a(8, 8, CV_8UC3, cv::Scalar(50, 50, 50));
  const cv::Mat b(8, 8, CV_8UC3, cv::Scalar(60, 50, 50));
  // MSE = 10² / 3 over the channels.
  EXPECT_NEAR(Psnr(a, b), 10 * std::log10(255.0 * 255.0 / (100.0 / 3)), 1e-9);
  EXPECT_EQ(Psnr(a, a), kIdentical);
  const cv::Mat grey(8, 8, CV_8UC1, cv::Scalar(50));
  EXPECT_EQ(Psnr(a, grey), kIdentical);
}

}  // namespace
}  // namespace pixq::imaging::testing
