// GIF, TIFF and BMP in, and 16 bits per sample reduced to 8 (issue 18): Sniff names them and reads
// their size before any decode, the pipeline decodes them (GIF's first frame with giflib, TIFF and
// BMP with OpenCV) as ImageMagick does, and poison files get their documented answers. The files
// are made at build time by ImageMagick from the golden photograph
// (tests/imaging/golden/source.png, 360x240), and so are the references
// (tests/imaging/CMakeLists.txt).
//
// Every comparison prints one line, starting "[ formats ]", with its figures (measured >= floor).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "pkg/errors/errors.h"
#include "pkg/imaging/gif_decode.h"
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
  const std::string file = ReadFile(std::string(PIXQ_FORMATS_FIXTURES_DIR) + "/" + name);
  EXPECT_FALSE(file.empty()) << name << " was not made at build time (ImageMagick)";
  return file;
}

// ImageMagick's decode of a fixture, as it wrote it to PNG (8 bits per sample).
cv::Mat Reference(const std::string& name) {
  const cv::Mat m =
      cv::imread(std::string(PIXQ_FORMATS_FIXTURES_DIR) + "/" + name, cv::IMREAD_UNCHANGED);
  EXPECT_FALSE(m.empty()) << name << " was not made at build time (ImageMagick)";
  return m;
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

cv::Mat Bgr(const cv::Mat& m) {
  if (m.channels() == 3) return m;
  cv::Mat out;
  cv::cvtColor(m, out, m.channels() == 4 ? cv::COLOR_BGRA2BGR : cv::COLOR_GRAY2BGR);
  return out;
}

struct Floor {
  double psnr;
  double ssim;
};

// Against ImageMagick's decode of the same file: a GIF's palette, a TIFF's or a BMP's samples
// leave no room for two decoders to differ; the floor only keeps the figure printable.
constexpr Floor kSameImage{60.0, 0.9999};
// Against the photograph the GIF was made from: what 256 dithered colours lose. Measured 35.6 dB,
// SSIM 0.941 at full size and 43.2 dB, 0.994 fitted within 180 wide, with Debian 12's ImageMagick
// 6.9.11 (the test prints them); a picture turned by 180° or with red and blue swapped gives
// under 20 dB.
constexpr Floor kGifPalette{32.0, 0.90};
// Two resamplers (OpenCV's INTER_AREA, ImageMagick's filter) on a lossless source: measured
// 51.6 dB, SSIM 0.9995 fitting the photograph within 180 wide.
constexpr Floor kTwoResamplers{45.0, 0.995};

void ExpectClose(const std::string& what, const cv::Mat& out, const cv::Mat& reference,
                 Floor floor) {
  ASSERT_EQ(out.size(), reference.size()) << what;
  const cv::Mat a = Bgr(out);
  const cv::Mat b = Bgr(reference);
  const double psnr = Psnr(a, b);
  const double ssim = Ssim(a, b);
  std::printf("[ formats ] %-40s %dx%d: PSNR %6.2f dB >= %.2f, SSIM %.4f >= %.4f\n", what.c_str(),
              out.cols, out.rows, psnr, floor.psnr, ssim, floor.ssim);
  EXPECT_GE(psnr, floor.psnr) << what;
  EXPECT_GE(ssim, floor.ssim) << what;
}

TEST(FormatsTest, SniffNamesGifTiffAndBmpWithTheirStoredSize) {
  const std::pair<const char*, job::Format> files[] = {{"photo.gif", job::Format::kGif},
                                                       {"photo.tiff", job::Format::kTiff},
                                                       {"photo.bmp", job::Format::kBmp}};
  for (const auto& [name, format] : files) {
    absl::StatusOr<ImageInfo> info = Sniff(Fixture(name));
    ASSERT_TRUE(info.ok()) << name << ": " << info.status();
    EXPECT_EQ(info->format, format) << name;
    EXPECT_STREQ(job::FormatName(info->format), std::string(name).substr(6).c_str());
    EXPECT_EQ(info->width, 360) << name;
    EXPECT_EQ(info->height, 240) << name;
    EXPECT_FALSE(job::IsWritable(format)) << name;
    EXPECT_EQ(job::WritableFormat(format), job::Format::kJpeg) << name;
  }
}

TEST(FormatsTest, DecodesAsImageMagickDoes) {
  const cv::Mat source = Golden("source.png");
  for (const char* name : {"photo.gif", "interlaced.gif", "anim.gif", "photo.tiff", "photo.bmp"}) {
    absl::StatusOr<Result> out = RunToPng(Fixture(name));
    ASSERT_TRUE(out.ok()) << name << ": " << out.status();
    EXPECT_EQ(out->decode_scale, 1);
    const cv::Mat decoded = DecodePng(out->bytes);
    EXPECT_EQ(decoded.channels(), 3) << name << ": opaque, so no alpha";
    ExpectClose(std::string(name) + " = ImageMagick", decoded,
                Reference(std::string(name) + ".png"), kSameImage);
    const bool gif = std::string(name).ends_with(".gif");
    ExpectClose(std::string(name) + " = source.png", decoded, source,
                gif ? kGifPalette : kSameImage);
  }
}

TEST(FormatsTest, AnAnimatedGifGivesItsFirstFrameOnly) {
  // anim.gif: the photograph, then its negative.
  absl::StatusOr<Result> out = RunToPng(Fixture("anim.gif"));
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectClose("anim.gif = its first frame (photo.gif)", DecodePng(out->bytes),
              Reference("photo.gif.png"), kSameImage);
}

TEST(FormatsTest, AGifsTransparentColourBecomesAlpha) {
  // alpha.gif: 60x40 transparent, a red box from 10,10 to 49,29.
  absl::StatusOr<Result> out = RunToPng(Fixture("alpha.gif"));
  ASSERT_TRUE(out.ok()) << out.status();
  const cv::Mat decoded = DecodePng(out->bytes);
  ASSERT_EQ(decoded.channels(), 4);
  const cv::Mat reference = Reference("alpha.gif.png");
  ASSERT_EQ(reference.channels(), 4);
  std::vector<cv::Mat> ours, theirs;
  cv::split(decoded, ours);
  cv::split(reference, theirs);
  EXPECT_EQ(cv::norm(ours[3], theirs[3], cv::NORM_INF), 0) << "alpha as ImageMagick reads it";
  EXPECT_EQ(decoded.at<cv::Vec4b>(0, 0)[3], 0);
  EXPECT_EQ(decoded.at<cv::Vec4b>(20, 30), cv::Vec4b(0, 0, 255, 255));
  // A JPEG of it is composited over white, as any image with alpha is.
  job::OutputSpec jpeg;
  absl::StatusOr<Result> flat = Pipeline(Limits{}).Run(Fixture("alpha.gif"), {}, jpeg);
  ASSERT_TRUE(flat.ok()) << flat.status();
  // A pixel whose 16x16 block (JPEG's chroma) holds no red: white, to a level or two.
  const cv::Vec3b white = DecodePng(flat->bytes).at<cv::Vec3b>(39, 0);
  EXPECT_GE(white[0], 250);
  EXPECT_GE(white[1], 250);
  EXPECT_GE(white[2], 250);
}

TEST(FormatsTest, AGifFrameIsDrawnAtItsOffsetOnTheLogicalScreen) {
  // offset.gif: a blue 40x30 frame at +20+10 on a 100x80 screen.
  const std::string gif = Fixture("offset.gif");
  absl::StatusOr<ImageInfo> info = Sniff(gif);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->width, 100);
  EXPECT_EQ(info->height, 80);
  absl::StatusOr<Result> out = RunToPng(gif);
  ASSERT_TRUE(out.ok()) << out.status();
  const cv::Mat decoded = DecodePng(out->bytes);
  ASSERT_EQ(decoded.size(), cv::Size(100, 80));
  ASSERT_EQ(decoded.channels(), 4);
  EXPECT_EQ(decoded.at<cv::Vec4b>(5, 5)[3], 0) << "outside the frame: transparent";
  EXPECT_EQ(decoded.at<cv::Vec4b>(10, 20), cv::Vec4b(255, 0, 0, 255));
  EXPECT_EQ(decoded.at<cv::Vec4b>(39, 59), cv::Vec4b(255, 0, 0, 255));
  EXPECT_EQ(decoded.at<cv::Vec4b>(40, 60)[3], 0);
}

