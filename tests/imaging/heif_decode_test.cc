// HEIC and AVIF in: Sniff names them and reads their size before any decode, the pipeline decodes
// them with libheif, honouring irot (and never the EXIF orientation they carry), and poison files
// get their documented answers. The files are made at build time from the golden photograph
// (tests/imaging/golden/source.png, 360x240) by libheif's heif-enc, and the references by
// heif-convert (tests/imaging/CMakeLists.txt).
//
// Every comparison prints one line, starting "[ heif ]", with its figures (measured >= floor).

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "pkg/errors/errors.h"
#include "pkg/imaging/pipeline.h"
#include "pkg/imaging/sniff.h"
#include "tests/imaging/image_metrics.h"

namespace pixq::imaging {
namespace {

using testing::Psnr;
using testing::Ssim;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string Fixture(const std::string& name) {
  const std::string file = ReadFile(std::string(PIXQ_HEIF_FIXTURES_DIR) + "/" + name);
  EXPECT_FALSE(file.empty()) << name << " was not made at build time (heif-enc, heif-convert)";
  return file;
}

cv::Mat Golden(const std::string& name) {
  return cv::imread(std::string(PIXQ_GOLDEN_DIR) + "/" + name, cv::IMREAD_COLOR);
}

cv::Mat DecodePng(const std::string& bytes) {
  return cv::imdecode(std::vector<uchar>(bytes.begin(), bytes.end()), cv::IMREAD_UNCHANGED);
}

// Runs the pipeline with `steps` to PNG (lossless, so only the decode and the steps show).
absl::StatusOr<Result> RunToPng(const std::string& input, std::vector<job::Step> steps = {}) {
  job::OutputSpec output;
  output.format = job::Format::kPng;
  return Pipeline(Limits{}).Run(input, steps, output);
}

struct Floor {
  double psnr;
  double ssim;
};

// Against heif-convert's decode of the same file: the same libheif decodes both, with the same
// YCbCr-to-RGB conversion, so only a level here and there may differ.
constexpr Floor kSameDecoder{50.0, 0.998};
// Against the photograph heif-enc was given: what encoding at quality 80 loses. Measured 36.6 dB,
// SSIM 0.973 (HEIC) and 35.3 dB, 0.966 (AVIF) with x265 and aom from Debian 12; a picture turned
// by 180° or with red and blue swapped gives under 20 dB.
constexpr Floor kLossyQ80{32.0, 0.94};

void ExpectClose(const std::string& what, const cv::Mat& out, const cv::Mat& reference,
                 Floor floor) {
  ASSERT_EQ(out.size(), reference.size()) << what;
  cv::Mat bgr = out;
  if (out.channels() == 4) cv::cvtColor(out, bgr, cv::COLOR_BGRA2BGR);
  const double psnr = Psnr(bgr, reference);
  const double ssim = Ssim(bgr, reference);
  std::printf("[ heif ] %-40s %dx%d: PSNR %6.2f dB >= %.2f, SSIM %.4f >= %.4f\n", what.c_str(),
              out.cols, out.rows, psnr, floor.psnr, ssim, floor.ssim);
  EXPECT_GE(psnr, floor.psnr) << what;
  EXPECT_GE(ssim, floor.ssim) << what;
}

// The box `type` in `file` (the first one): the offset of its size field, and its size.
std::pair<size_t, uint32_t> FindBox(const std::string& file, std::string_view type) {
  const size_t at = file.find(type);
  if (at == std::string::npos || at < 4) return {std::string::npos, 0};
  const auto* b = reinterpret_cast<const uint8_t*>(file.data() + at - 4);
  return {at - 4, (uint32_t{b[0]} << 24) | (b[1] << 16) | (b[2] << 8) | b[3]};
}

void PutBe32(std::string& file, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) file[at + i] = static_cast<char>(v >> (24 - 8 * i));
}

// heif-enc cannot write irot, so the file's `pixi` property (bits per channel, which libheif
// takes from the coded stream anyway; 16 bytes, associated with the primary image) becomes an
// `irot` of the same size: its first payload byte the quarter turns anticlockwise, the rest
// padding a reader skips. Offsets and sizes stay as they were, so nothing else needs rewriting.
std::string WithIrot(std::string file, int quarter_turns) {
  const auto [at, size] = FindBox(file, "pixi");
  EXPECT_NE(at, std::string::npos) << "heif-enc wrote no pixi box";
  if (at == std::string::npos) return file;
  EXPECT_GE(size, 9u);
  file.replace(at + 4, 4, "irot");
  std::fill(file.begin() + static_cast<std::ptrdiff_t>(at + 8),
            file.begin() + static_cast<std::ptrdiff_t>(at + size), '\0');
  file[at + 8] = static_cast<char>(quarter_turns);
  return file;
}

TEST(HeifDecodeTest, SniffNamesHeicAndAvifWithTheirStoredSize) {
  const std::pair<const char*, job::Format> files[] = {{"photo.heic", job::Format::kHeic},
                                                       {"photo.avif", job::Format::kAvif}};
  for (const auto& [name, format] : files) {
    absl::StatusOr<ImageInfo> info = Sniff(Fixture(name));
    ASSERT_TRUE(info.ok()) << name << ": " << info.status();
    EXPECT_EQ(info->format, format) << name;
    EXPECT_STREQ(job::FormatName(info->format), std::string(name).substr(6).c_str());
    EXPECT_EQ(info->width, 360) << name;
    EXPECT_EQ(info->height, 240) << name;
    EXPECT_EQ(info->DisplayWidth(), 360) << name;
  }
}

TEST(HeifDecodeTest, DecodesAsHeifConvertDoesAndAsThePhotographWas) {
  const cv::Mat source = Golden("source.png");
  for (const char* name : {"photo.heic", "photo.avif"}) {
    absl::StatusOr<Result> out = RunToPng(Fixture(name));
    ASSERT_TRUE(out.ok()) << name << ": " << out.status();
    EXPECT_EQ(out->decode_scale, 1);
    const cv::Mat decoded = DecodePng(out->bytes);
    const cv::Mat reference =
        cv::imread(std::string(PIXQ_HEIF_FIXTURES_DIR) + "/" + name + ".png", cv::IMREAD_COLOR);
    ASSERT_FALSE(reference.empty()) << name << ".png was not made at build time (heif-convert)";
    ExpectClose(std::string(name) + " = heif-convert", decoded, reference, kSameDecoder);
    ExpectClose(std::string(name) + " = source.png", decoded, source, kLossyQ80);
  }
}

TEST(HeifDecodeTest, DecodesSidesThatAreNoMultipleOfTheCodingBlock) {
  // 394x263, coded rounded up (libheif checks the coded size against the limit it is given).
  const cv::Mat source = Golden("edges/photo.jpg");
  for (const char* name : {"edges.heic", "edges.avif"}) {
    absl::StatusOr<Result> out = RunToPng(Fixture(name));
    ASSERT_TRUE(out.ok()) << name << ": " << out.status();
    ExpectClose(std::string(name) + " = edges/photo.jpg", DecodePng(out->bytes), source, kLossyQ80);
  }
}

TEST(HeifDecodeTest, FitsWithinABoxLikeImageMagicksReductionOfThePhotograph) {
  // The reference is source.png reduced to 180 wide by ImageMagick (golden/make-references.sh).
  const cv::Mat reference = Golden("exif/upright-inside-width-180.png");
  for (const char* name : {"photo.heic", "photo.avif"}) {
    absl::StatusOr<Result> out =
        RunToPng(Fixture(name), {job::Resize{.width = 180, .fit = job::Fit::kInside}});
    ASSERT_TRUE(out.ok()) << name << ": " << out.status();
    EXPECT_EQ(out->width, 180);
    EXPECT_EQ(out->height, 120);
    // A reduction averages the coding noise away: closer to the photograph than at full size.
    ExpectClose(std::string(name) + " inside 180", DecodePng(out->bytes), reference, kLossyQ80);
  }
}

TEST(HeifDecodeTest, AppliesIrotAndNeverTheExifOrientation) {
  // orientation-6.heic: heif-enc's encoding of golden/exif/orientation-6.jpg, the photograph
  // stored turned 90° anticlockwise (240x360), whose EXIF orientation 6 heif-enc copied along.
  const std::string stored = Fixture("orientation-6.heic");
  const cv::Mat source = Golden("source.png");
  cv::Mat turned;
  cv::rotate(source, turned, cv::ROTATE_90_COUNTERCLOCKWISE);

  // Without irot it is shown as stored: EXIF orientation in a HEIF file is not applied.
  absl::StatusOr<ImageInfo> plain = Sniff(stored);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->orientation, 1);
  EXPECT_EQ(plain->DisplayWidth(), 240);
  absl::StatusOr<Result> as_stored = RunToPng(stored);
  ASSERT_TRUE(as_stored.ok()) << as_stored.status();
  ExpectClose("orientation-6.heic, no irot", DecodePng(as_stored->bytes), turned, kLossyQ80);

