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
                      "not a JPEG, PNG, WebP, HEIC, HEIF or AVIF image");
}

// The orientation tag of an EXIF block ("Exif\0\0" + TIFF); 1 when absent or invalid.
int ExifOrientation(std::string_view exif) {
  if (exif.size() < 6 + 8 || exif.substr(0, 6) != std::string_view("Exif\0\0", 6)) return 1;
  const std::string_view tiff = exif.substr(6);
  const bool little = tiff.substr(0, 2) == "II";
  if (!little && tiff.substr(0, 2) != "MM") return 1;
  auto u16 = [&](size_t i) { return little ? Le16(tiff, i) : Be16(tiff, i); };
  auto u32 = [&](size_t i) { return little ? Le32(tiff, i) : Be32(tiff, i); };
  if (u16(2) != 42) return 1;
  const size_t ifd = u32(4);
  if (ifd + 2 > tiff.size()) return 1;
  const size_t count = u16(ifd);
  for (size_t e = 0; e < count; ++e) {
    const size_t entry = ifd + 2 + e * 12;
    if (entry + 12 > tiff.size()) return 1;
    if (u16(entry) == 0x0112 && u16(entry + 2) == 3) {  // Orientation, SHORT
      const int value = static_cast<int>(u16(entry + 8));
      return value >= 1 && value <= 8 ? value : 1;
    }
  }
  return 1;
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
