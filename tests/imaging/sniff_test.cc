#include "pkg/imaging/sniff.h"

#include <random>

#include <gtest/gtest.h>

#include "pkg/errors/errors.h"
#include "tests/imaging/test_images.h"

namespace pixq::imaging {
namespace {

using testing::Encode;

TEST(SniffTest, ReadsJpegDimensionsFromTheFrameHeader) {
  absl::StatusOr<ImageInfo> info = Sniff(Encode(testing::Photo(123, 45), ".jpg"));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->format, job::Format::kJpeg);
  EXPECT_EQ(info->width, 123);
  EXPECT_EQ(info->height, 45);
  EXPECT_EQ(info->orientation, 1);
  EXPECT_EQ(info->jpeg_frame, 0xC0);  // baseline
  EXPECT_FALSE(info->Progressive());
}

TEST(SniffTest, ReadsProgressiveJpegs) {
  absl::StatusOr<ImageInfo> info =
      Sniff(Encode(testing::Photo(64, 48), ".jpg", {cv::IMWRITE_JPEG_PROGRESSIVE, 1}));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->width, 64);
  EXPECT_EQ(info->height, 48);
  EXPECT_EQ(info->jpeg_frame, 0xC2);
  EXPECT_TRUE(info->Progressive());
}

TEST(SniffTest, ReadsPngDimensionsFromIhdr) {
  absl::StatusOr<ImageInfo> info = Sniff(Encode(testing::Photo(77, 66), ".png"));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->format, job::Format::kPng);
  EXPECT_EQ(info->width, 77);
  EXPECT_EQ(info->height, 66);
}

TEST(SniffTest, ReadsLossyAndLosslessWebp) {
  absl::StatusOr<ImageInfo> lossy =
      Sniff(Encode(testing::Photo(101, 57), ".webp", {cv::IMWRITE_WEBP_QUALITY, 80}));
  ASSERT_TRUE(lossy.ok()) << lossy.status();
  EXPECT_EQ(lossy->format, job::Format::kWebp);
  EXPECT_EQ(lossy->width, 101);
  EXPECT_EQ(lossy->height, 57);
  absl::StatusOr<ImageInfo> lossless = Sniff(Encode(testing::Photo(99, 31), ".webp"));
  ASSERT_TRUE(lossless.ok()) << lossless.status();
  EXPECT_EQ(lossless->width, 99);
  EXPECT_EQ(lossless->height, 31);
  cv::Mat with_alpha(20, 30, CV_8UC4, cv::Scalar(1, 2, 3, 128));
  absl::StatusOr<ImageInfo> alpha =
      Sniff(Encode(with_alpha, ".webp", {cv::IMWRITE_WEBP_QUALITY, 80}));
  ASSERT_TRUE(alpha.ok()) << alpha.status();
  EXPECT_EQ(alpha->width, 30);
  EXPECT_EQ(alpha->height, 20);
}

TEST(SniffTest, ReadsExifOrientationInBothByteOrders) {
  const std::string jpeg = Encode(testing::Photo(40, 20), ".jpg");
  for (int orientation = 1; orientation <= 8; ++orientation) {
    for (bool big_endian : {false, true}) {
      absl::StatusOr<ImageInfo> info =
          Sniff(testing::WithExifOrientation(jpeg, orientation, big_endian));
      ASSERT_TRUE(info.ok()) << info.status();
      EXPECT_EQ(info->orientation, orientation);
      EXPECT_EQ(info->width, 40);
      EXPECT_EQ(info->DisplayWidth(), orientation >= 5 ? 20 : 40);
      EXPECT_EQ(info->DisplayHeight(), orientation >= 5 ? 40 : 20);
    }
  }
  // Out-of-range values count as "no rotation".
  EXPECT_EQ(Sniff(testing::WithExifOrientation(jpeg, 9))->orientation, 1);
}

TEST(SniffTest, ReadsAHugeDeclaredSizeWithoutAllocatingIt) {
  absl::StatusOr<ImageInfo> info = Sniff(testing::PngHeaderClaiming(100000, 100000));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->width, 100000);
  EXPECT_EQ(info->height, 100000);
}

