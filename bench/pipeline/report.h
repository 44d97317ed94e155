#pragma once

// Turns what run.sh collected into bench/results/pipeline.json and pipeline.md: every figure in
// them is computed here from the measurements; nothing is typed by hand.

#include <string>

#include "absl/status/status.h"

namespace pixq::bench::pipeline {

// Files run.sh wrote, one JSON object a line except `meta` (one object):
// - files:   {name, path, package, note}: the images, in the order to report them.
// - pixq:    MeasureFile's rows, of either engine ("in-process", the default, is judged against the
//            target; "codec process" is reported beside it, with its overhead over in-process).
// - vips:    {name, format, options, in_process, once, many, preshrink, out_width, out_height,
//             out_bytes}: `once` and `many` are hyperfine --export-json files timing one
//             vipsthumbnail process given the file once and `in_process` + 1 times.
// - tjbench: {name, scale, fps}: tjbench's decompression frame rate at 1/scale (JPEGs only).
// - meta:    the machine, versions and settings, copied into the report.
struct ReportInputs {
  std::string files;
  std::string pixq;
  std::string vips;
  std::string tjbench;
  std::string meta;
};

// Writes `json_path` and `md_path` (each to a temporary file, then renamed). Errors: an input is
// missing or malformed, or an output cannot be written.
[[nodiscard]] absl::Status WriteReport(const ReportInputs& inputs, const std::string& json_path,
                                       const std::string& md_path);

}  // namespace pixq::bench::pipeline
