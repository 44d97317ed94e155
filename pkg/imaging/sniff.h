#pragma once

// What an image is, from its first bytes: the format by its magic bytes and the dimensions from
// its header, without decoding a pixel. Used to refuse what is not an image, or too large, before
// any memory is spent on it.

#include <string_view>

#include "absl/status/statusor.h"

#include "pkg/job/spec.h"

namespace pixq::imaging {

struct ImageInfo {
  job::Format format = job::Format::kJpeg;
  int width = 0;   // as stored
  int height = 0;  // as stored
  // EXIF orientation 1..8: a JPEG's (its EXIF block) or a TIFF's (tag 274 of its first IFD); 1
  // for other formats, and when absent or invalid. A JPEG is decoded as stored and turned after;
  // OpenCV applies a TIFF's as it decodes (pipeline.cc, OrientationLeftAfterDecode).
  int orientation = 1;
  // HEIF only: the degrees its `irot` turns the image by (0, 90, 180, 270). Its decoder applies
  // irot and imir itself, and a HEIF file's EXIF orientation is never applied: HEIF's own
  // transforms are authoritative (ISO/IEC 23008-12; EXIF there is informative only).
  int heif_rotation = 0;
  // JPEG only: the frame header's marker code (0xC0 baseline, 0xC1 extended sequential, 0xC2
  // progressive, ...); 0 for other formats.
  int jpeg_frame = 0;

  [[nodiscard]] bool Progressive() const {
    return jpeg_frame == 0xC2 || jpeg_frame == 0xC6 || jpeg_frame == 0xCA || jpeg_frame == 0xCE;
  }

  // Dimensions as displayed: swapped for the orientations (and irot) that turn the image by 90°.
  [[nodiscard]] bool QuarterTurned() const { return orientation >= 5 || heif_rotation % 180 == 90; }
  [[nodiscard]] int DisplayWidth() const { return QuarterTurned() ? height : width; }
  [[nodiscard]] int DisplayHeight() const { return QuarterTurned() ? width : height; }
};

// Reads JPEG (the SOF segment and its coding, and the EXIF orientation from APP1), PNG (IHDR),
// WebP (VP8, VP8L, VP8X), HEIF (an `ftyp` box naming a HEIF brand, then the primary item's
// `ispe`, `irot` and `imir`: heif_header.h; its format is heic, avif or heif by the brands), GIF
// ("GIF87a"/"GIF89a": the logical screen's size, and the blocks walked to the end of the first
// frame, which must be whole and no larger than the screen), TIFF ("II*\0"/"MM\0*": the first
// IFD's ImageWidth, ImageLength and Orientation; BigTIFF is not read) and BMP ("BM" and a known
// DIB header size: its width and height).
// Bounds-checked on every read; never throws. Errors: "UnsupportedMediaType" for anything else
// (SVG, text, empty), "CorruptImage" for a header that is truncated, malformed or declares a zero
// dimension.
[[nodiscard]] absl::StatusOr<ImageInfo> Sniff(std::string_view bytes);

// Whether `format` is one of the HEIF formats (heic, heif, avif), which libheif decodes.
[[nodiscard]] bool IsHeif(job::Format format);

// Sniff, and refuse an image whose header declares more than `max_pixels` (width × height) before
// anything decodes it. Errors: Sniff's, "ImageTooLarge" (422).
[[nodiscard]] absl::StatusOr<ImageInfo> SniffWithin(std::string_view bytes, int64_t max_pixels);

}  // namespace pixq::imaging
