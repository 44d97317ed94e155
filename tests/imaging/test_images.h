#pragma once

// Images made in the test, with OpenCV, and the byte-level surgery the tests need (an EXIF
// orientation spliced into a JPEG, a PNG header that lies about its size).

#include <random>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace pixq::imaging::testing {

inline std::string Encode(const cv::Mat& m, const std::string& ext,
                          const std::vector<int>& params = {}) {
  std::vector<uchar> out;
  cv::imencode(ext, m, out, params);
  return std::string(out.begin(), out.end());
}

inline cv::Mat Decode(const std::string& bytes, int flags = cv::IMREAD_UNCHANGED) {
  return cv::imdecode(std::vector<uchar>(bytes.begin(), bytes.end()), flags);
}

// A photograph-like image: smooth gradients plus fine texture, so codecs and resamplers have
// real work and mistakes show.
inline cv::Mat Photo(int width, int height) {
  cv::Mat m(height, width, CV_8UC3);
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> noise(-12, 12);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const int b = 255 * x / width;
      const int g = 255 * y / height;
      const int r = 128 + static_cast<int>(100 * std::sin(x / 37.0) * std::cos(y / 23.0));
      m.at<cv::Vec3b>(y, x) = cv::Vec3b(cv::saturate_cast<uchar>(b + noise(rng)),
                                        cv::saturate_cast<uchar>(g + noise(rng)),
                                        cv::saturate_cast<uchar>(r + noise(rng)));
    }
  }
  return m;
}

// Four solid quadrants: top-left red, top-right green, bottom-left blue, bottom-right white.
inline cv::Mat Quadrants(int width, int height) {
  cv::Mat m(height, width, CV_8UC3);
  const cv::Vec3b red(0, 0, 255), green(0, 255, 0), blue(255, 0, 0), white(255, 255, 255);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const bool left = x < width / 2;
      const bool top = y < height / 2;
      m.at<cv::Vec3b>(y, x) = top ? (left ? red : green) : (left ? blue : white);
    }
  }
  return m;
}

// A JPEG with an EXIF APP1 segment carrying `orientation`, inserted right after SOI.
inline std::string WithExifOrientation(const std::string& jpeg, int orientation,
                                       bool big_endian = false) {
  std::string tiff;
  auto u16 = [&](int v) {
    if (big_endian) {
      tiff.push_back(static_cast<char>(v >> 8));
      tiff.push_back(static_cast<char>(v & 0xff));
    } else {
      tiff.push_back(static_cast<char>(v & 0xff));
      tiff.push_back(static_cast<char>(v >> 8));
    }
  };
  auto u32 = [&](int v) {
    if (big_endian) {
      u16(v >> 16);
      u16(v & 0xffff);
    } else {
      u16(v & 0xffff);
      u16(v >> 16);
    }
  };
  tiff += big_endian ? "MM" : "II";
  u16(42);
  u32(8);       // IFD0 right after the header
  u16(1);       // one entry
  u16(0x0112);  // Orientation
  u16(3);       // SHORT
  u32(1);       // count
  u16(orientation);
  u16(0);
  u32(0);  // no next IFD
  const std::string payload = std::string("Exif\0\0", 6) + tiff;
  const size_t length = payload.size() + 2;
  std::string segment = "\xFF\xE1";
  segment.push_back(static_cast<char>(length >> 8));
  segment.push_back(static_cast<char>(length & 0xff));
  segment += payload;
  return jpeg.substr(0, 2) + segment + jpeg.substr(2);
}

// A PNG signature and IHDR that declare width × height, and nothing else of substance.
inline std::string PngHeaderClaiming(uint32_t width, uint32_t height) {
  std::string b("\x89PNG\r\n\x1a\n", 8);
  b += std::string("\0\0\0\x0d", 4) + "IHDR";
  for (uint32_t v : {width, height}) {
    for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<char>(v >> shift));
  }
  b += std::string("\x08\x02\x00\x00\x00", 5);  // 8-bit RGB
  b += std::string("\0\0\0\0", 4);              // CRC (not checked by the sniffer)
  b += std::string("\0\0\0\0IEND\xae\x42\x60\x82", 12);
  return b;
}

}  // namespace pixq::imaging::testing