TEST(FormatsTest, AppliesATiffsOrientationOnceAsImageMagicksAutoOrientDoes) {
  // orientation-6.tiff: the photograph stored turned (240x360), tagged Orientation 6, as a camera
  // would write it.
  const std::string tiff = Fixture("orientation-6.tiff");
  absl::StatusOr<ImageInfo> info = Sniff(tiff);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->width, 240);
  EXPECT_EQ(info->height, 360);
  EXPECT_EQ(info->orientation, 6);
  EXPECT_EQ(info->DisplayWidth(), 360);
  absl::StatusOr<Result> out = RunToPng(tiff);
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectClose("orientation-6.tiff = convert -auto-orient", DecodePng(out->bytes),
              Reference("orientation-6.tiff.png"), kSameImage);
  // A resize's box applies to the image as shown.
  absl::StatusOr<Result> fitted =
      RunToPng(tiff, {job::Resize{.width = 180, .fit = job::Fit::kInside}});
  ASSERT_TRUE(fitted.ok()) << fitted.status();
  EXPECT_EQ(fitted->width, 180);
  EXPECT_EQ(fitted->height, 120);
}

TEST(FormatsTest, AppliesEveryTiffOrientationOnceAtEightAndSixteenBits) {
  // The photograph (360x240) tagged with each value: OpenCV's decoder applies the tag itself,
  // so the pipeline must not apply it again.
  for (int orientation = 1; orientation <= 8; ++orientation) {
    for (int depth : {8, 16}) {
      const std::string name = absl::StrCat("orient-", orientation, "-", depth, ".tiff");
      const std::string tiff = Fixture(name);
      absl::StatusOr<ImageInfo> info = Sniff(tiff);
      ASSERT_TRUE(info.ok()) << name << ": " << info.status();
      EXPECT_EQ(info->orientation, orientation) << name;
      EXPECT_EQ(info->DisplayWidth(), orientation >= 5 ? 240 : 360) << name;
      absl::StatusOr<Result> out = RunToPng(tiff);
      ASSERT_TRUE(out.ok()) << name << ": " << out.status();
      EXPECT_EQ(out->width, info->DisplayWidth()) << name;
      ExpectClose(name + " = convert -auto-orient", DecodePng(out->bytes), Reference(name + ".png"),
                  kSameImage);
    }
  }
}

