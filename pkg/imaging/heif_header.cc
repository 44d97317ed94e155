#include "pkg/imaging/heif_header.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

#include "pkg/errors/errors.h"

namespace pixq::imaging {
namespace {

uint32_t Be16(std::string_view b, size_t i) {
  return (static_cast<uint8_t>(b[i]) << 8) | static_cast<uint8_t>(b[i + 1]);
}
uint32_t Be32(std::string_view b, size_t i) { return (Be16(b, i) << 16) | Be16(b, i + 2); }
uint64_t Be64(std::string_view b, size_t i) {
  return (static_cast<uint64_t>(Be32(b, i)) << 32) | Be32(b, i + 4);
}

absl::Status Corrupt(std::string_view what) {
  return errors::Make(errors::Reason::kCorruptImage, absl::StrCat("HEIF: ", errors::Sv(what)));
}

// A box type as a message may show it: bytes outside printable ASCII (a corrupt file's) as '?',
// so that no answer carries invalid UTF-8.
std::string Printable(std::string_view type) {
  std::string out(type);
  for (char& c : out) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return out;
}

// One box: its four-character type and its payload (after the size and type fields).
struct Box {
  std::string_view type;
  std::string_view payload;
};

// The boxes that follow one another in `b`, or an error when one claims more bytes than there
// are. A size of 0 means "to the end", 1 a 64-bit size after the type.
absl::StatusOr<std::vector<Box>> Children(std::string_view b) {
  std::vector<Box> boxes;
  size_t i = 0;
  while (i < b.size()) {
    if (b.size() - i < 8) return Corrupt("truncated box header");
    uint64_t size = Be32(b, i);
    size_t header = 8;
    if (size == 1) {
      if (b.size() - i < 16) return Corrupt("truncated box header");
      size = Be64(b, i + 8);
      header = 16;
    } else if (size == 0) {
      size = b.size() - i;
    }
    if (size < header || size > b.size() - i) {
      return Corrupt(
          absl::StrCat("box '", Printable(b.substr(i + 4, 4)), "' is larger than the file"));
    }
    boxes.push_back({b.substr(i + 4, 4), b.substr(i + header, size - header)});
    i += size;
  }
  return boxes;
}

// The payload of the `ftyp` box a file starts with, as far as the bytes go (a file cut short is
// still recognised, and then found corrupt), or nullopt when it does not start with one.
std::optional<std::string_view> FtypPayload(std::string_view b) {
  if (b.size() < 16 || b.substr(4, 4) != "ftyp") return std::nullopt;
  const uint32_t size = Be32(b, 0);
  if (size < 16) return std::nullopt;
  return b.substr(8, std::min<size_t>(size, b.size()) - 8);
}

bool IsHeic(std::string_view brand) {
  for (std::string_view b : {"heic", "heix", "heim", "heis", "hevc", "hevx", "hevm", "hevs"}) {
    if (brand == b) return true;
  }
  return false;
}
bool IsAvif(std::string_view brand) { return brand == "avif" || brand == "avis"; }
bool IsHeif(std::string_view brand) {
  return IsHeic(brand) || IsAvif(brand) || brand == "mif1" || brand == "msf1";
}

// The kind an ftyp payload names: its major brand when that is specific, else the compatible
// brands (AVIF before HEIC, as an AVIF file may list both), else plain HEIF; nullopt when it
// names no HEIF brand at all (an MP4 video, a JPEG 2000 file, ...).
std::optional<HeifKind> KindOf(std::string_view ftyp) {
  if (ftyp.size() < 8) return std::nullopt;
  const std::string_view major = ftyp.substr(0, 4);
  if (IsAvif(major)) return HeifKind::kAvif;
  if (IsHeic(major)) return HeifKind::kHeic;
  bool heif = IsHeif(major), heic = false, avif = false;
  for (size_t i = 8; i + 4 <= ftyp.size(); i += 4) {
    const std::string_view brand = ftyp.substr(i, 4);
    heif = heif || IsHeif(brand);
    heic = heic || IsHeic(brand);
    avif = avif || IsAvif(brand);
  }
  if (avif) return HeifKind::kAvif;
  if (heic) return HeifKind::kHeic;
  if (heif) return HeifKind::kHeif;
  return std::nullopt;
}

const Box* Find(const std::vector<Box>& boxes, std::string_view type) {
  for (const Box& box : boxes) {
    if (box.type == type) return &box;
  }
  return nullptr;
}

// The primary item's properties, in the order ipma associates them (the order transforms apply).
absl::StatusOr<std::vector<uint32_t>> PrimaryAssociations(std::string_view ipma, uint32_t primary) {
  if (ipma.size() < 8) return Corrupt("truncated ipma");
  const uint8_t version = static_cast<uint8_t>(ipma[0]);
  const bool wide_index = (Be32(ipma, 0) & 1) != 0;
  const uint32_t entries = Be32(ipma, 4);
  size_t i = 8;
  for (uint32_t e = 0; e < entries; ++e) {
    const size_t id_size = version < 1 ? 2 : 4;
    if (ipma.size() - i < id_size + 1) return Corrupt("truncated ipma");
    const uint32_t item = version < 1 ? Be16(ipma, i) : Be32(ipma, i);
    i += id_size;
    const size_t count = static_cast<uint8_t>(ipma[i++]);
    const size_t entry_size = wide_index ? 2 : 1;
    if ((ipma.size() - i) / entry_size < count) return Corrupt("truncated ipma");
    std::vector<uint32_t> indices;
    for (size_t a = 0; a < count; ++a, i += entry_size) {
      indices.push_back(wide_index ? Be16(ipma, i) & 0x7fff : static_cast<uint8_t>(ipma[i]) & 0x7f);
    }
    if (item == primary) return indices;
  }
  return Corrupt("the primary item has no properties");
}

}  // namespace

bool LooksLikeHeif(std::string_view bytes) {
  const std::optional<std::string_view> ftyp = FtypPayload(bytes);
  return ftyp && KindOf(*ftyp).has_value();
}

absl::StatusOr<HeifHeader> ReadHeifHeader(std::string_view bytes) {
  const std::optional<std::string_view> ftyp = FtypPayload(bytes);
  const std::optional<HeifKind> kind = ftyp ? KindOf(*ftyp) : std::nullopt;
  if (!kind) return errors::Make(errors::Reason::kUnsupportedMediaType, "not a HEIF image");
  HeifHeader header;
  header.kind = *kind;

  absl::StatusOr<std::vector<Box>> top = Children(bytes);
  if (!top.ok()) return top.status();
  const Box* meta = Find(*top, "meta");
  if (meta == nullptr) return Corrupt("no meta box");
  // meta is a full box: version and flags before its children.
  if (meta->payload.size() < 4) return Corrupt("truncated meta");
  absl::StatusOr<std::vector<Box>> in_meta = Children(meta->payload.substr(4));
  if (!in_meta.ok()) return in_meta.status();

  const Box* pitm = Find(*in_meta, "pitm");
  if (pitm == nullptr) return Corrupt("no primary item (pitm)");
  if (pitm->payload.size() < 6) return Corrupt("truncated pitm");
  const uint32_t primary = pitm->payload[0] == 0
                               ? Be16(pitm->payload, 4)
                               : (pitm->payload.size() >= 8 ? Be32(pitm->payload, 4) : 0);
  if (primary == 0) return Corrupt("bad primary item (pitm)");

  const Box* iprp = Find(*in_meta, "iprp");
  if (iprp == nullptr) return Corrupt("no item properties (iprp)");
  absl::StatusOr<std::vector<Box>> in_iprp = Children(iprp->payload);
  if (!in_iprp.ok()) return in_iprp.status();
  const Box* ipco = Find(*in_iprp, "ipco");
  if (ipco == nullptr) return Corrupt("no item properties (ipco)");
  absl::StatusOr<std::vector<Box>> properties = Children(ipco->payload);
  if (!properties.ok()) return properties.status();

  // A file may hold several ipma boxes (one per version and flags); the primary item's
  // associations are in one of them.
  std::optional<std::vector<uint32_t>> associations;
  for (const Box& box : *in_iprp) {
    if (box.type != "ipma") continue;
    absl::StatusOr<std::vector<uint32_t>> found = PrimaryAssociations(box.payload, primary);
    if (found.ok()) {
      associations = *std::move(found);
      break;
    }
  }
  if (!associations) return Corrupt("the primary item has no properties");

  bool have_size = false;
  for (uint32_t index : *associations) {
    if (index == 0) continue;  // "no property"
    if (index > properties->size()) return Corrupt("a property index is out of range");
    const Box& p = (*properties)[index - 1];
    if (p.type == "ispe") {
      if (p.payload.size() < 12) return Corrupt("truncated ispe");
      const uint32_t w = Be32(p.payload, 4);
      const uint32_t h = Be32(p.payload, 8);
      if (w > 0x7fffffff || h > 0x7fffffff) return Corrupt("dimensions out of range");
      header.width = static_cast<int>(w);
      header.height = static_cast<int>(h);
      have_size = true;
    } else if (p.type == "irot") {
      if (p.payload.empty()) return Corrupt("truncated irot");
      header.rotation = (header.rotation + 90 * (p.payload[0] & 3)) % 360;
    } else if (p.type == "imir") {
      if (p.payload.empty()) return Corrupt("truncated imir");
      header.mirror =
          (p.payload[0] & 1) != 0 ? HeifHeader::Mirror::kHorizontal : HeifHeader::Mirror::kVertical;
    }
  }
  if (!have_size) return Corrupt("the primary item has no size (ispe)");
  if (header.width <= 0 || header.height <= 0) {
    return Corrupt("the header declares a zero width or height");
  }
  return header;
}

}  // namespace pixq::imaging
