// libFuzzer target: the HEIC/HEIF/AVIF decode path of the codec process (pkg/imaging: Sniff's
// header check and the pixel limit, then libheif through heif_decode.h) on any bytes. A crafted
// upload reaches it in every codec process, so it must never crash, never hang, and never give an
// image larger than the header it was let through with. Corpus: the HEIC and AVIF 64 pixels wide
// of heif_header's corpus (heif-enc from tests/imaging/golden/source.png).

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "pkg/imaging/heif_decode.h"
#include "pkg/imaging/sniff.h"

namespace {
// The codec's pixel limit scaled down, so that a header declaring more is refused as it would be
// and what is let through decodes in the fuzzer's time.
constexpr int64_t kMaxPixels = 4'000'000;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<pixq::imaging::ImageInfo> info = pixq::imaging::SniffWithin(bytes, kMaxPixels);
  if (!info.ok() || !pixq::imaging::IsHeif(info->format)) return 0;
  absl::StatusOr<cv::Mat> image = pixq::imaging::DecodeHeif(bytes, *info, 0);
  if (image.ok() && (image->empty() || static_cast<int64_t>(image->cols) * image->rows >
                                           static_cast<int64_t>(info->width) * info->height)) {
    __builtin_trap();
  }
  return 0;
}
