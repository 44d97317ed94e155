#pragma once

// HEIC, HEIF and AVIF decoded by libheif (Debian 12: 1.15, HEVC through libde265, AV1 through
// dav1d or aom). libheif stays inside this library (linked PRIVATE); what leaves it is an OpenCV
// image, as the other decoders give.
//
// - The primary image is decoded, with the transforms the file gives it (clap, irot, imir) applied
//   by libheif: they are authoritative, and a HEIF file's EXIF orientation is never applied on top.
// - Before libheif reads anything, Sniff has read the primary item's size (ispe) and the caller
//   has held it to the pixel limit; libheif is then told to refuse any item (tile, alpha plane,
//   thumbnail) with a side longer than the primary's.
// - More than 8 bits per sample (10-bit AVIF or HEIC) are reduced to 8 by libheif.
// - No shrink-on-load: libheif 1.15 decodes every image at full size (its only smaller images are
//   the thumbnails a file may carry, which are not the photograph).

#include <string_view>

#include "absl/status/statusor.h"
#include <opencv2/core.hpp>

#include "pkg/imaging/sniff.h"

namespace pixq::imaging {

// The primary image of `bytes`, whose header `info` is (Sniff's, format heic, heif or avif), as
// CV_8UC3 BGR or, with an alpha plane, CV_8UC4 BGRA, shown as the file says (irot and imir
// applied). libheif may use up to `threads` threads for a grid's tiles (at most 1: this one). Never
// throws but std::bad_alloc. Errors: "CorruptImage" (malformed or truncated, or it decodes larger
// than its header said), "UnsupportedMediaType" (a coding libheif cannot decode), "OutOfMemory".
[[nodiscard]] absl::StatusOr<cv::Mat> DecodeHeif(std::string_view bytes, const ImageInfo& info,
                                                 int threads);

}  // namespace pixq::imaging
