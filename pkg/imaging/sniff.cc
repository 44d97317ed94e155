#include "pkg/imaging/sniff.h"

#include <cstdint>

#include "absl/strings/str_cat.h"

#include "pkg/errors/errors.h"
#include "pkg/imaging/heif_header.h"

namespace pixq::imaging {
namespace {

uint8_t U8(std::string_view b, size_t i) { return static_cast<uint8_t>(b[i]); }
uint32_t Be16(std::string_view b, size_t i) { return (U8(b, i) << 8) | U8(b, i + 1); }
uint32_t Be32(std::string_view b, size_t i) { return (Be16(b, i) << 16) | Be16(b, i + 2); }
uint32_t Le16(std::string_view b, size_t i) { return U8(b, i) | (U8(b, i + 1) << 8); }
uint32_t Le24(std::string_view b, size_t i) { return Le16(b, i) | (U8(b, i + 2) << 16); }
uint32_t Le32(std::string_view b, size_t i) { return Le16(b, i) | (Le16(b, i + 2) << 16); }

absl::Status Corrupt(std::string_view what) {
  return errors::Make(errors::Reason::kCorruptImage, std::string(what));
}

absl::Status Unsupported() {
  return errors::Make(errors::Reason::kUnsupportedMediaType,
                      "not a JPEG, PNG, WebP, HEIC, HEIF, AVIF, GIF, TIFF or BMP image");
}

// What the first IFD of a TIFF structure says (a TIFF file, or the EXIF block inside a JPEG):
// ImageWidth, ImageLength and Orientation, 0 where absent (orientation 1 when absent or invalid);
// entries past the end are not read. `valid` is false when `tiff` is no TIFF structure or its first
// IFD starts outside it.
struct TiffTags {
  bool valid = false;
  uint32_t width = 0;
  uint32_t height = 0;
  int orientation = 1;
};

TiffTags ReadFirstIfd(std::string_view tiff) {
  TiffTags tags;
  if (tiff.size() < 8) return tags;
  const bool little = tiff.substr(0, 2) == "II";
  if (!little && tiff.substr(0, 2) != "MM") return tags;
  auto u16 = [&](size_t i) { return little ? Le16(tiff, i) : Be16(tiff, i); };
  auto u32 = [&](size_t i) { return little ? Le32(tiff, i) : Be32(tiff, i); };
  if (u16(2) != 42) return tags;
  const size_t ifd = u32(4);
  if (ifd + 2 > tiff.size()) return tags;
  const size_t count = u16(ifd);
  tags.valid = true;
  for (size_t e = 0; e < count; ++e) {
    const size_t entry = ifd + 2 + e * 12;
    if (entry + 12 > tiff.size()) break;  // what came before still counts
    const uint32_t tag = u16(entry);
    const uint32_t type = u16(entry + 2);
    // A SHORT (3) or LONG (4) held in the entry itself, where these tags always are.
    const uint32_t value = type == 3 ? u16(entry + 8) : type == 4 ? u32(entry + 8) : 0;
    if (type != 3 && type != 4) continue;
    if (tag == 256) tags.width = value;   // ImageWidth
    if (tag == 257) tags.height = value;  // ImageLength
    if (tag == 274 && type == 3) tags.orientation = value >= 1 && value <= 8 ? value : 1;
  }
  return tags;
}

// The orientation tag of an EXIF block ("Exif\0\0" + TIFF); 1 when absent or invalid.
int ExifOrientation(std::string_view exif) {
  if (exif.size() < 6 + 8 || exif.substr(0, 6) != std::string_view("Exif\0\0", 6)) return 1;
  return ReadFirstIfd(exif.substr(6)).orientation;
}

absl::StatusOr<ImageInfo> SniffJpeg(std::string_view b) {
  ImageInfo info;
  info.format = job::Format::kJpeg;
  size_t i = 2;
  while (true) {
    // Markers may be preceded by fill bytes 0xFF.
    if (i >= b.size() || U8(b, i) != 0xFF) return Corrupt("JPEG: no frame header");
    while (i < b.size() && U8(b, i) == 0xFF) ++i;
    if (i >= b.size()) return Corrupt("JPEG: truncated");
    const uint8_t marker = U8(b, i++);
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;  // no length
    if (marker == 0xD9 || marker == 0xDA) return Corrupt("JPEG: no frame header before the scan");
    if (i + 2 > b.size()) return Corrupt("JPEG: truncated");
    const size_t length = Be16(b, i);
    if (length < 2 || i + length > b.size()) return Corrupt("JPEG: truncated segment");
    const std::string_view segment = b.substr(i + 2, length - 2);
    if (marker == 0xE1 && info.orientation == 1) info.orientation = ExifOrientation(segment);
    const bool sof =
        marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (sof) {
      if (segment.size() < 5) return Corrupt("JPEG: short frame header");
      info.jpeg_frame = marker;
      info.height = static_cast<int>(Be16(segment, 1));
      info.width = static_cast<int>(Be16(segment, 3));
      // The image must end: entropy-coded data never holds FF D9 (an FF there is followed by 00
      // or a restart marker), so without an end-of-image marker after the frame header the file
      // was cut short, and a decoder would fill the missing part with grey instead of failing.
      if (b.find("\xFF\xD9", i + length) == std::string_view::npos) {
        return Corrupt("JPEG: truncated (no end-of-image marker)");
      }
      return info;
    }
    i += length;
  }
}

absl::StatusOr<ImageInfo> SniffPng(std::string_view b) {
  // Signature (8), then the IHDR chunk: length (4) "IHDR" width (4) height (4).
  if (b.size() < 8 + 8 + 8) return Corrupt("PNG: truncated header");
  if (b.substr(12, 4) != "IHDR") return Corrupt("PNG: IHDR is not the first chunk");
  ImageInfo info;
  info.format = job::Format::kPng;
  const uint32_t w = Be32(b, 16);
  const uint32_t h = Be32(b, 20);
  if (w > 0x7fffffff || h > 0x7fffffff) return Corrupt("PNG: dimensions out of range");
  info.width = static_cast<int>(w);
  info.height = static_cast<int>(h);
  return info;
}

absl::StatusOr<ImageInfo> SniffWebp(std::string_view b) {
  if (b.size() < 30) return Corrupt("WebP: truncated header");
  ImageInfo info;
  info.format = job::Format::kWebp;
  const std::string_view chunk = b.substr(12, 4);
  if (chunk == "VP8 ") {
    // Frame tag (3), start code 9d 01 2a, then 14-bit width and height.
    if (U8(b, 23) != 0x9d || U8(b, 24) != 0x01 || U8(b, 25) != 0x2a) {
      return Corrupt("WebP: bad VP8 start code");
    }
    info.width = static_cast<int>(Le16(b, 26) & 0x3fff);
    info.height = static_cast<int>(Le16(b, 28) & 0x3fff);
  } else if (chunk == "VP8L") {
    if (U8(b, 20) != 0x2f) return Corrupt("WebP: bad VP8L signature");
    const uint32_t bits = Le32(b, 21);
    info.width = static_cast<int>((bits & 0x3fff) + 1);
    info.height = static_cast<int>(((bits >> 14) & 0x3fff) + 1);
  } else if (chunk == "VP8X") {
    info.width = static_cast<int>(Le24(b, 24) + 1);
    info.height = static_cast<int>(Le24(b, 27) + 1);
  } else {
    return Corrupt("WebP: unknown first chunk");
  }
  return info;
}

absl::StatusOr<ImageInfo> SniffHeif(std::string_view b) {
  absl::StatusOr<HeifHeader> header = ReadHeifHeader(b);
  if (!header.ok()) return header.status();
  ImageInfo info;
  switch (header->kind) {
    case HeifKind::kHeic:
      info.format = job::Format::kHeic;
      break;
    case HeifKind::kAvif:
      info.format = job::Format::kAvif;
      break;
    case HeifKind::kHeif:
      info.format = job::Format::kHeif;
      break;
  }
  info.width = header->width;
  info.height = header->height;
  info.heif_rotation = header->rotation;
  return info;
}

// A GIF's logical screen (the canvas its frames are drawn on), and its block structure walked up to
// the end of the first image's data: only that frame is decoded (gif_decode.h), so a file cut short
// before it ends is refused here, and one cut after it is whole enough. Sub-blocks are walked by
// their lengths, nothing is decompressed.
absl::StatusOr<ImageInfo> SniffGif(std::string_view b) {
  // Header (6), logical screen descriptor: width (2) height (2) flags (1) background (1) aspect
  // (1).
  if (b.size() < 13) return Corrupt("GIF: truncated header");
  ImageInfo info;
  info.format = job::Format::kGif;
  info.width = static_cast<int>(Le16(b, 6));
  info.height = static_cast<int>(Le16(b, 8));
  const auto color_table = [&](uint8_t flags) -> size_t {
    return (flags & 0x80) != 0 ? 3u << ((flags & 0x07) + 1) : 0;
  };
  size_t i = 13 + color_table(U8(b, 10));
  // Data sub-blocks (a length byte, then that many bytes) up to the empty one; false if cut short.
  const auto skip_sub_blocks = [&]() {
    while (i < b.size()) {
      const size_t length = U8(b, i++);
      if (length == 0) return true;
      i += length;
    }
    return false;
  };
  while (true) {
    if (i >= b.size()) return Corrupt("GIF: truncated before its first image");
    const uint8_t block = U8(b, i++);
    if (block == 0x21) {  // extension: a label, then sub-blocks
      ++i;
      if (!skip_sub_blocks()) return Corrupt("GIF: truncated extension");
    } else if (block == 0x2C) {  // image descriptor: left, top, width, height (2 each), flags (1)
      if (i + 9 > b.size()) return Corrupt("GIF: truncated image descriptor");
      const int64_t frame_pixels = static_cast<int64_t>(Le16(b, i + 4)) * Le16(b, i + 6);
      // A frame is drawn clipped to the screen, but its data is all decompressed: one larger than
      // the screen would pass the pixel limit with what it does not hold.
      if (frame_pixels > static_cast<int64_t>(info.width) * info.height) {
        return Corrupt("GIF: the first frame is larger than the logical screen");
      }
      i += 9 + color_table(U8(b, i + 8));
      ++i;  // the LZW minimum code size
      if (!skip_sub_blocks()) return Corrupt("GIF: truncated first image");
      return info;
    } else if (block == 0x3B) {
      return Corrupt("GIF: no image before the trailer");
    } else {
      return Corrupt("GIF: unknown block");
    }
  }
}

// TIFF (baseline, not BigTIFF): the first IFD's ImageWidth and ImageLength, and its Orientation
// (tag 274), for the size as shown (OpenCV's TIFF decoder applies it: pipeline.cc).
absl::StatusOr<ImageInfo> SniffTiff(std::string_view b) {
  const TiffTags tags = ReadFirstIfd(b);
  if (!tags.valid) return Corrupt("TIFF: the first IFD is outside the file");
  if (tags.width > 0x7fffffff || tags.height > 0x7fffffff) {
    return Corrupt("TIFF: dimensions out of range");
  }
  ImageInfo info;
  info.format = job::Format::kTiff;
  info.width = static_cast<int>(tags.width);
  info.height = static_cast<int>(tags.height);
  info.orientation = tags.orientation;
  return info;
}

// The sizes a BMP's DIB header has: BITMAPCOREHEADER (12), BITMAPINFOHEADER (40), its two
// extensions with the colour masks (52, 56), OS/2's (64), V4 (108) and V5 (124). Anything else
// after "BM" is not taken for a bitmap (two letters are a weak magic).
bool IsBmpHeaderSize(uint32_t size) {
  return size == 12 || size == 40 || size == 52 || size == 56 || size == 64 || size == 108 ||
         size == 124;
}

// BMP: the DIB header's width and height (a negative height is a top-down bitmap).
absl::StatusOr<ImageInfo> SniffBmp(std::string_view b) {
  ImageInfo info;
  info.format = job::Format::kBmp;
  if (Le32(b, 14) == 12) {
    info.width = static_cast<int>(Le16(b, 18));
    info.height = static_cast<int>(Le16(b, 20));
    return info;
  }
  if (b.size() < 26) return Corrupt("BMP: truncated header");
  const auto width = static_cast<int32_t>(Le32(b, 18));
  const auto height = static_cast<int32_t>(Le32(b, 22));
  if (width <= 0 || height == INT32_MIN) return Corrupt("BMP: dimensions out of range");
  info.width = width;
  info.height = height < 0 ? -height : height;
  return info;
}

}  // namespace

bool IsHeif(job::Format format) {
  return format == job::Format::kHeic || format == job::Format::kHeif ||
         format == job::Format::kAvif;
}

absl::StatusOr<ImageInfo> Sniff(std::string_view bytes) {
  absl::StatusOr<ImageInfo> info;
  if (bytes.size() >= 3 && U8(bytes, 0) == 0xFF && U8(bytes, 1) == 0xD8 && U8(bytes, 2) == 0xFF) {
    info = SniffJpeg(bytes);
  } else if (bytes.size() >= 8 && bytes.substr(0, 8) == std::string_view("\x89PNG\r\n\x1a\n", 8)) {
    info = SniffPng(bytes);
  } else if (bytes.size() >= 12 && bytes.substr(0, 4) == "RIFF" && bytes.substr(8, 4) == "WEBP") {
    info = SniffWebp(bytes);
  } else if (LooksLikeHeif(bytes)) {  // after the others: photos are mostly JPEG
    info = SniffHeif(bytes);
  } else if (bytes.size() >= 6 &&
             (bytes.substr(0, 6) == "GIF87a" || bytes.substr(0, 6) == "GIF89a")) {
    info = SniffGif(bytes);
  } else if (bytes.size() >= 4 && (bytes.substr(0, 4) == std::string_view("II*\0", 4) ||
                                   bytes.substr(0, 4) == std::string_view("MM\0*", 4))) {
    info = SniffTiff(bytes);
  } else if (bytes.size() >= 22 && bytes.substr(0, 2) == "BM" && IsBmpHeaderSize(Le32(bytes, 14))) {
    info = SniffBmp(bytes);
  } else {
    return Unsupported();
  }
  if (info.ok() && (info->width <= 0 || info->height <= 0)) {
    return Corrupt("the header declares a zero width or height");
  }
  return info;
}

absl::StatusOr<ImageInfo> SniffWithin(std::string_view bytes, int64_t max_pixels) {
  absl::StatusOr<ImageInfo> info = Sniff(bytes);
  if (!info.ok()) return info;
  const int64_t pixels = static_cast<int64_t>(info->width) * info->height;
  if (pixels > max_pixels) {
    return errors::Make(errors::Reason::kImageTooLarge,
                        absl::StrCat("the image has ", info->width, "x", info->height, " = ",
                                     pixels, " pixels; the limit is ", max_pixels));
  }
  return info;
}

}  // namespace pixq::imaging