TEST(SniffTest, RefusesWhatIsNotAnImageFormatPixqReads) {
  // "BM" with no DIB header after it is not taken for a bitmap; BigTIFF ("II+") is not read.
  for (const std::string& bytes :
       {std::string(""), std::string("hello"), std::string("GIF90a\x01\x00\x01\x00", 10),
        std::string("II+\0\x08\0\0\0\x10\0\0\0\0\0\0\0", 16),
        std::string("BM not a bitmap, only text that starts with BM"),
        std::string("<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>"),
        std::string("<?xml version=\"1.0\"?><svg/>"), std::string("BM\x36\x00\x00\x00", 6),
        std::string("RIFF\0\0\0\0WAVEfmt ", 16)}) {
    absl::StatusOr<ImageInfo> info = Sniff(bytes);
    ASSERT_FALSE(info.ok());
    EXPECT_EQ(errors::ReasonOf(info.status()), "UnsupportedMediaType") << bytes;
    EXPECT_EQ(errors::HttpStatusOf(info.status()), 415);
  }
}

TEST(SniffTest, CallsTruncatedOrZeroSizedHeadersCorrupt) {
  EXPECT_EQ(errors::ReasonOf(Sniff(std::string("\xFF\xD8\xFF", 3)).status()), "CorruptImage");
  EXPECT_EQ(errors::ReasonOf(Sniff(testing::PngHeaderClaiming(0, 10)).status()), "CorruptImage");
  EXPECT_EQ(errors::ReasonOf(Sniff(std::string("\x89PNG\r\n\x1a\n", 8)).status()), "CorruptImage");
  // A GIF's screen descriptor cut short (a GIF was 415 before pixq read them).
  EXPECT_EQ(errors::ReasonOf(Sniff(std::string("GIF89a\x01\x00\x01\x00", 10)).status()),
            "CorruptImage");
  EXPECT_EQ(errors::ReasonOf(Sniff(std::string("II*\0\xff\xff\0\0", 8)).status()), "CorruptImage");
}

// The smallest GIF: a 1x1 screen, a two-colour global table, one frame.
const std::string kTinyGif(
    "GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff"
    "\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00\x3b",
    35);

TEST(SniffTest, ReadsAGifsScreenAndWalksToTheEndOfItsFirstFrame) {
  absl::StatusOr<ImageInfo> info = Sniff(kTinyGif);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->format, job::Format::kGif);
  EXPECT_EQ(info->width, 1);
  EXPECT_EQ(info->height, 1);
  EXPECT_STREQ(job::FormatName(info->format), "gif");
  // The trailer is not needed (only the first frame is read); the first frame's data is.
  EXPECT_TRUE(Sniff(kTinyGif.substr(0, kTinyGif.size() - 1)).ok());
  for (size_t keep = 13; keep < kTinyGif.size() - 1; ++keep) {
    EXPECT_EQ(errors::ReasonOf(Sniff(kTinyGif.substr(0, keep)).status()), "CorruptImage") << keep;
  }
  // A screen of 65535 x 65535: read, for SniffWithin to refuse.
  std::string bomb = kTinyGif;
  bomb[6] = bomb[7] = bomb[8] = bomb[9] = '\xff';
  info = Sniff(bomb);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->width, 65535);
  EXPECT_EQ(errors::ReasonOf(SniffWithin(bomb, 100'000'000).status()), "ImageTooLarge");
  // A first frame larger than its screen would be decompressed whole: refused.
  std::string wide_frame = kTinyGif;
  wide_frame[24] = '\x10';  // frame width 16 on a 1x1 screen
  EXPECT_EQ(errors::ReasonOf(Sniff(wide_frame).status()), "CorruptImage");
}

TEST(SniffTest, ReadsTiffSizeAndOrientationInBothByteOrders) {
  const std::string tiff = Encode(testing::Photo(123, 45), ".tiff");
  absl::StatusOr<ImageInfo> info = Sniff(tiff);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->format, job::Format::kTiff);
  EXPECT_EQ(info->width, 123);
  EXPECT_EQ(info->height, 45);
  EXPECT_EQ(info->orientation, 1);
  // A big-endian TIFF of 300 x 70 (LONG width, SHORT height) with orientation 6, by hand.
  std::string mm("MM\0*\0\0\0\x08\0\x03", 10);
  mm += std::string("\x01\x00\0\x04\0\0\0\x01\0\0\x01\x2c", 12);  // 256 LONG 300
  mm += std::string("\x01\x01\0\x03\0\0\0\x01\0\x46\0\0", 12);    // 257 SHORT 70
  mm += std::string("\x01\x12\0\x03\0\0\0\x01\0\x06\0\0", 12);    // 274 SHORT 6
  mm += std::string("\0\0\0\0", 4);
  info = Sniff(mm);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->width, 300);
  EXPECT_EQ(info->height, 70);
  EXPECT_EQ(info->orientation, 6);
  EXPECT_EQ(info->DisplayWidth(), 70);
  // An IFD without the size tags, or cut short before them: a zero dimension. One that starts past
  // the end: none.
  EXPECT_EQ(errors::ReasonOf(Sniff(mm.substr(0, 8) + std::string(6, '\0')).status()),
            "CorruptImage");
  EXPECT_EQ(errors::ReasonOf(Sniff(mm.substr(0, 20)).status()), "CorruptImage");
  EXPECT_EQ(errors::ReasonOf(Sniff(mm.substr(0, 9)).status()), "CorruptImage");
}

