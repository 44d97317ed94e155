// libFuzzer target: the HEIF box reader (pkg/imaging/heif_header.h: ftyp brands, and the primary
// item's ispe, irot and imir through meta/pitm/iprp/ipco/ipma) on any bytes. It will run before
// any decode on every HEIC or AVIF upload, so it must never crash, never read past the bytes, and
// never claim a size it did not read. Corpus: a HEIC and an AVIF 64 pixels wide made by heif-enc
// from the golden photograph (tests/imaging/golden/source.png).

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "pkg/imaging/heif_header.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const bool looks = pixq::imaging::LooksLikeHeif(bytes);
  absl::StatusOr<pixq::imaging::HeifHeader> header = pixq::imaging::ReadHeifHeader(bytes);
  if (header.ok() &&
      (!looks || header->width <= 0 || header->height <= 0 || header->rotation % 90 != 0 ||
       header->rotation < 0 || header->rotation >= 360)) {
    __builtin_trap();
  }
  return 0;
}
