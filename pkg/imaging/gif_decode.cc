#include "pkg/imaging/gif_decode.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include <gif_lib.h>
#include <opencv2/imgproc.hpp>

#include "pkg/errors/errors.h"

namespace pixq::imaging {
namespace {

// What giflib reads from: the upload's bytes, without a copy.
struct Source {
  std::string_view bytes;
  size_t at = 0;
};

int Read(GifFileType* gif, GifByteType* out, int wanted) {
  auto* source = static_cast<Source*>(gif->UserData);
  const size_t n =
      std::min(static_cast<size_t>(std::max(wanted, 0)), source->bytes.size() - source->at);
  std::memcpy(out, source->bytes.data() + source->at, n);
  source->at += n;
  return static_cast<int>(n);
}

struct CloseGif {
  void operator()(GifFileType* gif) const {
    int ignored = 0;
    DGifCloseFile(gif, &ignored);
  }
};

absl::Status FromGif(int code, std::string_view what) {
  const char* reason = GifErrorString(code);
  const std::string message =
      absl::StrCat("GIF: ", errors::Sv(what), ": ", reason != nullptr ? reason : "no reason given");
  if (code == D_GIF_ERR_NOT_ENOUGH_MEM) return errors::Make(errors::Reason::kOutOfMemory, message);
  return errors::Make(errors::Reason::kCorruptImage, message);
}

// The rows of an interlaced frame in the order they are stored: every 8th from 0, every 8th from 4,
// every 4th from 2, every 2nd from 1 (GIF89a, appendix E).
std::vector<int> StoredRowOrder(int height, bool interlaced) {
  std::vector<int> rows;
  rows.reserve(static_cast<size_t>(height));
  if (!interlaced) {
    for (int y = 0; y < height; ++y) rows.push_back(y);
    return rows;
  }
  constexpr int kStart[] = {0, 4, 2, 1};
  constexpr int kStep[] = {8, 8, 4, 2};
  for (int pass = 0; pass < 4; ++pass) {
    for (int y = kStart[pass]; y < height; y += kStep[pass]) rows.push_back(y);
  }
  return rows;
}

}  // namespace

absl::StatusOr<cv::Mat> DecodeGif(std::string_view bytes, const ImageInfo& info) {
  Source source{bytes};
  int error = 0;
  const std::unique_ptr<GifFileType, CloseGif> gif(DGifOpen(&source, Read, &error));
  if (!gif) return FromGif(error, "reading the header");
  if (gif->SWidth != info.width || gif->SHeight != info.height) {
    return errors::Make(errors::Reason::kCorruptImage, "GIF: the screen is not what Sniff read");
  }
  int transparent = -1;  // the colour index the graphic control extension makes transparent
  while (true) {
    GifRecordType record = UNDEFINED_RECORD_TYPE;
    if (DGifGetRecordType(gif.get(), &record) == GIF_ERROR) return FromGif(gif->Error, "a block");
    if (record == TERMINATE_RECORD_TYPE) {
      return errors::Make(errors::Reason::kCorruptImage, "GIF: no image before the trailer");
    }
    if (record == EXTENSION_RECORD_TYPE) {
      int code = 0;
      GifByteType* block = nullptr;
      if (DGifGetExtension(gif.get(), &code, &block) == GIF_ERROR) {
        return FromGif(gif->Error, "an extension");
      }
      if (code == GRAPHICS_EXT_FUNC_CODE && block != nullptr) {
        GraphicsControlBlock control;
        if (DGifExtensionToGCB(block[0], block + 1, &control) == GIF_OK) {
          transparent = control.TransparentColor;
        }
      }
      while (block != nullptr) {
        if (DGifGetExtensionNext(gif.get(), &block) == GIF_ERROR) {
          return FromGif(gif->Error, "an extension");
        }
      }
      continue;
    }
    if (record != IMAGE_DESC_RECORD_TYPE) continue;
    if (DGifGetImageDesc(gif.get()) == GIF_ERROR) return FromGif(gif->Error, "the first frame");
    const GifImageDesc& frame = gif->Image;
    const ColorMapObject* colors = frame.ColorMap != nullptr ? frame.ColorMap : gif->SColorMap;
    if (colors == nullptr || colors->Colors == nullptr) {
      return errors::Make(errors::Reason::kCorruptImage,
                          "GIF: the first frame has no colour table");
    }
    if (frame.Width < 0 || frame.Height < 0 ||
        static_cast<int64_t>(frame.Width) * frame.Height >
            static_cast<int64_t>(info.width) * info.height) {
      return errors::Make(errors::Reason::kCorruptImage,
                          "GIF: the first frame is larger than the logical screen");
    }
    // The screen, transparent where the frame does not draw.
    cv::Mat screen(info.height, info.width, CV_8UC4, cv::Scalar(0, 0, 0, 0));
    std::vector<GifPixelType> line(static_cast<size_t>(std::max(frame.Width, 1)));
    for (const int y : StoredRowOrder(frame.Height, frame.Interlace)) {
      if (DGifGetLine(gif.get(), line.data(), frame.Width) == GIF_ERROR) {
        return FromGif(gif->Error, "the first frame's data");
      }
      const int sy = frame.Top + y;
      if (sy >= info.height) continue;
      auto* row = screen.ptr<cv::Vec4b>(sy);
      for (int x = 0; x < frame.Width; ++x) {
        const int sx = frame.Left + x;
        if (sx >= info.width) break;
        const int index = line[static_cast<size_t>(x)];
        if (index == transparent) continue;
        // An index past the table is drawn black, as browsers do.
        if (index >= colors->ColorCount) {
          row[sx] = cv::Vec4b(0, 0, 0, 255);
          continue;
        }
        const GifColorType& c = colors->Colors[index];
        row[sx] = cv::Vec4b(c.Blue, c.Green, c.Red, 255);
      }
    }
    // Opaque all over: three channels, like every other opaque decode.
    double min_alpha = 0;
    cv::Mat alpha;
    cv::extractChannel(screen, alpha, 3);
    cv::minMaxLoc(alpha, &min_alpha);
    if (min_alpha < 255) return screen;
    cv::Mat bgr;
    cv::cvtColor(screen, bgr, cv::COLOR_BGRA2BGR);
    return bgr;
  }
}

}  // namespace pixq::imaging
