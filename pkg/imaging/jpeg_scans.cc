#include "pkg/imaging/jpeg_scans.h"

#include <cstdint>
#include <cstring>
#include <vector>

namespace pixq::imaging {
namespace {

struct Scan {
  size_t begin = 0;  // the SOS marker's first byte
  size_t end = 0;    // one past the last byte of its entropy-coded data
  int ss = 0;        // first coefficient of the spectral band (0: DC)
  int ah = 0;        // successive approximation: the bit position refined (0: a first pass)
  int al = 0;        // the bit position this scan brings the coefficients to (0: the last bit)
};

// The end of a scan's entropy-coded data starting at `pos`: the first marker that is not a
// restart marker (0xFF 0x00 is a stuffed 0xFF byte; 0xFF may repeat as fill before a marker).
std::optional<size_t> EndOfEntropyData(std::string_view d, size_t pos) {
  while (pos < d.size()) {
    const void* ff = std::memchr(d.data() + pos, 0xFF, d.size() - pos);
    if (ff == nullptr) return std::nullopt;
    size_t at = static_cast<size_t>(static_cast<const char*>(ff) - d.data());
    size_t next = at + 1;
    while (next < d.size() && static_cast<uint8_t>(d[next]) == 0xFF) at = next++;
    if (next >= d.size()) return std::nullopt;
    const uint8_t code = static_cast<uint8_t>(d[next]);
    if (code == 0x00 || (code >= 0xD0 && code <= 0xD7)) {
      pos = next + 1;
      continue;
    }
    return at;
  }
  return std::nullopt;
}

// The scans of a progressive, Huffman-coded JPEG, or nullopt for any other stream or one that
// does not parse to its end marker.
std::optional<std::vector<Scan>> ProgressiveScans(std::string_view d) {
  auto byte = [&](size_t i) { return static_cast<uint8_t>(d[i]); };
  if (d.size() < 4 || byte(0) != 0xFF || byte(1) != 0xD8) return std::nullopt;
  std::vector<Scan> scans;
  bool progressive = false;
  size_t pos = 2;
  while (true) {
    if (pos + 1 >= d.size() || byte(pos) != 0xFF) return std::nullopt;
    const size_t marker_at = pos;
    while (pos < d.size() && byte(pos) == 0xFF) ++pos;  // fill bytes before the marker code
    if (pos >= d.size()) return std::nullopt;
    const uint8_t code = byte(pos++);
    if (code == 0xD9) break;  // EOI
    // Markers without a length (SOI again, RSTn, TEM) do not belong between segments here.
    if (code == 0xD8 || code == 0x01 || (code >= 0xD0 && code <= 0xD7)) return std::nullopt;
    if (pos + 2 > d.size()) return std::nullopt;
    const size_t length = (static_cast<size_t>(byte(pos)) << 8) | byte(pos + 1);
    if (length < 2 || pos + length > d.size()) return std::nullopt;
    const size_t body = pos + 2;
    const bool sof = code >= 0xC0 && code <= 0xCF && code != 0xC4 && code != 0xC8 && code != 0xCC;
    if (sof) {
      if (code != 0xC2 || progressive) return std::nullopt;  // only one progressive Huffman frame
      progressive = true;
    }
    if (code != 0xDA) {
      pos += length;
      continue;
    }
    if (!progressive) return std::nullopt;
    if (length < 3) return std::nullopt;
    const size_t components = byte(body);
    if (length != 6 + 2 * components) return std::nullopt;
    const size_t params = body + 1 + 2 * components;
    Scan scan{.begin = marker_at,
              .ss = byte(params),
              .ah = byte(params + 2) >> 4,
              .al = byte(params + 2) & 0x0F};
    std::optional<size_t> end = EndOfEntropyData(d, pos + length);
    if (!end) return std::nullopt;
    scan.end = *end;
    scans.push_back(scan);
    pos = *end;
  }
  if (!progressive || scans.empty()) return std::nullopt;
  return scans;
}

}  // namespace

std::optional<std::string> DropScansBeyondScale(std::string_view jpeg, int scale) {
  if (scale < 4) return std::nullopt;
  std::optional<std::vector<Scan>> scans = ProgressiveScans(jpeg);
  if (!scans) return std::nullopt;
  // The trailing refinements of the AC coefficients' last bit. Only trailing ones: a scan that
  // stays must not follow one that went, as refinement scans read what came before them.
  std::vector<bool> drop(scans->size(), false);
  bool any = false;
  for (size_t i = scans->size(); i-- > 0;) {
    const Scan& s = (*scans)[i];
    if (s.ss == 0 || s.ah == 0 || s.al != 0) break;
    drop[i] = true;
    any = true;
  }
  if (!any) return std::nullopt;
  std::string out;
  out.reserve(jpeg.size());
  size_t from = 0;
  for (size_t i = 0; i < scans->size(); ++i) {
    if (!drop[i]) continue;
    out.append(jpeg.substr(from, (*scans)[i].begin - from));
    from = (*scans)[i].end;
  }
  out.append(jpeg.substr(from));
  return out;
}

}  // namespace pixq::imaging
