#pragma once

// What a HEIF file (HEIC from phones, AVIF, or another HEIF) holds, read from its boxes
// (ISO/IEC 14496-12 and 23008-12) without decoding anything: which kind it is by its `ftyp`
// brands, and the primary image's coded size (`ispe`) and the transforms a viewer applies before
// showing it (`irot`, `imir`). For the same uses as Sniff: refusing what is not an image, or too
// large, before any decoder sees it.
// Sniff (sniff.h) reads every HEIF upload's header with it; libheif decodes them (heif_decode.h).

#include <string_view>

#include "absl/status/statusor.h"

namespace pixq::imaging {

// The names an upload answer gives them.
enum class HeifKind {
  kHeic,  // HEVC-coded: brands heic, heix, heim, heis, hevc, hevx, hevm, hevs
  kAvif,  // AV1-coded: brands avif, avis
  kHeif,  // any other HEIF (brands mif1, msf1 alone)
};

struct HeifHeader {
  HeifKind kind = HeifKind::kHeif;
  int width = 0;   // the primary image as coded (ispe), before irot/imir
  int height = 0;  // idem
  // irot: the primary image is shown turned by this many degrees anticlockwise (0, 90, 180, 270).
  int rotation = 0;
  // imir: the primary image is shown mirrored about this axis; kNone when it has no imir.
  enum class Mirror { kNone, kVertical /* left-right */, kHorizontal /* top-bottom */ };
  Mirror mirror = Mirror::kNone;

  // The size shown: swapped when irot turns it by a quarter.
  [[nodiscard]] int DisplayWidth() const { return rotation % 180 == 90 ? height : width; }
  [[nodiscard]] int DisplayHeight() const { return rotation % 180 == 90 ? width : height; }
};

// Whether `bytes` start with an `ftyp` box naming a HEIF brand (major or compatible) above:
// the magic-bytes test. Never throws.
[[nodiscard]] bool LooksLikeHeif(std::string_view bytes);

// Reads the header of a file that LooksLikeHeif. Bounds-checked on every read (box sizes larger
// than what remains, 64-bit sizes, nesting and counts are all checked against the bytes there);
// never throws. Errors: "UnsupportedMediaType" when it does not look like HEIF, "CorruptImage"
// for a header that is truncated or malformed, has no `meta` box, no primary item (`pitm`), no
// `ispe` for it, or declares a zero width or height.
[[nodiscard]] absl::StatusOr<HeifHeader> ReadHeifHeader(std::string_view bytes);

}  // namespace pixq::imaging
