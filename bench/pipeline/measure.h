#pragma once

// Times pixq's real pipeline on one image file, the way a worker runs a job: the source's bytes in
// memory, one resize fitting inside a box, one encode. Through either engine: imaging::Pipeline in
// this process (single-threaded when the caller has set imaging::SetOpenCvThreads(1)), or
// isolate::CodecPool, the worker's own path, where the source and the result cross a Unix socket
// to and from a `pixq-worker codec` child.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include <nlohmann/json.hpp>

#include "pkg/imaging/pipeline.h"
#include "pkg/imaging/sniff.h"
#include "pkg/job/spec.h"

namespace pixq::bench::pipeline {

struct MeasureOptions {
  int box = 800;     // fit inside box × box
  int warmup = 2;    // untimed runs before the timed ones, per file and format
  int repeats = 15;  // timed runs, per file and format
};

// How a JPEG is coded, from the frame header Sniff read: "baseline" (SOF0), "progressive" (SOF2,
// 6, 10, 14), "sequential" (any other SOF); "" for other formats.
[[nodiscard]] std::string JpegCoding(const imaging::ImageInfo& info);

// The engines, as a row's "engine" names them.
inline constexpr const char* kInProcess = "in-process";
inline constexpr const char* kCodecProcess = "codec process";

// Reads `path` and times engine.Run for each of `formats` (default quality: JPEG 85, WebP 80). One
// JSON object per format: the engine (`engine_name`), the input (name, bytes, width, height,
// megapixels, coding), the decode scale pixq chose, the output (width, height, bytes, whether it
// fits the box exactly), and milliseconds (median, min, mean of the whole Run, measured here;
// median of its decode, resize and encode intervals, as the engine reports them).
// Errors: the file cannot be read, or the engine fails on it.
[[nodiscard]] absl::StatusOr<std::vector<nlohmann::json>> MeasureFile(
    const imaging::Engine& engine, std::string_view engine_name, const std::string& path,
    const std::vector<job::Format>& formats, const MeasureOptions& options);

// Runs engine.Run once on `path` (fitted within the box, as JPEG), untimed. Given a CodecPool, this
// starts its child before any timing: the worker starts each child once, not once per job, so its
// start-up belongs in no per-image figure (not even with no warm-up runs).
// Errors: as MeasureFile's.
[[nodiscard]] absl::Status StartEngine(const imaging::Engine& engine, const std::string& path,
                                       const MeasureOptions& options);

}  // namespace pixq::bench::pipeline