  // irot of 270° anticlockwise (90° clockwise) shows it upright, once.
  const std::string rotated = WithIrot(stored, 3);
  absl::StatusOr<ImageInfo> info = Sniff(rotated);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->width, 240);
  EXPECT_EQ(info->height, 360);
  EXPECT_EQ(info->heif_rotation, 270);
  EXPECT_EQ(info->DisplayWidth(), 360);
  EXPECT_EQ(info->DisplayHeight(), 240);
  absl::StatusOr<Result> upright = RunToPng(rotated);
  ASSERT_TRUE(upright.ok()) << upright.status();
  ExpectClose("orientation-6.heic, irot 270", DecodePng(upright->bytes), source, kLossyQ80);

  // And so does a resize: the box applies to the image as shown.
  absl::StatusOr<Result> fitted =
      RunToPng(rotated, {job::Resize{.width = 180, .fit = job::Fit::kInside}});
  ASSERT_TRUE(fitted.ok()) << fitted.status();
  EXPECT_EQ(fitted->width, 180);
  EXPECT_EQ(fitted->height, 120);
}

// ---- Poison: every answer is a value, nothing crashes.

TEST(HeifDecodeTest, AHeaderDeclaringABombIsRefusedBeforeDecoding) {
  for (const char* name : {"photo.heic", "photo.avif"}) {
    std::string bomb = Fixture(name);
    const auto [at, size] = FindBox(bomb, "ispe");
    ASSERT_NE(at, std::string::npos) << name;
    PutBe32(bomb, at + 12, 100000);
    PutBe32(bomb, at + 16, 100000);
    const absl::Status sniffed = SniffWithin(bomb, Limits{}.max_pixels).status();
    EXPECT_TRUE(errors::Is(sniffed, errors::Reason::kImageTooLarge)) << name << ": " << sniffed;
    const absl::Status run = RunToPng(bomb).status();
    EXPECT_TRUE(errors::Is(run, errors::Reason::kImageTooLarge)) << name << ": " << run;
  }
}

