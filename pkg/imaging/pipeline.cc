#include "pkg/imaging/pipeline.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include <malloc.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "pkg/errors/errors.h"
#include "pkg/imaging/gif_decode.h"
#include "pkg/imaging/heif_decode.h"
#include "pkg/imaging/jpeg_scans.h"
#include "pkg/imaging/png.h"
#include "pkg/imaging/sniff.h"

namespace pixq::imaging {
namespace {

int Round(double v) { return std::max(1, static_cast<int>(std::lround(v))); }

// What a resize turns a w × h image into: the scaled size, and the box cropped from it (equal to
// the scaled size except for cover).
struct ResizePlan {
  cv::Size scaled;
  cv::Size box;
};

ResizePlan PlanResize(const job::Resize& r, cv::Size in) {
  const double w = in.width;
  const double h = in.height;
  switch (r.fit) {
    case job::Fit::kFill: {
      cv::Size box(*r.width, *r.height);
      if (!r.upscale)
        box = cv::Size(std::min(box.width, in.width), std::min(box.height, in.height));
      return {box, box};
    }
    case job::Fit::kCover: {
      double s = std::max(*r.width / w, *r.height / h);
      cv::Size box(*r.width, *r.height);
      if (!r.upscale && s > 1.0) {
        s = 1.0;
        box = cv::Size(std::min(box.width, in.width), std::min(box.height, in.height));
      }
      const cv::Size scaled(std::max(box.width, Round(w * s)), std::max(box.height, Round(h * s)));
      return {scaled, box};
    }
    case job::Fit::kInside:
    default: {
      double s;
      if (r.width && r.height) {
        s = std::min(*r.width / w, *r.height / h);
      } else if (r.width) {
        s = *r.width / w;
      } else {
        s = *r.height / h;
      }
      if (!r.upscale && s > 1.0) s = 1.0;
      const cv::Size scaled(Round(w * s), Round(h * s));
      return {scaled, scaled};
    }
  }
}

// Turns an image decoded as stored into the orientation EXIF says it is displayed in.
void ApplyOrientation(cv::Mat& m, int orientation) {
  switch (orientation) {
    case 2:
      cv::flip(m, m, 1);
      break;
    case 3:
      cv::rotate(m, m, cv::ROTATE_180);
      break;
    case 4:
      cv::flip(m, m, 0);
      break;
    case 5:
      cv::transpose(m, m);
      break;
    case 6:
      cv::rotate(m, m, cv::ROTATE_90_CLOCKWISE);
      break;
    case 7:
      cv::transpose(m, m);
      cv::rotate(m, m, cv::ROTATE_180);
      break;
    case 8:
      cv::rotate(m, m, cv::ROTATE_90_COUNTERCLOCKWISE);
      break;
    default:
      break;
  }
}

// Shrink-on-load (libjpeg's DCT scaling) turns each 8x8 block into (8 / scale)² pixels, so a
// decoded pixel stands for scale × scale source pixels, except along the right and bottom edges
// of a side that is not a multiple of the scale: there the last decoded pixel mixes the
// r = side mod scale real pixels with the scale - r that pad the block (copies of the last real
// row or column: the JPEG standard recommends it and libjpeg does it). Two things follow.
// - Geometry: the decoded image is longer than side / scale, so resizing it as if it were the
//   whole source stretches the picture by up to one decoded pixel. ResizeDctScaled maps it exactly.
// - Content: the last decoded pixel is off the mean of its r real pixels by (scale - r) / scale of
//   the gap between the last real pixel and that mean (none when r = 1: the copies are the pixel),
//   and it weighs r × T / side in the last of the T output pixels on that side. So that last output
//   pixel is off by at most (scale - r)(r - 1) / scale × T / side of the contrast within the block.
// A scale is taken only where its whole blocks alone cover the output (side >= scale × T) and that
// bound is at most kMaxPartialBlockError. Without them a JPEG of 8000 x 2 fitted within 800 x 800
// was decoded at 1/8 into one row that was three quarters padding: rows of grey 70 and 185 came
// out 172 instead of 127.5 (vipsthumbnail: 128). Sides that are multiples of the scale, as nearly
// every camera's are, take the scale they took before.
constexpr double kMaxPartialBlockError = 1.0 / 8;

bool ScaleFits(int side, int target, int scale) {
  if (side < scale * target) return false;
  const int r = side % scale;
  if (r == 0) return true;
  const double error = static_cast<double>(scale - r) * (r - 1) / scale * target / side;
  return error <= kMaxPartialBlockError;
}

// The largest JPEG DCT reduction whose image still covers what the first step needs (above).
// Only JPEG has one here: PNG and WebP are decoded whole, and so are HEIC, HEIF and AVIF, since
// libheif 1.15 offers no reduced decode (heif_decode.h), GIF (an LZW stream has none), and TIFF
// and BMP (OpenCV's IMREAD_REDUCED_* decodes them whole and resizes after).
int ChooseDecodeScale(const ImageInfo& info, const std::vector<job::Step>& steps) {
  if (info.format != job::Format::kJpeg || steps.empty()) return 1;
  const auto* resize = std::get_if<job::Resize>(&steps.front());
  if (resize == nullptr) return 1;
  const cv::Size display(info.DisplayWidth(), info.DisplayHeight());
  const ResizePlan plan = PlanResize(*resize, display);
  for (int scale : {8, 4, 2}) {
    if (ScaleFits(display.width, plan.scaled.width, scale) &&
        ScaleFits(display.height, plan.scaled.height, scale)) {
      return scale;
    }
  }
  return 1;
}

// The EXIF orientation still to apply to what Decode gives: a JPEG's, decoded as stored so that
// shrink-on-load works on whole blocks. A TIFF's Orientation tag OpenCV 4.6's TIFF decoder applies
// itself, whatever the flags (all eight values, 8 and 16 bits, grey and RGB, as ImageMagick's
// -auto-orient: tests/imaging/formats_test.cc), so none is left; Sniff reads it all the same, for
// the size as shown. HEIF: libheif applies irot and imir, and orientation is 1.
int OrientationLeftAfterDecode(const ImageInfo& info) {
  return info.format == job::Format::kTiff ? 1 : info.orientation;
}

// Samples of more than 8 bits scaled to 8: v / 257 rounded for 16 bits (65535 -> 255, not
// v >> 8, which would make 65280 and 65535 both 255 and lift every level by up to one), and
// float samples (0..1) times 255.
cv::Mat ToEightBit(const cv::Mat& m) {
  if (m.depth() == CV_8U) return m;
  cv::Mat out;
  m.convertTo(out, CV_8U, m.depth() == CV_16U ? 1.0 / 257.0 : 255.0);
  return out;
}

// Decodes a JPEG as stored (its EXIF orientation not applied), at 1/`scale`; a HEIF as shown
// (libheif applies its irot and imir, and info.orientation is 1 for it); a TIFF as shown (OpenCV
// applies its Orientation tag: OrientationLeftAfterDecode). BMP is OpenCV's, GIF giflib's.
absl::StatusOr<cv::Mat> Decode(std::string_view input, const ImageInfo& info, int scale) {
  if (IsHeif(info.format)) return DecodeHeif(input, info, cv::getNumThreads());
  if (info.format == job::Format::kGif) return DecodeGif(input, info);
  // A progressive JPEG at 1/4 or 1/8 scale: without the scans that scale cannot show.
  std::optional<std::string> fewer_scans;
  if (info.Progressive()) {
    fewer_scans = DropScansBeyondScale(input, scale);
    if (fewer_scans) input = *fewer_scans;
  }
  const cv::Mat raw(1, static_cast<int>(input.size()), CV_8U,
                    const_cast<char*>(input.data()));  // read only; imdecode does not write
  int flags = cv::IMREAD_UNCHANGED;
  if (info.format == job::Format::kJpeg) {
    // Orientation is applied by Run, from the sniffed tag, the same way for every scale.
    flags = cv::IMREAD_IGNORE_ORIENTATION | (scale == 8   ? cv::IMREAD_REDUCED_COLOR_8
                                             : scale == 4 ? cv::IMREAD_REDUCED_COLOR_4
                                             : scale == 2 ? cv::IMREAD_REDUCED_COLOR_2
                                                          : cv::IMREAD_COLOR);
  }
  cv::Mat m;
  if (info.format == job::Format::kPng) {
    if (std::optional<cv::Mat> fast = DecodeSimplePng(input)) m = *std::move(fast);
  }
  if (m.empty()) m = cv::imdecode(raw, flags);
  if (m.empty())
    return errors::Make(errors::Reason::kCorruptImage, "the image data cannot be decoded");
  m = ToEightBit(m);
  if (m.channels() == 2) {
    // Gray + alpha: widen to BGRA so every later step sees 1, 3 or 4 channels.
    std::vector<cv::Mat> planes;
    cv::split(m, planes);
    cv::merge(std::vector<cv::Mat>{planes[0], planes[0], planes[0], planes[1]}, m);
  }
  return m;
}

absl::Status CheckDimensions(cv::Size size, const Limits& limits) {
  if (size.width > limits.max_output_dimension || size.height > limits.max_output_dimension) {
    return errors::Make(errors::Reason::kImageTooLarge,
                        absl::StrCat("a step would make ", size.width, "x", size.height,
                                     "; the limit is ", limits.max_output_dimension, " per side"));
  }
  return absl::OkStatus();
}

cv::Mat ResizeTo(const cv::Mat& m, cv::Size size) {
  if (m.size() == size) return m;
  const bool reducing = size.width <= m.cols && size.height <= m.rows;
  cv::Mat out;
  cv::resize(m, out, size, 0, 0, reducing ? cv::INTER_AREA : cv::INTER_CUBIC);
  return out;
}

// `decoded` is the source (`source` pixels as stored) decoded at 1/`scale`, its last row and column
// possibly partial blocks (see ScaleFits). Resizes it to `size` as a full decode would be: output
// pixel j covers source pixels [j, j + 1) × side / size, and the padding beyond the source is left
// out.
cv::Mat ResizeDctScaled(const cv::Mat& decoded, cv::Size source, int scale, cv::Size size) {
  if (source.width % scale == 0 && source.height % scale == 0) return ResizeTo(decoded, size);
  // Without an output size OpenCV keeps the factors as given, rounding the output size from them
  // (at least `size`: the decoded image covers the source), and since ScaleFits made both factors
  // reductions it averages over areas.
  cv::Mat out;
  cv::resize(decoded, out, cv::Size(), static_cast<double>(size.width) * scale / source.width,
             static_cast<double>(size.height) * scale / source.height, cv::INTER_AREA);
  if (out.cols < size.width || out.rows < size.height) return ResizeTo(decoded, size);
  if (out.size() == size) return out;
  return out(cv::Rect(cv::Point(0, 0), size)).clone();
}

// The box of `plan` cut from the middle of `scaled` (cover), or `scaled` itself.
cv::Mat CropToBox(const cv::Mat& scaled, const ResizePlan& plan) {
  if (plan.box == plan.scaled) return scaled;
  const cv::Rect box((plan.scaled.width - plan.box.width) / 2,
                     (plan.scaled.height - plan.box.height) / 2, plan.box.width, plan.box.height);
  return scaled(box).clone();
}

cv::Rect GravityBox(job::Gravity g, cv::Size image, cv::Size box) {
  const int dx = image.width - box.width;
  const int dy = image.height - box.height;
  int x = dx / 2;
  int y = dy / 2;
  switch (g) {
    case job::Gravity::kNorth:
      y = 0;
      break;
    case job::Gravity::kSouth:
      y = dy;
      break;
    case job::Gravity::kEast:
      x = dx;
      break;
    case job::Gravity::kWest:
      x = 0;
      break;
    case job::Gravity::kNorthEast:
      x = dx;
      y = 0;
      break;
    case job::Gravity::kNorthWest:
      x = 0;
      y = 0;
      break;
    case job::Gravity::kSouthEast:
      x = dx;
      y = dy;
      break;
    case job::Gravity::kSouthWest:
      x = 0;
      y = dy;
      break;
    case job::Gravity::kCenter:
      break;
  }
  return cv::Rect(x, y, box.width, box.height);
}

// The first step, a resize, of an image decoded at 1/`scale` and still as stored: resized as
// stored, where its partial blocks are (right and bottom), then turned as EXIF says, which also
// costs less on the smaller image.
absl::StatusOr<cv::Mat> ResizeShrunkOnLoad(const job::Resize& resize, const cv::Mat& stored,
                                           const ImageInfo& info, int scale, const Limits& limits) {
  const ResizePlan plan = PlanResize(resize, cv::Size(info.DisplayWidth(), info.DisplayHeight()));
  PIXQ_RETURN_IF_ERROR(CheckDimensions(plan.scaled, limits));
  const cv::Size as_stored =
      info.orientation >= 5 ? cv::Size(plan.scaled.height, plan.scaled.width) : plan.scaled;
  cv::Mat m = ResizeDctScaled(stored, cv::Size(info.width, info.height), scale, as_stored);
  ApplyOrientation(m, info.orientation);
  return CropToBox(m, plan);
}

// Applies one step to the image as displayed.
absl::StatusOr<cv::Mat> ApplyStep(const job::Step& step, cv::Mat m, const Limits& limits) {
  return std::visit(
      [&](const auto& s) -> absl::StatusOr<cv::Mat> {
        using T = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<T, job::Resize>) {
          const ResizePlan plan = PlanResize(s, m.size());
          PIXQ_RETURN_IF_ERROR(CheckDimensions(plan.scaled, limits));
          return CropToBox(ResizeTo(m, plan.scaled), plan);
        } else if constexpr (std::is_same_v<T, job::Crop>) {
          cv::Rect box;
          if (s.x) {
            if (*s.x >= m.cols || *s.y >= m.rows) {
              return errors::Make(errors::Reason::kInvalidCrop,
                                  absl::StrCat("the crop box starts at ", *s.x, ",", *s.y,
                                               ", outside the ", m.cols, "x", m.rows, " image"));
            }
            box = cv::Rect(*s.x, *s.y, std::min(s.width, m.cols - *s.x),
                           std::min(s.height, m.rows - *s.y));
          } else {
            box = GravityBox(s.gravity, m.size(),
                             cv::Size(std::min(s.width, m.cols), std::min(s.height, m.rows)));
          }
          return m(box).clone();
        } else if constexpr (std::is_same_v<T, job::Rotate>) {
          cv::Mat out;
          cv::rotate(m, out,
                     s.degrees == 90    ? cv::ROTATE_90_CLOCKWISE
                     : s.degrees == 180 ? cv::ROTATE_180
                                        : cv::ROTATE_90_COUNTERCLOCKWISE);
          return out;
        } else if constexpr (std::is_same_v<T, job::Mirror>) {
          // In place: the caller replaces its image with the result, so a full-size mirror
          // needs no second full-size buffer.
          cv::flip(m, m, 1);
          return m;
        } else if constexpr (std::is_same_v<T, job::Flip>) {
          cv::flip(m, m, 0);
          return m;
        } else if constexpr (std::is_same_v<T, job::Grayscale>) {
          if (m.channels() == 1) return m;
          cv::Mat gray;
          cv::cvtColor(m, gray, m.channels() == 4 ? cv::COLOR_BGRA2GRAY : cv::COLOR_BGR2GRAY);
          if (m.channels() != 4) return gray;
          std::vector<cv::Mat> planes;
          cv::split(m, planes);
          cv::Mat out;
          cv::merge(std::vector<cv::Mat>{gray, gray, gray, planes[3]}, out);
          return out;
        } else if constexpr (std::is_same_v<T, job::Blur>) {
          cv::Mat out;
          cv::GaussianBlur(m, out, cv::Size(0, 0), s.sigma);
          return out;
        } else {
          static_assert(std::is_same_v<T, job::Sharpen>);
          cv::Mat blurred;
          cv::GaussianBlur(m, blurred, cv::Size(0, 0), s.sigma);
          cv::Mat out;
          cv::addWeighted(m, 1.0 + s.amount, blurred, -s.amount, 0, out);
          return out;
        }
      },
      step);
}

cv::Mat OverWhite(const cv::Mat& bgra) {
  cv::Mat out(bgra.size(), CV_8UC3);
  for (int y = 0; y < bgra.rows; ++y) {
    const cv::Vec4b* in = bgra.ptr<cv::Vec4b>(y);
    cv::Vec3b* o = out.ptr<cv::Vec3b>(y);
    for (int x = 0; x < bgra.cols; ++x) {
      const int a = in[x][3];
      for (int c = 0; c < 3; ++c)
        o[x][c] = static_cast<uchar>((in[x][c] * a + 255 * (255 - a)) / 255);
    }
  }
  return out;
}

absl::StatusOr<std::string> EncodeOnce(const cv::Mat& m, job::Format format, int quality) {
  std::vector<int> params;
  const char* ext = ".jpg";
  switch (format) {
    case job::Format::kJpeg:
      params = {cv::IMWRITE_JPEG_QUALITY, quality};
      break;
    case job::Format::kWebp:
      // Without an explicit quality OpenCV writes lossless WebP (about 6x slower, larger).
      ext = ".webp";
      params = {cv::IMWRITE_WEBP_QUALITY, quality};
      break;
    case job::Format::kPng:
      // OpenCV's default compression; an explicit level was measured 8x slower.
      ext = ".png";
      break;
    case job::Format::kHeic:
    case job::Format::kHeif:
    case job::Format::kAvif:
    case job::Format::kGif:
    case job::Format::kTiff:
    case job::Format::kBmp:
      // Read only: ParseFormat never gives one as an output.
      return errors::Make(errors::Reason::kProcessingFailed,
                          absl::StrCat("cannot write ", job::FormatName(format)));
  }
  std::vector<uchar> buffer;
  if (!cv::imencode(ext, m, buffer, params)) {
    return errors::Make(errors::Reason::kProcessingFailed, absl::StrCat("cannot encode as ", ext));
  }
  return std::string(buffer.begin(), buffer.end());
}

absl::StatusOr<std::pair<std::string, int>> Encode(const cv::Mat& image,
                                                   const job::OutputSpec& output) {
  cv::Mat m = image;
  if (output.format == job::Format::kJpeg && m.channels() == 4) m = OverWhite(m);
  const int quality = output.format == job::Format::kPng ? 0 : job::EffectiveQuality(output);
  absl::StatusOr<std::string> bytes = EncodeOnce(m, output.format, quality);
  if (!bytes.ok()) return bytes.status();
  if (!output.max_bytes || static_cast<int64_t>(bytes->size()) <= *output.max_bytes) {
    return std::make_pair(*std::move(bytes), quality);
  }
  if (output.format == job::Format::kPng) {
    return errors::Make(errors::Reason::kOutputTooLarge,
                        absl::StrCat("the PNG is ", bytes->size(), " bytes; maxBytes is ",
                                     *output.max_bytes, " and PNG has no quality to lower"));
  }
  // The highest quality below the requested one that fits, by bisection.
  int lo = 1;
  int hi = quality - 1;
  std::optional<std::pair<std::string, int>> best;
  while (lo <= hi) {
    const int mid = (lo + hi) / 2;
    absl::StatusOr<std::string> attempt = EncodeOnce(m, output.format, mid);
    if (!attempt.ok()) return attempt.status();
    if (static_cast<int64_t>(attempt->size()) <= *output.max_bytes) {
      best = std::make_pair(*std::move(attempt), mid);
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  if (!best) {
    return errors::Make(
        errors::Reason::kOutputTooLarge,
        absl::StrCat("even quality 1 does not fit in ", *output.max_bytes, " bytes"));
  }
  return *std::move(best);
}

}  // namespace

void SetOpenCvThreads(int threads) { cv::setNumThreads(std::max(1, threads)); }

void KeepImageBuffers() {
  // Setting either also turns off glibc's own adjustment of the thresholds.
  mallopt(M_MMAP_THRESHOLD, kKeptAllocationBytes);
  mallopt(M_TRIM_THRESHOLD, kKeptFreeBytes);
}

absl::StatusOr<Result> Pipeline::Run(std::string_view input, const std::vector<job::Step>& steps,
                                     const job::OutputSpec& output) const {
  return Run(input, steps, output, Progress());
}

absl::StatusOr<Result> Pipeline::Run(std::string_view input, const std::vector<job::Step>& steps,
                                     const job::OutputSpec& output,
                                     const Progress& progress) const {
  absl::StatusOr<ImageInfo> info = SniffWithin(input, limits_.max_pixels);
  if (!info.ok()) return info.status();
  Result result;
  result.format = output.format;
  try {
    result.decode = {"decode", absl::Now(), {}};
    const int scale = ChooseDecodeScale(*info, steps);
    absl::StatusOr<cv::Mat> decoded = Decode(input, *info, scale);
    if (!decoded.ok()) return decoded.status();
    cv::Mat m = *std::move(decoded);
    // Shrunk on load, the image is turned after its first step (ResizeShrunkOnLoad).
    if (scale == 1) ApplyOrientation(m, OrientationLeftAfterDecode(*info));
    result.decode.end = absl::Now();
    result.decode_scale = scale;
    if (progress) progress(Stage::kDecoded);

    for (size_t i = 0; i < steps.size(); ++i) {
      Interval step{std::string(job::OpName(steps[i])), absl::Now(), {}};
      absl::StatusOr<cv::Mat> next =
          i == 0 && scale > 1
              ? ResizeShrunkOnLoad(std::get<job::Resize>(steps[0]), m, *info, scale, limits_)
              : ApplyStep(steps[i], m, limits_);
      if (!next.ok()) return next.status();
      m = *std::move(next);
      step.end = absl::Now();
      result.steps.push_back(std::move(step));
    }
    if (progress) progress(Stage::kProcessed);

    result.encode = {"encode", absl::Now(), {}};
    absl::StatusOr<std::pair<std::string, int>> encoded = Encode(m, output);
    if (!encoded.ok()) return encoded.status();
    result.bytes = std::move(encoded->first);
    result.quality = encoded->second;
    result.encode.end = absl::Now();
    result.width = m.cols;
    result.height = m.rows;
  } catch (const cv::Exception& e) {
    return errors::Make(errors::Reason::kProcessingFailed, absl::StrCat("OpenCV: ", e.what()));
  } catch (const std::bad_alloc&) {
    return errors::Make(errors::Reason::kOutOfMemory, "not enough memory to process the image");
  }
  return result;
}

}  // namespace pixq::imaging
