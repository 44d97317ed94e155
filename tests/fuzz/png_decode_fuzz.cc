// libFuzzer target, differential: imaging::DecodeSimplePng (the worker's fast PNG path) on any
// bytes must never crash, and whatever it decodes, OpenCV's own decoder, given the same bytes,
// must either refuse or decode to the same pixels. (Chunk CRCs are not checked in this build, see
// pkg/imaging/png.cc, so OpenCV refuses most mutated inputs; the first property is the main one.)

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "pkg/imaging/png.h"
#include "pkg/imaging/sniff.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  // The pipeline refuses large images before decoding (SniffWithin); here, to stay within the
  // fuzzer's memory limit, anything over a megapixel.
  absl::StatusOr<pixq::imaging::ImageInfo> info = pixq::imaging::Sniff(bytes);
  if (info.ok() && int64_t{info->width} * info->height > (1 << 20)) return 0;
  std::optional<cv::Mat> fast = pixq::imaging::DecodeSimplePng(bytes);
  if (!fast) return 0;
  if (fast->empty() || fast->depth() != CV_8U) __builtin_trap();
  cv::Mat reference;
  try {
    reference = cv::imdecode(cv::Mat(1, static_cast<int>(size), CV_8U, const_cast<uint8_t*>(data)),
                             cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception&) {
    return 0;
  }
  if (reference.empty()) return 0;
  if (reference.type() != fast->type() || reference.size() != fast->size() ||
      cv::norm(reference, *fast, cv::NORM_INF) != 0) {
    __builtin_trap();
  }
  return 0;
}