TEST(FormatsTest, FitsWithinABoxLikeImageMagicksReductionOfThePhotograph) {
  // The reference is source.png reduced to 180 wide by ImageMagick (golden/make-references.sh).
  const cv::Mat reference = Golden("exif/upright-inside-width-180.png");
  for (const char* name : {"photo.tiff", "photo.bmp", "photo.gif"}) {
    absl::StatusOr<Result> out =
        RunToPng(Fixture(name), {job::Resize{.width = 180, .fit = job::Fit::kInside}});
    ASSERT_TRUE(out.ok()) << name << ": " << out.status();
    EXPECT_EQ(out->width, 180);
    EXPECT_EQ(out->height, 120);
    // The GIF's dithering mostly averages away.
    const bool gif = std::string(name).ends_with(".gif");
    ExpectClose(std::string(name) + " inside 180", DecodePng(out->bytes), reference,
                gif ? kGifPalette : kTwoResamplers);
  }
}

// ---- 16 bits per sample.

TEST(FormatsTest, SixteenBitSamplesAreScaledToEightBitsNotTruncated) {
  // Gradients over the whole 16-bit range (4096 levels, top to bottom), grey and colour, as PNG and
  // TIFF. Scaled, every sample is v / 257 rounded: within half a level of its exact value, where
  // truncation (v >> 8) is up to a whole level off on about half of them. ImageMagick's own
  // reduction (-depth 8) gives floor(v / 257): at most one level from ours, never more.
  for (const char* name : {"gray16", "rgb16"}) {
    const cv::Mat reference = Bgr(Reference(std::string(name) + ".8.png"));
    for (const char* ext : {".png", ".tiff"}) {
      const std::string file = std::string(name) + ext;
      const std::string bytes = Fixture(file);
      const cv::Mat raw =
          Bgr(cv::imdecode(std::vector<uchar>(bytes.begin(), bytes.end()), cv::IMREAD_UNCHANGED));
      ASSERT_EQ(raw.depth(), CV_16U) << file << " is not 16-bit";
      absl::StatusOr<Result> out = RunToPng(bytes);
      ASSERT_TRUE(out.ok()) << file << ": " << out.status();
      const cv::Mat decoded = Bgr(DecodePng(out->bytes));
      ASSERT_EQ(decoded.depth(), CV_8U) << file;
      ASSERT_EQ(decoded.size(), raw.size()) << file;
      double worst = 0;            // ours against v / 257
      double worst_truncated = 0;  // v >> 8 against v / 257
      for (int y = 0; y < raw.rows; ++y) {
        const auto* in = raw.ptr<uint16_t>(y);
        const auto* o = decoded.ptr<uint8_t>(y);
        for (int i = 0; i < raw.cols * 3; ++i) {
          const double exact = in[i] / 257.0;
          worst = std::max(worst, std::abs(o[i] - exact));
          worst_truncated = std::max(worst_truncated, std::abs((in[i] >> 8) - exact));
        }
      }
      const double from_magick = cv::norm(decoded, reference, cv::NORM_INF);
      std::printf(
          "[ formats ] %-40s off v/257 by at most %.3f (truncating: %.3f); ImageMagick's "
          "floor(v/257) within %.0f\n",
          file.c_str(), worst, worst_truncated, from_magick);
      EXPECT_LE(worst, 0.5) << file;
      EXPECT_GT(worst_truncated, 0.9) << file << ": the gradient cannot tell truncation apart";
      EXPECT_LE(from_magick, 1) << file;
    }
  }
}