TEST(SniffTest, ReadsBmpSizeTopDownOrBottomUp) {
  const std::string bmp = Encode(testing::Photo(77, 66), ".bmp");
  absl::StatusOr<ImageInfo> info = Sniff(bmp);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->format, job::Format::kBmp);
  EXPECT_EQ(info->width, 77);
  EXPECT_EQ(info->height, 66);
  std::string top_down = bmp;
  const int32_t negative = -66;
  for (int i = 0; i < 4; ++i) top_down[22 + i] = static_cast<char>((negative >> (8 * i)) & 0xff);
  info = Sniff(top_down);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->height, 66);
}

TEST(SniffTest, CallsAJpegCutShortCorrupt) {
  const std::string jpeg = Encode(testing::Photo(120, 80), ".jpg");
  ASSERT_TRUE(Sniff(jpeg).ok());
  // Cut anywhere after the frame header: the header is fine, the image is not all there.
  for (size_t keep : {jpeg.size() / 2, jpeg.size() - 2, jpeg.size() - 1}) {
    absl::StatusOr<ImageInfo> info = Sniff(std::string_view(jpeg).substr(0, keep));
    ASSERT_FALSE(info.ok()) << keep;
    EXPECT_EQ(errors::ReasonOf(info.status()), "CorruptImage");
    EXPECT_NE(std::string(info.status().message()).find("truncated"), std::string::npos);
  }
  // Bytes after the end-of-image marker (some cameras append data) are no reason to refuse.
  EXPECT_TRUE(Sniff(jpeg + "trailing").ok());
  // An EXIF thumbnail's own end marker (before the frame header) does not count.
  const std::string with_exif = testing::WithExifOrientation(jpeg, 6);
  EXPECT_FALSE(Sniff(std::string_view(with_exif).substr(0, with_exif.size() / 2)).ok());
}

TEST(SniffTest, NeverCrashesOnPrefixesOrNoise) {
  const std::vector<std::string> images = {
      Encode(testing::Photo(50, 40), ".jpg"),
      testing::WithExifOrientation(Encode(testing::Photo(50, 40), ".jpg"), 6),
      Encode(testing::Photo(50, 40), ".png"),
      Encode(testing::Photo(50, 40), ".webp", {cv::IMWRITE_WEBP_QUALITY, 80}),
      Encode(testing::Photo(50, 40), ".webp"),
      Encode(testing::Photo(50, 40), ".tiff"),
      Encode(testing::Photo(50, 40), ".bmp"),
      kTinyGif};
  for (const std::string& image : images) {
    for (size_t n = 0; n <= std::min<size_t>(image.size(), 2000); ++n) {
      (void)Sniff(std::string_view(image).substr(0, n));
    }
  }
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::string noise(static_cast<size_t>(rng() % 64), '\0');
    for (char& c : noise) c = static_cast<char>(rng());
    // Start some with a real signature so the format parsers see garbage too.
    const int kind = i % 7;
    if (kind == 1) noise = std::string("\xFF\xD8\xFF", 3) + noise;
    if (kind == 2) noise = std::string("\x89PNG\r\n\x1a\n", 8) + noise;
    if (kind == 3) noise = std::string("RIFF\0\0\0\0WEBP", 12) + noise;
    if (kind == 4) noise = "GIF89a" + noise;
    if (kind == 5) noise = std::string("II*\0", 4) + noise;
    if (kind == 6) noise = std::string("BM\0\0\0\0\0\0\0\0\0\0\0\0\x28\0\0\0", 18) + noise;
    (void)Sniff(noise);
  }
}

}  // namespace
}  // namespace pixq::imaging
