#pragma once

// Images for the integration tests: a real photograph (Debian's lomiri-wallpapers-20.04, installed
// by scripts/setup.sh) and encoding helpers.

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace pixq::testing {

inline constexpr char kPhoto[] = "/usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg";

// The photograph scaled to `width` (at most about 1300 px), so that jobs on it are quick.
inline cv::Mat SmallPhoto(int width) {
  cv::Mat photo = cv::imread(kPhoto, cv::IMREAD_REDUCED_COLOR_4);
  EXPECT_FALSE(photo.empty()) << kPhoto;
  cv::Mat small;
  cv::resize(photo, small, cv::Size(width, width * photo.rows / photo.cols), 0, 0, cv::INTER_AREA);
  return small;
}

// `image` encoded as `ext` (".jpg", ".png", ".webp").
inline std::string Encoded(const cv::Mat& image, const std::string& ext) {
  std::vector<uchar> out;
  EXPECT_TRUE(cv::imencode(ext, image, out)) << ext;
  return std::string(out.begin(), out.end());
}

}  // namespace pixq::testing
