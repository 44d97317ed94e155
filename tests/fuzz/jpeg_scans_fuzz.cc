// libFuzzer target: imaging::DropScansBeyondScale (run on every progressive JPEG a worker
// decodes at 1/4 or 1/8) on any bytes must never crash or read out of bounds, must only ever
// shorten the stream, keeping its start, and must be idempotent: once the trailing refinement
// scans are gone, the stream it returned parses and has none left to drop.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "pkg/imaging/jpeg_scans.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  for (int scale : {1, 2, 4, 8}) {
    const std::optional<std::string> fewer = pixq::imaging::DropScansBeyondScale(input, scale);
    if (!fewer) continue;
    if (scale < 4 || fewer->size() >= size || fewer->compare(0, 2, input.substr(0, 2)) != 0) {
      std::abort();
    }
    if (pixq::imaging::DropScansBeyondScale(*fewer, scale).has_value()) std::abort();
  }
  return 0;
}
