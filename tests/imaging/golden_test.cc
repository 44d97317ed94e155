// Golden-image tests: the real Pipeline runs every step, in every output format, on a real
// photograph, and its output is compared with a reference made independently of pixq and OpenCV
// (by ImageMagick, see golden/make-references.sh) by PSNR and SSIM against stated floors. The
// eight EXIF orientation fixtures must all decode to the same upright photograph, with and
// without shrink-on-load.
//
// Every comparison prints one line, starting "[ golden ]", with its figures (size, quality used,
// shrink-on-load scale; measured value >= floor), e.g.
//   rotate-90 webp  240x360  q80  scale 1: PSNR  38.54 dB >= 30.99, SSIM 0.9882 >= 0.9740
// and on a failure writes the output and the reference as PNGs under the test's temp dir. The
// figures quoted below were measured on Debian 12 (OpenCV 4.6, libjpeg-turbo 2.1, libwebp 1.2).

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "pkg/imaging/pipeline.h"
#include "tests/imaging/image_metrics.h"

namespace pixq::imaging {
namespace {

using job::Fit;
using job::Format;
using job::Gravity;

// What an output must reach against its reference.
struct Floor {
  double psnr;  // dB
  double ssim;
};

// Floors of each kind of step, for lossless (PNG) output: each about 3 dB and a little SSIM below
// the lowest figure measured (the test log prints them all), and above what a one-pixel shift or
// a wrong orientation gives (GoldenFloorTest) and what the wrong filter family, a 10% error in a
// blur's sigma or a wrong colour order gave when tried.
//
// Pixels only moved (crop, rotate, mirror, flip, none): both sides decode photo.jpg with libjpeg,
// and the output is identical to the reference. The floor leaves room for a libjpeg whose
// decoding differs by a level here and there; a pixel's shift falls to 24 dB.
constexpr Floor kMoved{50.0, 0.998};
// Reductions: OpenCV's INTER_AREA against ImageMagick's -scale, both averaging over the area, and
// for JPEG input the DCT-scaled decode of shrink-on-load. Measured from 49.0 dB, SSIM 0.998;
// bilinear reduction gave 40.4 dB.
constexpr Floor kReduced{46.0, 0.996};
// Enlargements: OpenCV's bicubic (a = -0.75) against Catmull-Rom (a = -0.5). Measured from
// 45.5 dB, SSIM 0.997 (the 3x case); bilinear gave 40.7 dB, 0.991 there.
constexpr Floor kEnlarged{42.0, 0.995};
// Grayscale: OpenCV's fixed-point Rec. 601 against ImageMagick's, one level apart here and there.
// Measured 51.7 dB, SSIM 0.9986 (a level matters in the flat background); RGB order gave 31.8 dB.
constexpr Floor kGrey{45.0, 0.995};
// Gaussian blur and unsharp mask: different kernel radii and border handling. Measured from
// 47.7 dB, SSIM 0.9988; a sigma 10% too large gave 43.8 dB, 0.9958.
constexpr Floor kFiltered{45.0, 0.997};

// Two independent errors add in mean squared error, so a step that alone reaches `step` and a
// codec that alone reaches `codec` together reach this. For SSIM, the losses (1 - SSIM) add.
Floor Combine(Floor step, Floor codec) {
  const double mse = std::pow(10.0, -step.psnr / 10.0) + std::pow(10.0, -codec.psnr / 10.0);
  return {-10.0 * std::log10(mse), 1.0 - ((1.0 - step.ssim) + (1.0 - codec.ssim))};
}

// The output formats, each with what its compression alone may lose on this photograph.
struct Codec {
  const char* name;
  Format format;
  // When set, a maxBytes halfway between the sizes at quality 1 and at the default quality, so
  // that the search must lower the quality and can meet the budget.
  bool max_bytes;
  Floor loss;
};

// Measured from (worst case, on the smallest, most detailed output): JPEG 34.2 dB, SSIM 0.987; WebP
// 34.6 dB, 0.984; JPEG under maxBytes 29.8 dB, 0.959; WebP under maxBytes 30.5 dB, 0.962.
const Codec kCodecs[] = {
    {"png", Format::kPng, false, {testing::kIdentical, 1.0}},
    {"jpeg", Format::kJpeg, false, {31.0, 0.975}},
    {"webp", Format::kWebp, false, {31.0, 0.975}},
    {"jpeg-maxbytes", Format::kJpeg, true, {27.0, 0.94}},
    {"webp-maxbytes", Format::kWebp, true, {27.0, 0.94}},
};

std::string GoldenPath(const std::string& name) {
  return std::string(PIXQ_GOLDEN_DIR) + "/" + name;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

cv::Mat DecodeBytes(const std::string& bytes) {
  return cv::imdecode(std::vector<uchar>(bytes.begin(), bytes.end()), cv::IMREAD_UNCHANGED);
}

// Compares `out` with `reference`: prints the figures, expects both floors, and keeps the images
// of a failure. `label` names the case in the log and the kept files.
void ExpectClose(const std::string& label, const cv::Mat& out, const cv::Mat& reference,
                 Floor floor, const Result& result) {
  ASSERT_FALSE(out.empty()) << label << ": the output does not decode";
  ASSERT_EQ(out.size(), reference.size()) << label;
  const double psnr = testing::Psnr(out, reference);
  const double ssim = testing::Ssim(out, reference);
  char shown[16] = "   inf";
  if (psnr != testing::kIdentical) std::snprintf(shown, sizeof shown, "%6.2f", psnr);
  std::printf("[ golden ] %-40s %4dx%-4d q%-3d scale %d: PSNR %s dB >= %5.2f, SSIM %.4f >= %.4f\n",
              label.c_str(), out.cols, out.rows, result.quality, result.decode_scale, shown,
              floor.psnr, ssim, floor.ssim);
  std::fflush(stdout);
  EXPECT_GE(psnr, floor.psnr) << label;
  EXPECT_GE(ssim, floor.ssim) << label;
  if (psnr < floor.psnr || ssim < floor.ssim) {
    std::string file = label;
    for (char& c : file) {
      if (c == ' ' || c == '/') c = '_';
    }
    const std::string dir = ::testing::TempDir();
    cv::imwrite(dir + "golden-" + file + "-output.png", out);
    cv::imwrite(dir + "golden-" + file + "-reference.png", reference);
    ADD_FAILURE() << label << ": output and reference kept as " << dir << "golden-" << file
                  << "-{output,reference}.png";
  }
}

// ---- Steps

struct StepCase {
  std::string name;  // as in make-references.sh
  std::vector<job::Step> steps;
  Floor floor;
  std::string reference;  // the reference's name when it is not `name`
};

// The cases of one kind of step, run as one test. Each case is encoded as PNG, JPEG and WebP;
// the first of each kind also under maxBytes (a bisection that encodes several times and works
// the same whatever the step, so once per kind is enough and keeps the test fast).
struct StepKind {
  std::string name;
  std::vector<StepCase> cases;
};

void PrintTo(const StepKind& kind, std::ostream* os) { *os << kind.name; }

std::vector<StepKind> StepKinds() {
  std::vector<StepCase> crops = {
      {"crop-box-40-30-200x150",
       {job::Crop{.x = 40, .y = 30, .width = 200, .height = 150}},
       kMoved,
       ""},
      {"crop-box-300-200-100x100-clipped",
       {job::Crop{.x = 300, .y = 200, .width = 100, .height = 100}},
       kMoved,
       ""},
      {"crop-gravity-south-500x100-clipped",
       {job::Crop{.width = 500, .height = 100, .gravity = Gravity::kSouth}},
       kMoved,
       ""},
  };
  const std::pair<const char*, Gravity> gravities[] = {
      {"center", Gravity::kCenter},       {"north", Gravity::kNorth},
      {"south", Gravity::kSouth},         {"east", Gravity::kEast},
      {"west", Gravity::kWest},           {"northeast", Gravity::kNorthEast},
      {"northwest", Gravity::kNorthWest}, {"southeast", Gravity::kSouthEast},
      {"southwest", Gravity::kSouthWest}};
  for (const auto& [name, gravity] : gravities) {
    crops.push_back({std::string("crop-gravity-") + name + "-160x120",
                     {job::Crop{.width = 160, .height = 120, .gravity = gravity}},
                     kMoved,
                     ""});
  }
  return {
      {"none", {{"none", {}, kMoved, ""}}},
      {"resize",
       {
           {"resize-inside-180x180", {job::Resize{.width = 180, .height = 180}}, kReduced, ""},
           {"resize-inside-width-250", {job::Resize{.width = 250}}, kReduced, ""},
           {"resize-inside-height-60", {job::Resize{.height = 60}}, kReduced, ""},
           {"resize-inside-400x400-no-upscale",
            {job::Resize{.width = 400, .height = 400}},
            kMoved,
            "none"},
           {"resize-inside-400x400-upscale",
            {job::Resize{.width = 400, .height = 400, .upscale = true}},
            kEnlarged,
            ""},
           {"resize-cover-160x160",
            {job::Resize{.width = 160, .height = 160, .fit = Fit::kCover}},
            kReduced,
            ""},
           {"resize-cover-180x100",
            {job::Resize{.width = 180, .height = 100, .fit = Fit::kCover}},
            kReduced,
            ""},
           {"resize-cover-300x300-no-upscale",
            {job::Resize{.width = 300, .height = 300, .fit = Fit::kCover}},
            kMoved,
            ""},
           {"resize-cover-400x300-upscale",
            {job::Resize{.width = 400, .height = 300, .fit = Fit::kCover, .upscale = true}},
            kEnlarged,
            ""},
           {"resize-fill-200x200",
            {job::Resize{.width = 200, .height = 200, .fit = Fit::kFill}},
            kReduced,
            ""},
           {"resize-fill-400x120-no-upscale",
            {job::Resize{.width = 400, .height = 120, .fit = Fit::kFill}},
            kReduced,
            ""},
           {"resize-fill-400x300-upscale",
            {job::Resize{.width = 400, .height = 300, .fit = Fit::kFill, .upscale = true}},
            kEnlarged,
            ""},
           {"resize-upscale-3x-after-crop",
            {job::Crop{.width = 120, .height = 80},
             job::Resize{.width = 360, .height = 360, .upscale = true}},
            kEnlarged,
            ""},
       }},
      {"crop", crops},
      {"rotate",
       {
           {"rotate-90", {job::Rotate{.degrees = 90}}, kMoved, ""},
           {"rotate-180", {job::Rotate{.degrees = 180}}, kMoved, ""},
           {"rotate-270", {job::Rotate{.degrees = 270}}, kMoved, ""},
       }},
      {"mirror", {{"mirror", {job::Mirror{}}, kMoved, ""}}},
      {"flip", {{"flip", {job::Flip{}}, kMoved, ""}}},
      {"grayscale", {{"grayscale", {job::Grayscale{}}, kGrey, ""}}},
      {"blur",
       {
           {"blur-sigma-0.8", {job::Blur{.sigma = 0.8}}, kFiltered, ""},
           {"blur-sigma-3", {job::Blur{.sigma = 3}}, kFiltered, ""},
       }},
      {"sharpen",
       {
           {"sharpen-sigma-1-amount-1", {job::Sharpen{.sigma = 1, .amount = 1}}, kFiltered, ""},
           {"sharpen-sigma-2-amount-0.5", {job::Sharpen{.sigma = 2, .amount = 0.5}}, kFiltered, ""},
       }},
      // Several steps in a row; the reduction dominates the difference.
      {"chain",
       {{"chain",
         {job::Crop{.width = 240, .height = 240, .gravity = Gravity::kEast},
          job::Rotate{.degrees = 90}, job::Resize{.width = 120, .height = 120}, job::Grayscale{}},
         kReduced,
         ""}}},
  };
}

class GoldenStepTest : public ::testing::TestWithParam<StepKind> {
 protected:
  Pipeline pipeline_{Limits{}};
};

TEST_P(GoldenStepTest, MatchesTheIndependentReferenceInEveryFormat) {
  const std::string photo = ReadFile(GoldenPath("photo.jpg"));
  ASSERT_FALSE(photo.empty()) << "cannot read " << GoldenPath("photo.jpg");
  for (const StepCase& c : GetParam().cases) {
    const std::string ref_name =
        "references/" + (c.reference.empty() ? c.name : c.reference) + ".png";
    const cv::Mat reference = cv::imread(GoldenPath(ref_name), cv::IMREAD_UNCHANGED);
    ASSERT_FALSE(reference.empty()) << "cannot read " << GoldenPath(ref_name)
                                    << "; run tests/imaging/golden/make-references.sh";
    for (const Codec& codec : kCodecs) {
      if (codec.max_bytes && &c != &GetParam().cases.front()) continue;
      const std::string label = c.name + " " + codec.name;
      job::OutputSpec output{.format = codec.format};
      if (codec.max_bytes) {
        absl::StatusOr<Result> best = pipeline_.Run(photo, c.steps, output);
        absl::StatusOr<Result> worst =
            pipeline_.Run(photo, c.steps, {.format = codec.format, .quality = 1});
        ASSERT_TRUE(best.ok() && worst.ok()) << label;
        output.max_bytes = static_cast<int64_t>(best->bytes.size() + worst->bytes.size()) / 2;
      }
      absl::StatusOr<Result> result = pipeline_.Run(photo, c.steps, output);
      ASSERT_TRUE(result.ok()) << label << ": " << result.status();
      if (output.max_bytes) {
        EXPECT_LE(static_cast<int64_t>(result->bytes.size()), *output.max_bytes) << label;
        EXPECT_LT(result->quality, job::EffectiveQuality(output)) << label;
      }
      const cv::Mat out = DecodeBytes(result->bytes);
      ASSERT_FALSE(out.empty()) << label << ": the output does not decode";
      EXPECT_EQ(out.cols, result->width) << label;
      EXPECT_EQ(out.rows, result->height) << label;
      // PNG and JPEG keep a grey image grey (one channel) and a colour one in colour.
      if (codec.format != Format::kWebp) {
        EXPECT_EQ(out.channels(), reference.channels()) << label;
      }
      ExpectClose(label, out, reference, Combine(c.floor, codec.loss), *result);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Golden, GoldenStepTest, ::testing::ValuesIn(StepKinds()),
                         [](const ::testing::TestParamInfo<StepKind>& info) {
                           return info.param.name;
                         });

// ---- EXIF orientation

// What the photograph decodes to as a first step asks, from any of the eight fixtures.
struct Upright {
  const char* name;  // exif/upright-<name>.png, or source.png when empty
  std::vector<job::Step> steps;
  int decode_scale;  // the shrink-on-load reduction the fixture's 360x240 allows
  Floor floor;
};

// The fixtures (JPEG quality 90 of a turned photograph) against the lossless upright one.
// Measured from 39.0 dB, SSIM 0.994.
constexpr Floor kFixture{35.0, 0.985};

const std::vector<Upright>& UprightCases() {
  static const auto* cases = new std::vector<Upright>{
      {"", {}, 1, kFixture},
      {"inside-width-180", {job::Resize{.width = 180}}, 2, Combine(kReduced, kFixture)},
      {"inside-width-90", {job::Resize{.width = 90}}, 4, Combine(kReduced, kFixture)},
      {"inside-width-45", {job::Resize{.width = 45}}, 8, Combine(kReduced, kFixture)},
      {"cover-60x60",
       {job::Resize{.width = 60, .height = 60, .fit = Fit::kCover}},
       4,
       Combine(kReduced, kFixture)},
  };
  return *cases;
}

TEST(GoldenExifTest, EveryOrientationDisplaysUprightWithAndWithoutShrinkOnLoad) {
  const Pipeline pipeline{Limits{}};
  for (int orientation = 1; orientation <= 8; ++orientation) {
    const std::string fixture = "exif/orientation-" + std::to_string(orientation) + ".jpg";
    const std::string jpeg = ReadFile(GoldenPath(fixture));
    ASSERT_FALSE(jpeg.empty()) << "cannot read " << GoldenPath(fixture);
    for (const Upright& u : UprightCases()) {
      const std::string ref_name =
          *u.name == '\0' ? "source.png" : std::string("exif/upright-") + u.name + ".png";
      const cv::Mat reference = cv::imread(GoldenPath(ref_name), cv::IMREAD_UNCHANGED);
      ASSERT_FALSE(reference.empty()) << "cannot read " << GoldenPath(ref_name);
      const std::string label =
          "orientation-" + std::to_string(orientation) + " " + (*u.name == '\0' ? "full" : u.name);
      absl::StatusOr<Result> result =
          pipeline.Run(jpeg, u.steps, job::OutputSpec{.format = Format::kPng});
      ASSERT_TRUE(result.ok()) << label << ": " << result.status();
      EXPECT_EQ(result->decode_scale, u.decode_scale) << label;
      ExpectClose(label, DecodeBytes(result->bytes), reference, u.floor, *result);
    }
  }
}

// ---- The last row and column after shrink-on-load (issue 18)

// A photograph whose sides are no multiple of 8 (edges/photo.jpg, 394x263: 2 and 7 past one), so
// that its last block column and row are partly padding, reduced at each DCT scale and compared
// with ImageMagick's full decode of the same file reduced the same way; and the same photograph
// stored turned (EXIF orientation 6), whose partial blocks end up on the left and bottom.
//
// These floors are lower than kReduced for a reason that is not the partial blocks: here the
// DCT-scaled decode is always followed by a reduction of a non-integer ratio close to 1 (49.25 to
// 48 at 1/8), and that two-stage reduction is further from one area average of the full decode
// on this textured bark than the integer ratios of the cases above are (photo.jpg, 360 wide:
// 50 dB to 45, 90 or 180 wide; 38-42 dB to 48, 96 or 160 wide). So each case has its own floor,
// about 0.7 dB and 0.006 SSIM below what it measured, and each of the four edges (one pixel wide)
// must reach that PSNR floor less 3 dB (measured: at most 1.5 dB below the whole image). Before
// issue 18 the decoded image was stretched over the source, and every case fell below its floor:
// photo 27.5, 31.6, 36.0, 30.6 dB; turned 24.5, 27.2, 36.0, 27.7 dB.
struct EdgeCase {
  const char* name;  // edges/<name>.png and edges/orientation-6-<name>.png
  job::Resize resize;
  int decode_scale;
  Floor photo;
  Floor turned;
};

TEST(GoldenEdgeTest, TheLastRowAndColumnSurviveShrinkOnLoad) {
  const EdgeCase cases[] = {
      // Measured: 30.14 dB, 0.9314; turned 32.23 dB, 0.9677.
      {"inside-width-48", {.width = 48}, 8, {29.5, 0.925}, {31.5, 0.960}},
      // 33.83 dB, 0.9730; 32.19 dB, 0.9672.
      {"inside-width-96", {.width = 96}, 4, {33.0, 0.968}, {31.5, 0.960}},
      // 39.66 dB, 0.9943; 39.66 dB, 0.9944.
      {"inside-width-160", {.width = 160}, 2, {39.0, 0.992}, {39.0, 0.992}},
      // 32.62 dB, 0.9692; 32.95 dB, 0.9732.
      {"cover-60x60",
       {.width = 60, .height = 60, .fit = Fit::kCover},
       4,
       {32.0, 0.963},
       {32.0, 0.965}},
  };
  const Pipeline pipeline{Limits{}};
  for (const bool turned : {false, true}) {
    const std::string fixture = turned ? "orientation-6" : "photo";
    const std::string jpeg = ReadFile(GoldenPath("edges/" + fixture + ".jpg"));
    ASSERT_FALSE(jpeg.empty()) << "cannot read " << GoldenPath("edges/" + fixture + ".jpg");
    for (const EdgeCase& c : cases) {
      const std::string ref_name =
          std::string("edges/") + (turned ? "orientation-6-" : "") + c.name + ".png";
      const cv::Mat reference = cv::imread(GoldenPath(ref_name), cv::IMREAD_UNCHANGED);
      ASSERT_FALSE(reference.empty()) << "cannot read " << GoldenPath(ref_name);
      const std::string label = "edges " + fixture + " " + c.name;
      const Floor floor = turned ? c.turned : c.photo;
      absl::StatusOr<Result> result =
          pipeline.Run(jpeg, {c.resize}, job::OutputSpec{.format = Format::kPng});
      ASSERT_TRUE(result.ok()) << label << ": " << result.status();
      EXPECT_EQ(result->decode_scale, c.decode_scale) << label;
      const cv::Mat out = DecodeBytes(result->bytes);
      ExpectClose(label, out, reference, floor, *result);
      if (out.size() != reference.size()) continue;
      const std::pair<const char*, cv::Rect> edges[] = {
          {"first row", cv::Rect(0, 0, out.cols, 1)},
          {"last row", cv::Rect(0, out.rows - 1, out.cols, 1)},
          {"first column", cv::Rect(0, 0, 1, out.rows)},
          {"last column", cv::Rect(out.cols - 1, 0, 1, out.rows)},
      };
      for (const auto& [edge, strip] : edges) {
        const double psnr = testing::Psnr(out(strip), reference(strip));
        std::printf("[ golden ] %-40s %-12s PSNR %6.2f dB >= %5.2f\n", label.c_str(), edge, psnr,
                    floor.psnr - 3.0);
        EXPECT_GE(psnr, floor.psnr - 3.0) << label << " " << edge;
      }
    }
  }
}

// ---- The floors themselves

// The floors must tell a right output from a slightly wrong one: the reference moved by one pixel
// falls below the floor of its kind, for every kind of step.
TEST(GoldenFloorTest, RejectsTheReferenceShiftedByOnePixel) {
  const std::pair<const char*, Floor> kinds[] = {
      {"none", kMoved},
      {"resize-inside-180x180", kReduced},
      {"resize-inside-400x400-upscale", kEnlarged},
      {"grayscale", kGrey},
      {"blur-sigma-3", kFiltered},
  };
  for (const auto& [name, floor] : kinds) {
    const cv::Mat reference =
        cv::imread(GoldenPath(std::string("references/") + name + ".png"), cv::IMREAD_UNCHANGED);
    ASSERT_FALSE(reference.empty()) << name;
    const cv::Rect inner(1, 0, reference.cols - 1, reference.rows);
    const cv::Rect shifted(0, 0, reference.cols - 1, reference.rows);
    const double psnr = testing::Psnr(reference(shifted), reference(inner));
    const double ssim = testing::Ssim(reference(shifted), reference(inner));
    std::printf("[ golden ] %-40s shifted by 1 px: PSNR %6.2f dB < %5.2f or SSIM %.4f < %.4f\n",
                name, psnr, floor.psnr, ssim, floor.ssim);
    EXPECT_TRUE(psnr < floor.psnr || ssim < floor.ssim) << name;
  }
}

// The EXIF floors must tell the upright photograph from a wrongly turned one of the same size,
// at full size and at the smallest shrink-on-load size.
TEST(GoldenFloorTest, RejectsTheUprightPhotographWronglyTurned) {
  const std::pair<const char*, Floor> uprights[] = {
      {"source.png", kFixture},
      {"exif/upright-inside-width-45.png", Combine(kReduced, kFixture)},
  };
  for (const auto& [name, floor] : uprights) {
    const cv::Mat upright = cv::imread(GoldenPath(name), cv::IMREAD_UNCHANGED);
    ASSERT_FALSE(upright.empty()) << name;
    for (int flip : {1, 0, -1}) {  // mirrored, flipped, turned 180°
      cv::Mat turned;
      cv::flip(upright, turned, flip);
      const double psnr = testing::Psnr(turned, upright);
      const double ssim = testing::Ssim(turned, upright);
      std::printf("[ golden ] %-40s cv::flip %2d: PSNR %6.2f dB < %5.2f or SSIM %.4f < %.4f\n",
                  name, flip, psnr, floor.psnr, ssim, floor.ssim);
      EXPECT_TRUE(psnr < floor.psnr || ssim < floor.ssim) << name << " " << flip;
    }
  }
}

}  // namespace
}  // namespace pixq::imaging
