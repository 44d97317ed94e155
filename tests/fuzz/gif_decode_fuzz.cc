// libFuzzer target: the GIF decode path of the codec process (pkg/imaging: Sniff's header check,
// its walk to the end of the first frame and the pixel limit, then giflib through gif_decode.h) on
// any bytes. A crafted upload reaches it in every codec process, so it must never crash, never
// hang, and never give an image other than the logical screen it was let through with. Corpus:
// small GIFs made by ImageMagick from tests/imaging/golden/source.png (64 pixels wide, one
// interlaced, one with two frames) and a transparent one with a frame at an offset.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "pkg/imaging/gif_decode.h"
#include "pkg/imaging/sniff.h"

namespace {
// The codec's pixel limit scaled down, so that a header declaring more is refused as it would be
// and what is let through decodes in the fuzzer's time.
constexpr int64_t kMaxPixels = 4'000'000;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<pixq::imaging::ImageInfo> info = pixq::imaging::SniffWithin(bytes, kMaxPixels);
  if (!info.ok() || info->format != pixq::job::Format::kGif) return 0;
  absl::StatusOr<cv::Mat> image = pixq::imaging::DecodeGif(bytes, *info);
  if (image.ok() && (image->cols != info->width || image->rows != info->height ||
                     (image->channels() != 3 && image->channels() != 4))) {
    __builtin_trap();
  }
  return 0;
}
