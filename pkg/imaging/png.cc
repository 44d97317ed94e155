#include "pkg/imaging/png.h"

#include <array>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <libdeflate.h>

namespace pixq::imaging {
namespace {

constexpr std::string_view kSignature("\x89PNG\r\n\x1a\n", 8);

uint32_t Be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

struct Chunk {
  std::string_view type;
  std::string_view data;
};

// The next chunk at `pos` (advanced past it), or nullopt when it does not fit or its CRC is wrong.
std::optional<Chunk> NextChunk(std::string_view bytes, size_t& pos) {
  if (bytes.size() - pos < 12) return std::nullopt;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + pos);
  const uint32_t length = Be32(p);
  if (length > 0x7fffffffU || bytes.size() - pos - 12 < length) return std::nullopt;
    // The CRC covers the type and the data. (Not in a fuzzing build, where it would stop nearly
    // every input at the first chunk.)
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  const uint32_t crc = Be32(p + 8 + length);
  if (libdeflate_crc32(0, p + 4, length + 4) != crc) return std::nullopt;
#endif
  Chunk chunk{bytes.substr(pos + 4, 4), bytes.substr(pos + 8, length)};
  for (char c : chunk.type) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) return std::nullopt;
  }
  pos += 12 + length;
  return chunk;
}

bool IsCritical(std::string_view type) { return (type[0] & 0x20) == 0; }