// ---- Poison: every answer is a value, nothing crashes.

TEST(FormatsTest, AGifDeclaringA65535SquareScreenIsRefusedBeforeDecoding) {
  std::string bomb = Fixture("photo.gif");
  for (int i = 6; i < 10; ++i) bomb[i] = '\xff';
  // The first frame is no larger than the screen, so the header passes Sniff; the limit refuses.
  const absl::Status sniffed = SniffWithin(bomb, Limits{}.max_pixels).status();
  EXPECT_TRUE(errors::Is(sniffed, errors::Reason::kImageTooLarge)) << sniffed;
  const absl::Status run = RunToPng(bomb).status();
  EXPECT_TRUE(errors::Is(run, errors::Reason::kImageTooLarge)) << run;
}

void PutLe32(std::string& file, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) file[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

TEST(FormatsTest, ATiffOrBmpDeclaringABombIsRefusedBeforeDecoding) {
  std::string bmp = Fixture("photo.bmp");
  PutLe32(bmp, 18, 100000);  // BITMAPINFOHEADER and later: width, then height
  PutLe32(bmp, 22, 100000);
  const absl::Status bmp_run = RunToPng(bmp).status();
  EXPECT_TRUE(errors::Is(bmp_run, errors::Reason::kImageTooLarge)) << bmp_run;

  // ImageMagick writes the IFD after the strips; its ImageWidth and ImageLength are LONGs or
  // SHORTs, found by walking the IFD as Sniff does.
  std::string tiff = Fixture("photo.tiff");
  ASSERT_EQ(tiff.substr(0, 2), "II");
  const uint32_t ifd = static_cast<uint8_t>(tiff[4]) | (static_cast<uint8_t>(tiff[5]) << 8) |
                       (static_cast<uint8_t>(tiff[6]) << 16) |
                       (static_cast<uint32_t>(static_cast<uint8_t>(tiff[7])) << 24);
  const int count = static_cast<uint8_t>(tiff[ifd]) | (static_cast<uint8_t>(tiff[ifd + 1]) << 8);
  int patched = 0;
  for (int e = 0; e < count; ++e) {
    const size_t entry = ifd + 2 + 12 * static_cast<size_t>(e);
    const int tag =
        static_cast<uint8_t>(tiff[entry]) | (static_cast<uint8_t>(tiff[entry + 1]) << 8);
    if (tag != 256 && tag != 257) continue;
    tiff[entry + 2] = 4;  // LONG
    tiff[entry + 3] = 0;
    PutLe32(tiff, entry + 8, 100000);
    ++patched;
  }
  ASSERT_EQ(patched, 2);
  const absl::Status tiff_run = RunToPng(tiff).status();
  EXPECT_TRUE(errors::Is(tiff_run, errors::Reason::kImageTooLarge)) << tiff_run;
}

TEST(FormatsTest, TruncatedFilesAreCorrupt) {
  for (const char* name : {"photo.gif", "interlaced.gif", "photo.tiff", "photo.bmp"}) {
    const std::string file = Fixture(name);
    // From 32 bytes on: a BMP's header needs 26 to be recognised (fewer are 415).
    for (size_t n = 32; n < file.size() * 9 / 10; n += file.size() / 23) {
      const absl::Status run = RunToPng(file.substr(0, n)).status();
      EXPECT_TRUE(errors::Is(run, errors::Reason::kCorruptImage))
          << name << " cut at " << n << ": " << run;
    }
  }
}

TEST(FormatsTest, RandomBytesAfterTheMagicAreRefusedOrDecodedNeverACrash) {
  std::mt19937 rng(18);
  std::uniform_int_distribution<int> byte(0, 255);
  const std::pair<const char*, size_t> files[] = {
      {"photo.gif", 6}, {"photo.tiff", 4}, {"photo.bmp", 2}};  // the magic's length
  for (const auto& [name, magic] : files) {
    const std::string file = Fixture(name);
    for (int trial = 0; trial < 20; ++trial) {
      // Random bytes behind the magic, and random bytes in the middle of the data (a TIFF's IFD,
      // at the end, and a BMP's or GIF's header, at the start, left alone): a corrupt or
      // unrecognised header, one that declares too much, or (the middle) a picture or the
      // decoder's error. Never a crash.
      std::string garbage = file;
      for (size_t i = magic; i < garbage.size(); ++i) garbage[i] = static_cast<char>(byte(rng));
      std::string noise = file;
      for (size_t i = 1024; i < noise.size() - 4096; ++i) noise[i] = static_cast<char>(byte(rng));
      for (const std::string& bytes : {garbage, noise}) {
        const absl::Status run = RunToPng(bytes).status();
        EXPECT_TRUE(run.ok() || errors::Is(run, errors::Reason::kCorruptImage) ||
                    errors::Is(run, errors::Reason::kImageTooLarge) ||
                    errors::Is(run, errors::Reason::kUnsupportedMediaType))
            << name << ": " << run;
      }
    }
  }
}

TEST(FormatsTest, DecodeGifRefusesWhatSniffWouldNotHaveLetThrough) {
  // DecodeGif is called with Sniff's answer; given one that does not match the file, it refuses
  // rather than draw outside the screen it was promised.
  const std::string gif = Fixture("photo.gif");
  ImageInfo smaller{.format = job::Format::kGif, .width = 36, .height = 24};
  const absl::Status status = DecodeGif(gif, smaller).status();
  EXPECT_TRUE(errors::Is(status, errors::Reason::kCorruptImage)) << status;
}

}  // namespace
}  // namespace pixq::imaging
