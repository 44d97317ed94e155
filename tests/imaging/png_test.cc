// imaging::DecodeSimplePng against OpenCV's own PNG decoder: PNGs built here byte by byte, with
// every row filter on every layout it takes, must decode to exactly what cv::imdecode gives; every
// other PNG (another layout, a damaged one) must be left to OpenCV (nullopt).

#include "pkg/imaging/png.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <libdeflate.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "tests/integration/photos.h"

namespace pixq::imaging {
namespace {

void PutBe32(std::string& out, uint32_t v) {
  for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

std::string ChunkOf(const std::string& type, const std::string& data) {
  std::string out;
  PutBe32(out, static_cast<uint32_t>(data.size()));
  const std::string body = type + data;
  out += body;
  PutBe32(out, libdeflate_crc32(0, body.data(), body.size()));
  return out;
}

std::string Zlib(const std::string& raw) {
  libdeflate_compressor* c = libdeflate_alloc_compressor(6);
  std::string out(libdeflate_zlib_compress_bound(c, raw.size()), '\0');
  out.resize(libdeflate_zlib_compress(c, raw.data(), raw.size(), out.data(), out.size()));
  libdeflate_free_compressor(c);
  return out;
}

int Paeth(int a, int b, int c) {
  const int p = a + b - c;
  const int pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

struct PngSpec {
  int width = 7;
  int height = 5;
  int color = 2;  // PNG colour type: 0 gray, 2 RGB, 4 gray + alpha, 6 RGBA, 3 palette
  int depth = 8;
  int interlace = 0;
  int idat_parts = 1;                     // the zlib stream cut into this many IDAT chunks
  std::vector<std::string> before_idat;   // extra chunks (whole) between IHDR and IDAT
  std::vector<std::string> between_idat;  // after the first IDAT chunk
  std::vector<std::string> after_idat;    // between IDAT and IEND
  int filter_of_row_3 = 3;                // rows use filter row % 5; this one may be another
  int extra_rows = 0;                     // rows in the data beyond those IHDR declares
};

int Channels(int color) {
  return color == 0 ? 1 : color == 2 ? 3 : color == 4 ? 2 : color == 6 ? 4 : 1;
}

// Row r uses filter r % 5 (or filter_of_row_3 for row 3), so that every filter meets every
// position.
std::string MakePng(const PngSpec& s) {
  const int bpp = Channels(s.color) * (s.depth / 8);
  const int row_bytes = s.width * bpp;
  const int data_rows = s.height + s.extra_rows;
  std::vector<std::vector<uint8_t>> rows(data_rows, std::vector<uint8_t>(row_bytes));
  // Random bytes (a fixed seed): every filter's arithmetic wraps around, and Paeth meets each of
  // its ties.
  std::mt19937 random(static_cast<unsigned>(s.width * 1000 + s.height * 10 + s.color));
  for (auto& row : rows) {
    for (uint8_t& v : row) v = static_cast<uint8_t>(random() % (random() % 3 == 0 ? 4 : 256));
  }
  std::string raw;
  for (int y = 0; y < data_rows; ++y) {
    const int filter = y == 3 ? s.filter_of_row_3 : y % 5;
    raw.push_back(static_cast<char>(filter));
    for (int i = 0; i < row_bytes; ++i) {
      const int x = rows[y][i];
      const int a = i >= bpp ? rows[y][i - bpp] : 0;
      const int b = y > 0 ? rows[y - 1][i] : 0;
      const int c = i >= bpp && y > 0 ? rows[y - 1][i - bpp] : 0;
      const int predicted = filter == 0   ? 0
                            : filter == 1 ? a
                            : filter == 2 ? b
                            : filter == 3 ? (a + b) / 2
                                          : Paeth(a, b, c);
      raw.push_back(static_cast<char>(static_cast<uint8_t>(x - predicted)));
    }
  }
  std::string ihdr;
  PutBe32(ihdr, s.width);
  PutBe32(ihdr, s.height);
  ihdr += {static_cast<char>(s.depth), static_cast<char>(s.color), 0, 0,
           static_cast<char>(s.interlace)};
  std::string png("\x89PNG\r\n\x1a\n", 8);
  png += ChunkOf("IHDR", ihdr);
  for (const std::string& chunk : s.before_idat) png += chunk;
  const std::string z = Zlib(raw);
  const size_t part = (z.size() + s.idat_parts - 1) / s.idat_parts;
  for (size_t at = 0; at < z.size(); at += part) {
    png += ChunkOf("IDAT", z.substr(at, part));
    if (at == 0) {
      for (const std::string& chunk : s.between_idat) png += chunk;
    }
  }
  for (const std::string& chunk : s.after_idat) png += chunk;
  png += ChunkOf("IEND", "");
  return png;
}

cv::Mat OpenCv(const std::string& png) {
  return cv::imdecode(
      cv::Mat(1, static_cast<int>(png.size()), CV_8U, const_cast<char*>(png.data())),
      cv::IMREAD_UNCHANGED);
}

void ExpectSameAsOpenCv(const std::string& png) {
  std::optional<cv::Mat> fast = DecodeSimplePng(png);
  ASSERT_TRUE(fast.has_value());
  const cv::Mat reference = OpenCv(png);
  ASSERT_FALSE(reference.empty());
  ASSERT_EQ(fast->type(), reference.type());
  ASSERT_EQ(fast->size(), reference.size());
  EXPECT_EQ(cv::norm(*fast, reference, cv::NORM_INF), 0);
}

TEST(DecodeSimplePngTest, EveryFilterOnEveryLayoutDecodesAsOpenCvDoes) {
  for (int color : {0, 2, 6}) {
    SCOPED_TRACE(color);
    ExpectSameAsOpenCv(MakePng({.width = 64, .height = 50, .color = color}));
    ExpectSameAsOpenCv(MakePng({.width = 1, .height = 6, .color = color}));
  }
}

TEST(DecodeSimplePngTest, TakesSplitDataAndAncillaryChunks) {
  // Gamma and text chunks change nothing OpenCV gives; a suggested palette neither.
  ExpectSameAsOpenCv(MakePng({.width = 40,
                              .height = 30,
                              .idat_parts = 7,
                              .before_idat = {ChunkOf("gAMA", std::string("\0\0\xb1\x8f", 4)),
                                              ChunkOf("PLTE", std::string(6, '\x10'))},
                              .after_idat = {ChunkOf("tEXt", std::string("a\0b", 3))}}));
}

TEST(DecodeSimplePngTest, DecodesAPhotographAsOpenCvDoes) {
  // A real photograph, encoded by OpenCV (libpng chooses each row's filter), downscaled to keep
  // the test quick.
  cv::Mat photo = cv::imread(testing::kPhoto, cv::IMREAD_REDUCED_COLOR_4);
  ASSERT_FALSE(photo.empty()) << testing::kPhoto;
  std::vector<uchar> png;
  ASSERT_TRUE(cv::imencode(".png", photo, png));
  ExpectSameAsOpenCv(std::string(png.begin(), png.end()));
  cv::Mat bgra;
  cv::cvtColor(photo, bgra, cv::COLOR_BGR2BGRA);
  ASSERT_TRUE(cv::imencode(".png", bgra, png));
  ExpectSameAsOpenCv(std::string(png.begin(), png.end()));
}

TEST(DecodeSimplePngTest, LeavesEveryOtherPngToOpenCv) {
  const std::string good = MakePng({.width = 9, .height = 10});
  ASSERT_TRUE(DecodeSimplePng(good).has_value());
  auto refused = [](const std::string& png) { return !DecodeSimplePng(png).has_value(); };
  EXPECT_TRUE(refused(MakePng({.color = 4})));               // gray + alpha
  EXPECT_TRUE(refused(MakePng({.color = 2, .depth = 16})));  // 16 bits
  EXPECT_TRUE(refused(MakePng({.interlace = 1})));
  EXPECT_TRUE(refused(MakePng({.before_idat = {ChunkOf("tRNS", std::string(6, '\0'))}})));
  EXPECT_TRUE(refused(MakePng({.before_idat = {ChunkOf("ABCD", "")}})));  // unknown, critical
  EXPECT_TRUE(refused(MakePng({.idat_parts = 2, .between_idat = {ChunkOf("tEXt", "a")}})));
  EXPECT_TRUE(refused(MakePng({.filter_of_row_3 = 5})));  // no such filter
  EXPECT_TRUE(refused(MakePng({.extra_rows = 1})));       // more data than the image holds
  EXPECT_TRUE(refused(MakePng({.extra_rows = -1})));      // less
  std::string bad_crc = good;
  bad_crc[bad_crc.size() - 13] ^= 1;  // the last byte of the IDAT chunk's CRC
  EXPECT_TRUE(refused(bad_crc));
  std::string bad_text = MakePng({.after_idat = {ChunkOf("tEXt", "ab")}});
  bad_text[bad_text.size() - 12 - 4 - 1] ^= 1;  // in tEXt's data ("b"), its CRC left as it was
  EXPECT_TRUE(refused(bad_text));
  EXPECT_TRUE(refused(MakePng({.before_idat = {ChunkOf("PLTE", std::string(6, '\1')),
                                               ChunkOf("PLTE", std::string(6, '\1'))}})));
  EXPECT_TRUE(refused(MakePng({.before_idat = {ChunkOf("a1cd", "")}})));  // not a chunk type
  EXPECT_TRUE(refused(MakePng({.width = 1'000'001, .height = 1})));       // over libpng's limit
  EXPECT_TRUE(refused(good.substr(0, good.size() - 12)));                 // no IEND
  EXPECT_TRUE(refused(good.substr(0, 40)));
  EXPECT_TRUE(refused(""));
  EXPECT_TRUE(refused(std::string("\x89PNG\r\n\x1a\n", 8)));
}

}  // namespace
}  // namespace pixq::imaging