// The Paeth predictor, in the form without p: |p - a| = |b - c|, |p - b| = |a - c|.
inline int Paeth(int a, int b, int c) {
  const int pa = std::abs(b - c);
  const int pb = std::abs(a - c);
  const int pc = std::abs(a + b - 2 * c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

// Undoes one row's filter, kBpp bytes a pixel. Its filtered bytes (after the filter type byte)
// are at `in`; the row above, already undone, at `up` (zeros for the first row); the result goes
// to `out`, which lies before `in`: each byte is read before anything is written over it.
template <size_t kBpp>
bool Unfilter(int filter, const unsigned char* in, unsigned char* out, const unsigned char* up,
              size_t row_bytes) {
  switch (filter) {
    case 0:
      std::memmove(out, in, row_bytes);
      return true;
    case 1: {
      // Left neighbours in registers, one per channel: no chain through memory.
      std::array<unsigned, kBpp> left{};
      for (size_t i = 0; i < row_bytes; i += kBpp) {
        for (size_t k = 0; k < kBpp; ++k) {
          left[k] = (in[i + k] + left[k]) & 0xffU;
          out[i + k] = static_cast<unsigned char>(left[k]);
        }
      }
      return true;
    }
    case 2:
      for (size_t i = 0; i < row_bytes; ++i) out[i] = static_cast<unsigned char>(in[i] + up[i]);
      return true;
    case 3: {
      std::array<unsigned, kBpp> left{};
      for (size_t i = 0; i < row_bytes; i += kBpp) {
        for (size_t k = 0; k < kBpp; ++k) {
          left[k] = (in[i + k] + ((left[k] + up[i + k]) >> 1)) & 0xffU;
          out[i + k] = static_cast<unsigned char>(left[k]);
        }
      }
      return true;
    }
    case 4: {
      // For the first pixel, left and corner are 0, and Paeth predicts the byte above.
      std::array<int, kBpp> left{};
      std::array<int, kBpp> corner{};
      for (size_t i = 0; i < row_bytes; i += kBpp) {
        for (size_t k = 0; k < kBpp; ++k) {
          const int above = up[i + k];
          left[k] = (in[i + k] + Paeth(left[k], above, corner[k])) & 0xff;
          corner[k] = above;
          out[i + k] = static_cast<unsigned char>(left[k]);
        }
      }
      return true;
    }
    default:
      return false;
  }
}

// PNG's RGB(A) to OpenCV's BGR(A), in place.
template <size_t kBpp>
void SwapRedBlue(unsigned char* row, size_t row_bytes) {
  for (size_t i = 0; i < row_bytes; i += kBpp) std::swap(row[i], row[i + 2]);
}

// Undoes every row's filter, moving each up over its filter byte, and turns the pixels into
// OpenCV's channel order one row behind (the row above must keep PNG's order while it is read).
template <size_t kBpp>
bool UnfilterAll(unsigned char* base, uint64_t height, size_t row_bytes) {
  const std::vector<unsigned char> zeros(row_bytes, 0);
  for (uint64_t r = 0; r < height; ++r) {
    const unsigned char* in = base + r * (row_bytes + 1);
    unsigned char* out = base + r * row_bytes;
    const unsigned char* up = r == 0 ? zeros.data() : out - row_bytes;
    if (!Unfilter<kBpp>(in[0], in + 1, out, up, row_bytes)) return false;
    if (kBpp >= 3 && r > 0) SwapRedBlue<kBpp>(out - row_bytes, row_bytes);
  }
  if (kBpp >= 3) SwapRedBlue<kBpp>(base + (height - 1) * row_bytes, row_bytes);
  return true;
}

struct DecompressorDeleter {
  void operator()(libdeflate_decompressor* d) const { libdeflate_free_decompressor(d); }
};

}  // namespace

std::optional<cv::Mat> DecodeSimplePng(std::string_view bytes) {
  if (bytes.size() < kSignature.size() || bytes.substr(0, kSignature.size()) != kSignature) {
    return std::nullopt;
  }
  size_t pos = kSignature.size();
  std::optional<Chunk> header = NextChunk(bytes, pos);
  if (!header || header->type != "IHDR" || header->data.size() != 13) return std::nullopt;
  const auto* h = reinterpret_cast<const unsigned char*>(header->data.data());
  const uint32_t width = Be32(h);
  const uint32_t height = Be32(h + 4);
  const int depth = h[8];
  const int color = h[9];
  // Compression, filter method and interlace: 0, 0 and 0 (none) only.
  // libpng (OpenCV's) refuses more than a million pixels a side by default: so does this.
  if (width == 0 || height == 0 || width > 1'000'000 || height > 1'000'000 || depth != 8 ||
      h[10] != 0 || h[11] != 0 || h[12] != 0) {
    return std::nullopt;
  }
  const size_t channels = color == 0 ? 1 : color == 2 ? 3 : color == 6 ? 4 : 0;
  if (channels == 0) return std::nullopt;  // palette, gray + alpha: OpenCV's
  const uint64_t row_bytes = uint64_t{width} * channels;
  const uint64_t filtered = uint64_t{height} * (row_bytes + 1);
  // The buffer is one row of bytes: its length must be an int.
  if (filtered > INT_MAX) return std::nullopt;

  // The zlib stream: the IDAT chunks, which must be consecutive, up to IEND.
  std::vector<std::string_view> parts;
  enum class Run { kBefore, kIn, kAfter } run = Run::kBefore;
  bool palette = false;
  while (true) {
    std::optional<Chunk> chunk = NextChunk(bytes, pos);
    if (!chunk) return std::nullopt;
    if (chunk->type == "IDAT") {
      if (run == Run::kAfter) return std::nullopt;
      run = Run::kIn;
      parts.push_back(chunk->data);
      continue;
    }
    if (run == Run::kIn) run = Run::kAfter;
    if (chunk->type == "IEND") break;
    if (chunk->type == "tRNS") return std::nullopt;  // transparency OpenCV turns into alpha
    if (chunk->type == "PLTE") {
      // A suggested palette for a truecolour image, ignored; not allowed elsewhere.
      if (color == 0 || run != Run::kBefore || palette) return std::nullopt;
      palette = true;
      continue;
    }
    if (IsCritical(chunk->type)) return std::nullopt;
  }
  std::string joined;
  std::string_view stream;
  size_t idat = 0;
  for (std::string_view part : parts) idat += part.size();
  if (idat == 0) return std::nullopt;
  if (parts.size() == 1) {
    stream = parts.front();
  } else {
    joined.reserve(idat);
    for (std::string_view part : parts) joined.append(part);
    stream = joined;
  }

  // Inflated into the image's own buffer; each row is then undone and moved up over its filter
  // byte, so the pixels end where a dense image has them.
  cv::Mat buffer(1, static_cast<int>(filtered), CV_8U);
  {
    std::unique_ptr<libdeflate_decompressor, DecompressorDeleter> inflater(
        libdeflate_alloc_decompressor());
    if (!inflater) return std::nullopt;
    // No actual size asked for: the stream must fill the buffer exactly.
    if (libdeflate_zlib_decompress(inflater.get(), stream.data(), stream.size(), buffer.data,
                                   filtered, nullptr) != LIBDEFLATE_SUCCESS) {
      return std::nullopt;
    }
  }
  joined = std::string();
  const bool undone = channels == 1   ? UnfilterAll<1>(buffer.data, height, row_bytes)
                      : channels == 3 ? UnfilterAll<3>(buffer.data, height, row_bytes)
                                      : UnfilterAll<4>(buffer.data, height, row_bytes);
  if (!undone) return std::nullopt;
  cv::Mat image = buffer.colRange(0, static_cast<int>(height * row_bytes))
                      .reshape(static_cast<int>(channels), static_cast<int>(height));
  return image;
}

}  // namespace pixq::imaging
