#include "pkg/imaging/jpeg_scans.h"

#include <cstdio>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "tests/imaging/test_images.h"

namespace pixq::imaging {
namespace {

using testing::Decode;
using testing::Encode;
using testing::Photo;

std::string Progressive(const cv::Mat& m, int quality) {
  return Encode(m, ".jpg", {cv::IMWRITE_JPEG_QUALITY, quality, cv::IMWRITE_JPEG_PROGRESSIVE, 1});
}

int Scans(const std::string& jpeg) {
  int n = 0;
  for (size_t i = 0; i + 1 < jpeg.size(); ++i) {
    if (static_cast<uint8_t>(jpeg[i]) == 0xFF && static_cast<uint8_t>(jpeg[i + 1]) == 0xDA) ++n;
  }
  return n;
}

// The photo-like test image has per-pixel noise: the worst case for dropping coefficient bits.
TEST(JpegScansTest, AtQuarterAndEighthScaleTheLastBitOfTheAcCoefficientsGoes) {
  const cv::Mat photo = Photo(1600, 1200);
  for (int quality : {50, 85, 95}) {
    const std::string whole = Progressive(photo, quality);
    for (int scale : {4, 8}) {
      std::optional<std::string> fewer = DropScansBeyondScale(whole, scale);
      ASSERT_TRUE(fewer.has_value()) << quality;
      // The last three scans of libjpeg's default progression refine the AC coefficients' last
      // bit (Cr, Cb, Y).
      EXPECT_EQ(Scans(*fewer), Scans(whole) - 3) << quality;
      EXPECT_LT(fewer->size(), whole.size()) << quality;
      const int flag = scale == 4 ? cv::IMREAD_REDUCED_COLOR_4 : cv::IMREAD_REDUCED_COLOR_8;
      const cv::Mat expected = Decode(whole, flag);
      const cv::Mat got = Decode(*fewer, flag);
      ASSERT_EQ(got.size(), expected.size());
      const double psnr = cv::PSNR(got, expected);
      std::printf("[ scans    ] quality %d at 1/%d: %zu of %zu bytes, PSNR %.2f dB against all\n",
                  quality, scale, fewer->size(), whole.size(), psnr);
      EXPECT_GT(psnr, 40.0) << "quality " << quality << ", 1/" << scale;
    }
  }
}

TEST(JpegScansTest, LeavesEveryOtherStreamAlone) {
  const cv::Mat photo = Photo(320, 240);
  const std::string progressive = Progressive(photo, 85);
  // Scales that read every coefficient.
  EXPECT_FALSE(DropScansBeyondScale(progressive, 1).has_value());
  EXPECT_FALSE(DropScansBeyondScale(progressive, 2).has_value());
  // Baseline (one scan), another format, nothing at all.
  const std::string baseline = Encode(photo, ".jpg", {cv::IMWRITE_JPEG_QUALITY, 85});
  EXPECT_FALSE(DropScansBeyondScale(baseline, 8).has_value());
  EXPECT_FALSE(DropScansBeyondScale(Encode(photo, ".png"), 8).has_value());
  EXPECT_FALSE(DropScansBeyondScale("", 8).has_value());
  // A stream that does not reach its end marker: cut anywhere, or with a segment length past
  // the end. It is decoded whole (and libjpeg says what it makes of it).
  for (size_t cut : {size_t{3}, size_t{200}, progressive.size() / 2, progressive.size() - 2}) {
    EXPECT_FALSE(DropScansBeyondScale(progressive.substr(0, cut), 8).has_value()) << cut;
  }
  std::string long_segment = progressive;
  long_segment[4] = static_cast<char>(0xFF);  // APP0's length
  long_segment[5] = static_cast<char>(0xFF);
  EXPECT_FALSE(DropScansBeyondScale(long_segment, 8).has_value());
  // Dropped once, the last scans refine the DC or an earlier bit: nothing more to drop.
  const std::optional<std::string> fewer = DropScansBeyondScale(progressive, 8);
  ASSERT_TRUE(fewer.has_value());
  EXPECT_FALSE(DropScansBeyondScale(*fewer, 8).has_value());
}

}  // namespace
}  // namespace pixq::imaging
