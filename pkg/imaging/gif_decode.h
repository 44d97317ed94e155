#pragma once

// GIF decoded by giflib (Debian 12: 5.2). giflib stays inside this library (linked PRIVATE); what
// leaves it is an OpenCV image, as the other decoders give.
//
// - Only the first frame is decoded: an animation's later frames are not read (the API's image
//   answers say `firstFrameOnly`). It is drawn on the logical screen, at its offset and clipped to
//   it, over a transparent screen (as browsers show a GIF, not over its background colour).
// - Transparency (the graphic control extension before the frame) becomes alpha.
// - Before giflib reads anything, Sniff has read the logical screen's size, held it to the pixel
//   limit, and refused a first frame larger than the screen, whose data would all be decompressed.
// - No shrink-on-load: an LZW stream has no reduced decode.

#include <string_view>

#include "absl/status/statusor.h"
#include <opencv2/core.hpp>

#include "pkg/imaging/sniff.h"

namespace pixq::imaging {

// The first frame of `bytes`, whose header `info` is (Sniff's, format gif), on its logical screen:
// CV_8UC3 BGR where every pixel is opaque, else CV_8UC4 BGRA (a transparent colour, or a frame that
// does not cover the screen). Never throws but std::bad_alloc. Errors: "CorruptImage" (malformed or
// truncated, no colour table, a frame larger than the screen), "OutOfMemory".
[[nodiscard]] absl::StatusOr<cv::Mat> DecodeGif(std::string_view bytes, const ImageInfo& info);

}  // namespace pixq::imaging
