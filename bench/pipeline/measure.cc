#include "bench/pipeline/measure.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "pkg/imaging/jpeg_scans.h"
#include "pkg/imaging/pipeline.h"
#include "pkg/imaging/sniff.h"

namespace pixq::bench::pipeline {
namespace {

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return absl::DataLossError(absl::StrCat("cannot read ", path));
  return bytes;
}

std::vector<job::Step> FitSteps(const MeasureOptions& options) {
  return {job::Resize{.width = options.box, .height = options.box, .fit = job::Fit::kInside}};
}

// What dropping scans costs a JPEG decoded at 1/`scale` (imaging::DropScansBeyondScale): the
// bytes kept, and the PSNR of the thumbnail (the decode at that scale, reduced with INTER_AREA to
// `longest` px, as the pipeline does) against the same made from every scan. Null when no scan
// is dropped.
nlohmann::json ScansDropped(const std::string& bytes, int scale, int longest) {
  std::optional<std::string> fewer = imaging::DropScansBeyondScale(bytes, scale);
  if (!fewer || longest <= 0) return nullptr;
  const int flags = cv::IMREAD_IGNORE_ORIENTATION |
                    (scale == 8 ? cv::IMREAD_REDUCED_COLOR_8 : cv::IMREAD_REDUCED_COLOR_4);
  auto thumbnail = [&](const std::string& b) {
    cv::Mat m = cv::imdecode(
        cv::Mat(1, static_cast<int>(b.size()), CV_8U, const_cast<char*>(b.data())), flags);
    if (m.empty()) return m;
    const double f = static_cast<double>(longest) / std::max(m.cols, m.rows);
    cv::Mat out;
    cv::resize(m, out, cv::Size(), f, f, cv::INTER_AREA);
    return out;
  };
  const cv::Mat all = thumbnail(bytes);
  const cv::Mat kept = thumbnail(*fewer);
  if (all.empty() || kept.empty() || all.size() != kept.size()) return nullptr;
  return {{"kept_bytes", fewer->size()},
          {"all_bytes", bytes.size()},
          {"thumbnail_psnr_db", cv::PSNR(all, kept)}};
}

}  // namespace

std::string JpegCoding(const imaging::ImageInfo& info) {
  if (info.format != job::Format::kJpeg) return "";
  if (info.jpeg_frame == 0xC0) return "baseline";
  return info.Progressive() ? "progressive" : "sequential";
}

absl::Status StartEngine(const imaging::Engine& engine, const std::string& path,
                         const MeasureOptions& options) {
  absl::StatusOr<std::string> bytes = ReadFile(path);
  if (!bytes.ok()) return bytes.status();
  absl::StatusOr<imaging::Result> result =
      engine.Run(*bytes, FitSteps(options), job::OutputSpec{.format = job::Format::kJpeg});
  if (!result.ok()) {
    return absl::Status(result.status().code(),
                        absl::StrCat(path, " (starting): ", result.status().message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<nlohmann::json>> MeasureFile(const imaging::Engine& engine,
                                                        std::string_view engine_name,
                                                        const std::string& path,
                                                        const std::vector<job::Format>& formats,
                                                        const MeasureOptions& options) {
  absl::StatusOr<std::string> bytes = ReadFile(path);
  if (!bytes.ok()) return bytes.status();
  absl::StatusOr<imaging::ImageInfo> info = imaging::Sniff(*bytes);
  if (!info.ok()) return info.status();

  const std::vector<job::Step> steps = FitSteps(options);
  std::vector<nlohmann::json> rows;
  for (job::Format format : formats) {
    const job::OutputSpec output{.format = format};
    std::vector<double> total, decode, resize, encode;
    imaging::Result last;
    for (int run = 0; run < options.warmup + options.repeats; ++run) {
      const auto start = std::chrono::steady_clock::now();
      absl::StatusOr<imaging::Result> result = engine.Run(*bytes, steps, output);
      const auto end = std::chrono::steady_clock::now();
      if (!result.ok()) {
        return absl::Status(
            result.status().code(),
            absl::StrCat(path, " as ", job::FormatName(format), ": ", result.status().message()));
      }
      if (run < options.warmup) continue;
      total.push_back(std::chrono::duration<double, std::milli>(end - start).count());
      decode.push_back(Ms(result->decode.duration()));
      resize.push_back(Ms(result->steps.at(0).duration()));
      encode.push_back(Ms(result->encode.duration()));
      last = *std::move(result);
    }
    const int w = info->DisplayWidth();
    const int h = info->DisplayHeight();
    const bool fits = last.width <= options.box && last.height <= options.box &&
                      (last.width == options.box || last.height == options.box);
    rows.push_back({
        {"engine", engine_name},
        {"name", std::filesystem::path(path).filename().string()},
        {"path", path},
        {"in_bytes", bytes->size()},
        {"input_format", job::FormatName(info->format)},
        {"width", w},
        {"height", h},
        {"megapixels", static_cast<double>(w) * h / 1e6},
        {"coding", JpegCoding(*info)},
        {"format", job::FormatName(format)},
        {"quality", last.quality},
        {"decode_scale", last.decode_scale},
        {"scans_dropped",
         info->format == job::Format::kJpeg
             ? ScansDropped(*bytes, last.decode_scale, std::max(last.width, last.height))
             : nullptr},
        {"out_width", last.width},
        {"out_height", last.height},
        {"out_bytes", last.bytes.size()},
        {"fits_box", fits},
        {"warmup", options.warmup},
        {"repeats", options.repeats},
        {"median_ms", Median(total)},
        {"min_ms", total.empty() ? 0 : *std::min_element(total.begin(), total.end())},
        {"mean_ms", total.empty() ? 0
                                  : std::accumulate(total.begin(), total.end(), 0.0) /
                                        static_cast<double>(total.size())},
        {"decode_median_ms", Median(decode)},
        {"resize_median_ms", Median(resize)},
        {"encode_median_ms", Median(encode)},
    });
  }
  return rows;
}

}  // namespace pixq::bench::pipeline
