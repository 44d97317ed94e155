#include "pkg/imaging/heif_decode.h"

#include <algorithm>
#include <cstdint>
#include <memory>

#include "absl/strings/str_cat.h"
#include <libheif/heif.h>
#include <opencv2/imgproc.hpp>

#include "pkg/errors/errors.h"

namespace pixq::imaging {
namespace {

// The most a coded side exceeds the image's: HEVC codes whole 8x8 minimum coding blocks (a
// conformance window crops them) and AV1 rounds to 8 as well; 64 is HEVC's largest coding tree
// unit, to spare any encoder that pads to it.
constexpr int kCodingMargin = 64;

struct FreeContext {
  void operator()(heif_context* c) const { heif_context_free(c); }
};
struct FreeHandle {
  void operator()(heif_image_handle* h) const { heif_image_handle_release(h); }
};
struct FreeImage {
  void operator()(heif_image* i) const { heif_image_release(i); }
};
struct FreeOptions {
  void operator()(heif_decoding_options* o) const { heif_decoding_options_free(o); }
};

absl::Status FromHeif(const heif_error& error, std::string_view what) {
  if (error.code == heif_error_Ok) return absl::OkStatus();
  const std::string message =
      absl::StrCat("HEIF: ", errors::Sv(what), ": ",
                   error.message != nullptr ? error.message : "no reason given");
  // libheif reports an item or coded image larger than the limit set below as a memory error;
  // it is the file that is wrong (larger than its header said), and retrying will not help.
  if (error.subcode == heif_suberror_Security_limit_exceeded) {
    return errors::Make(errors::Reason::kCorruptImage, message);
  }
  switch (error.code) {
    case heif_error_Memory_allocation_error:
      return errors::Make(errors::Reason::kOutOfMemory, message);
    case heif_error_Unsupported_filetype:
    case heif_error_Unsupported_feature:
      return errors::Make(errors::Reason::kUnsupportedMediaType, message);
    default:
      return errors::Make(errors::Reason::kCorruptImage, message);
  }
}

}  // namespace

absl::StatusOr<cv::Mat> DecodeHeif(std::string_view bytes, const ImageInfo& info, int threads) {
  const std::unique_ptr<heif_context, FreeContext> context(heif_context_alloc());
  if (!context) throw std::bad_alloc();
  // No tile, alpha plane or thumbnail may declare, and no coded image may be, longer on a side than
  // the primary image's longest side (which Sniff read and the pixel limit has passed), plus what
  // coding rounds a side up to: a 6028x3391 photograph from heif-enc is coded 6032x3392, and
  // libheif checks the coded size. libheif refuses a side that reaches the limit (>=).
  heif_context_set_maximum_image_size_limit(context.get(),
                                            std::max(info.width, info.height) + kCodingMargin + 1);
  // 0 decodes a grid's tiles on this thread; 1 would start one thread to do the same.
  heif_context_set_max_decoding_threads(context.get(), threads > 1 ? threads : 0);
  // Without a copy: `bytes` outlives the context.
  PIXQ_RETURN_IF_ERROR(FromHeif(heif_context_read_from_memory_without_copy(
                                    context.get(), bytes.data(), bytes.size(), nullptr),
                                "reading the file"));
  heif_image_handle* raw_handle = nullptr;
  PIXQ_RETURN_IF_ERROR(FromHeif(heif_context_get_primary_image_handle(context.get(), &raw_handle),
                                "the primary image"));
  const std::unique_ptr<heif_image_handle, FreeHandle> handle(raw_handle);
  const bool alpha = heif_image_handle_has_alpha_channel(handle.get()) != 0;

  const std::unique_ptr<heif_decoding_options, FreeOptions> options(heif_decoding_options_alloc());
  if (!options) throw std::bad_alloc();
  options->convert_hdr_to_8bit = 1;
  // An error for a damaged coded image, rather than a picture partly grey.
  options->strict_decoding = 1;
  heif_image* raw_image = nullptr;
  const heif_error decoded = heif_decode_image(
      handle.get(), &raw_image, heif_colorspace_RGB,
      alpha ? heif_chroma_interleaved_RGBA : heif_chroma_interleaved_RGB, options.get());
  // Owned before the error is looked at: an image may come back with one.
  const std::unique_ptr<heif_image, FreeImage> image(raw_image);
  PIXQ_RETURN_IF_ERROR(FromHeif(decoded, "decoding"));

  const int width = heif_image_get_width(image.get(), heif_channel_interleaved);
  const int height = heif_image_get_height(image.get(), heif_channel_interleaved);
  int stride = 0;
  const uint8_t* plane =
      heif_image_get_plane_readonly(image.get(), heif_channel_interleaved, &stride);
  if (plane == nullptr || width <= 0 || height <= 0 ||
      heif_image_get_bits_per_pixel_range(image.get(), heif_channel_interleaved) != 8) {
    return errors::Make(errors::Reason::kCorruptImage, "HEIF: the image data cannot be decoded");
  }
  // Cropping (clap) may make it smaller than its header said; nothing may make it larger.
  if (static_cast<int64_t>(width) * height > static_cast<int64_t>(info.width) * info.height) {
    return errors::Make(errors::Reason::kCorruptImage,
                        absl::StrCat("HEIF: decoded ", width, "x", height, ", larger than the ",
                                     info.width, "x", info.height, " its header declares"));
  }
  // The one copy: libheif's RGB(A) rows into OpenCV's BGR(A) order.
  const cv::Mat rgb(height, width, alpha ? CV_8UC4 : CV_8UC3, const_cast<uint8_t*>(plane),
                    static_cast<size_t>(stride));
  cv::Mat out;
  cv::cvtColor(rgb, out, alpha ? cv::COLOR_RGBA2BGRA : cv::COLOR_RGB2BGR);
  return out;
}

}  // namespace pixq::imaging
