#pragma once

// A fast path for the PNGs most uploads are: 8 bits per sample, not interlaced, gray, RGB or RGBA,
// without tRNS. Inflating is about 80% of decoding such a file, and libdeflate inflates 2-3x as
// fast as zlib (which libpng, and so OpenCV, uses): on a 20 MP photograph as PNG, 150 against
// 350-460 ms here. The rest (chunks, CRCs, the five row filters) is the PNG specification's few
// rules, done in place in the one buffer the image ends up in.
//
// Anything out of the ordinary (another layout, a CRC or zlib error, a truncated file, an unknown
// critical chunk) is not this path's business: it answers nullopt, and the caller decodes with
// OpenCV, which then gives the answer (and the error) it always gave. What it does decode equals
// OpenCV's IMREAD_UNCHANGED pixel for pixel (tests/imaging/png_test.cc, and the differential fuzz
// target tests/fuzz/png_decode_fuzz.cc).

#include <optional>
#include <string_view>

#include <opencv2/core.hpp>

namespace pixq::imaging {

// The image as OpenCV's IMREAD_UNCHANGED gives it (CV_8UC1 gray, CV_8UC3 BGR, CV_8UC4 BGRA), or
// nullopt to decode with OpenCV instead. Never throws; bounds-checked on every read.
[[nodiscard]] std::optional<cv::Mat> DecodeSimplePng(std::string_view bytes);

}  // namespace pixq::imaging
