// libFuzzer target: the image header reader (format by magic bytes, dimensions and EXIF
// orientation from the JPEG, PNG and WebP headers) on any bytes. Runs before any decode, on
// every upload, so it must never crash and never claim dimensions it did not read.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "pkg/imaging/sniff.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<pixq::imaging::ImageInfo> info = pixq::imaging::Sniff(bytes);
  if (info.ok() &&
      (info->width <= 0 || info->height <= 0 || info->orientation < 1 || info->orientation > 8)) {
    __builtin_trap();
  }
  return 0;
}