TEST(HeifDecodeTest, AHeaderDeclaringMoreThanTheDataHoldsFailsCorrupt) {
  // Within the pixel limit, but not what the coded image is: libheif refuses, or it decodes
  // smaller than declared; either way no picture made up of padding.
  std::string lying = Fixture("photo.heic");
  const auto [at, size] = FindBox(lying, "ispe");
  ASSERT_NE(at, std::string::npos);
  PutBe32(lying, at + 12, 4000);
  PutBe32(lying, at + 16, 3000);
  absl::StatusOr<Result> out = RunToPng(lying);
  if (out.ok()) {
    EXPECT_LE(out->width, 4000);
  } else {
    EXPECT_TRUE(errors::Is(out.status(), errors::Reason::kCorruptImage)) << out.status();
  }
}

TEST(HeifDecodeTest, ACodedImageLargerThanItsHeaderSaysIsCorrupt) {
  // The header passes the pixel limit for 100x100; the coded image is 360x240. libheif is told to
  // refuse any item with a side over the header's, so nothing larger than what was let through
  // is ever allocated.
  for (const char* name : {"photo.heic", "photo.avif"}) {
    std::string lying = Fixture(name);
    const auto [at, size] = FindBox(lying, "ispe");
    ASSERT_NE(at, std::string::npos);
    PutBe32(lying, at + 12, 100);
    PutBe32(lying, at + 16, 100);
    const absl::Status run = RunToPng(lying).status();
    EXPECT_TRUE(errors::Is(run, errors::Reason::kCorruptImage)) << name << ": " << run;
  }
}

TEST(HeifDecodeTest, TruncatedFilesAreCorrupt) {
  for (const char* name : {"photo.heic", "photo.avif"}) {
    const std::string file = Fixture(name);
    // From 16 bytes on, where the ftyp box names the brand (fewer are not recognisable: 415).
    for (size_t n = 16; n < file.size(); n += 211) {
      const absl::Status run = RunToPng(file.substr(0, n)).status();
      EXPECT_TRUE(errors::Is(run, errors::Reason::kCorruptImage))
          << name << " cut at " << n << ": " << run;
    }
  }
}

TEST(HeifDecodeTest, RandomBytesAfterTheMagicAreRefused) {
  std::mt19937 rng(18);
  std::uniform_int_distribution<int> byte(0, 255);
  for (const char* name : {"photo.heic", "photo.avif"}) {
    const std::string file = Fixture(name);
    const auto [ftyp, ftyp_size] = FindBox(file, "ftyp");
    const auto [mdat, mdat_size] = FindBox(file, "mdat");
    ASSERT_EQ(ftyp, 0u) << name;
    ASSERT_NE(mdat, std::string::npos) << name;
    for (int trial = 0; trial < 20; ++trial) {
      // Everything after the ftyp box random: not a HEIF header.
      std::string garbage = file;
      for (size_t i = ftyp_size; i < garbage.size(); ++i) garbage[i] = static_cast<char>(byte(rng));
      const absl::Status run = RunToPng(garbage).status();
      EXPECT_TRUE(errors::Is(run, errors::Reason::kCorruptImage)) << name << ": " << run;
      // The header intact, the coded image random: the decoder's error, or a picture (a coded
      // stream has no checksum), never a crash.
      std::string noise = file;
      for (size_t i = mdat + 8; i < noise.size(); ++i) noise[i] = static_cast<char>(byte(rng));
      absl::StatusOr<Result> decoded = RunToPng(noise);
      if (!decoded.ok()) {
        EXPECT_TRUE(errors::Is(decoded.status(), errors::Reason::kCorruptImage) ||
                    errors::Is(decoded.status(), errors::Reason::kUnsupportedMediaType))
            << name << ": " << decoded.status();
      }
    }
  }
}

}  // namespace
}  // namespace pixq::imaging
