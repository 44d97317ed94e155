// libFuzzer target, differential: imaging::DecodeSimplePng (the worker's fast PNG path) on any
// bytes must never crash, and whatever it decodes, OpenCV's own decoder, given the same bytes,
// must either refuse or decode to the same pixels. Chunk CRCs are not checked in this build (see
// pkg/imaging/png.cc), and the harness writes every chunk's CRC afresh before decoding, so that
// libpng too gets past them and the pixels are compared for mutated inputs as well.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <libdeflate.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "pkg/imaging/png.h"
#include "pkg/imaging/sniff.h"

namespace {

// Every whole chunk's CRC, recomputed in place (what follows a truncated chunk is left alone).
void FixCrcs(std::string& png) {
  size_t pos = 8;
  while (pos + 12 <= png.size()) {
    const auto* p = reinterpret_cast<const unsigned char*>(png.data() + pos);
    const uint64_t length = (uint64_t{p[0]} << 24) | (p[1] << 16) | (p[2] << 8) | p[3];
    if (length > png.size() - pos - 12) return;
    const uint32_t crc = libdeflate_crc32(0, p + 4, length + 4);
    for (int i = 0; i < 4; ++i) {
      png[pos + 8 + length + i] = static_cast<char>((crc >> (24 - 8 * i)) & 0xff);
    }
    pos += 12 + length;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string fixed(reinterpret_cast<const char*>(data), size);
  FixCrcs(fixed);
  const std::string_view bytes(fixed);
  // The pipeline refuses large images before decoding (SniffWithin); here, to stay within the
  // fuzzer's memory limit, anything over a megapixel.
  absl::StatusOr<pixq::imaging::ImageInfo> info = pixq::imaging::Sniff(bytes);
  if (info.ok() && int64_t{info->width} * info->height > (1 << 20)) return 0;
  std::optional<cv::Mat> fast = pixq::imaging::DecodeSimplePng(bytes);
  if (!fast) return 0;
  if (fast->empty() || fast->depth() != CV_8U) __builtin_trap();
  cv::Mat reference;
  try {
    reference = cv::imdecode(cv::Mat(1, static_cast<int>(fixed.size()), CV_8U, fixed.data()),
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
