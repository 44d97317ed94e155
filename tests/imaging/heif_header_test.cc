#include "pkg/imaging/heif_header.h"

#include <cstdint>
#include <fstream>
#include <iterator>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "pkg/errors/errors.h"

namespace pixq::imaging {
namespace {

// ---- HEIF files written box by box

std::string U32(uint32_t v) {
  std::string s;
  for (int shift = 24; shift >= 0; shift -= 8) s.push_back(static_cast<char>(v >> shift));
  return s;
}
std::string U16(uint32_t v) { return U32(v).substr(2); }

std::string MakeBox(const std::string& type, const std::string& payload) {
  return U32(static_cast<uint32_t>(8 + payload.size())) + type + payload;
}
std::string FullBox(const std::string& type, int version, uint32_t flags,
                    const std::string& payload) {
  return MakeBox(type, U32((static_cast<uint32_t>(version) << 24) | flags) + payload);
}
std::string Ftyp(const std::string& major, const std::string& compatible) {
  return MakeBox("ftyp", major + U32(0) + compatible);
}

// A HEIF file whose primary item 1 has the properties `properties` (ipco children, associated in
// order) and an mdat of `data` bytes.
std::string Heif(const std::string& ftyp, const std::vector<std::string>& properties,
                 size_t data = 16) {
  std::string ipco;
  std::string associations;
  for (size_t i = 0; i < properties.size(); ++i) {
    ipco += properties[i];
    associations.push_back(static_cast<char>(i + 1));
  }
  const std::string ipma = FullBox(
      "ipma", 0, 0,
      U32(1) + U16(1) + std::string(1, static_cast<char>(properties.size())) + associations);
  const std::string meta =
      FullBox("meta", 0, 0,
              FullBox("hdlr", 0, 0, U32(0) + "pict" + std::string(13, '\0')) +
                  FullBox("pitm", 0, 0, U16(1)) + MakeBox("iprp", MakeBox("ipco", ipco) + ipma));
  return ftyp + meta + MakeBox("mdat", std::string(data, '\x5a'));
}
std::string Ispe(uint32_t w, uint32_t h) { return FullBox("ispe", 0, 0, U32(w) + U32(h)); }
std::string Irot(int quarters) {
  return MakeBox("irot", std::string(1, static_cast<char>(quarters)));
}
std::string Imir(int axis) { return MakeBox("imir", std::string(1, static_cast<char>(axis))); }

const std::string kHeicBrands = Ftyp("heic", "mif1heicmiaf");

TEST(HeifHeaderTest, ReadsThePrimaryImagesSizeAndKind) {
  absl::StatusOr<HeifHeader> h = ReadHeifHeader(Heif(kHeicBrands, {Ispe(4032, 3024)}));
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->kind, HeifKind::kHeic);
  EXPECT_EQ(h->width, 4032);
  EXPECT_EQ(h->height, 3024);
  EXPECT_EQ(h->rotation, 0);
  EXPECT_EQ(h->mirror, HeifHeader::Mirror::kNone);
  EXPECT_EQ(h->DisplayWidth(), 4032);
}

TEST(HeifHeaderTest, NamesTheKindByItsBrands) {
  const std::pair<std::string, std::optional<HeifKind>> cases[] = {
      {Ftyp("heic", "mif1heic"), HeifKind::kHeic},
      {Ftyp("heix", "mif1"), HeifKind::kHeic},
      {Ftyp("avif", "avifmif1miafMA1B"), HeifKind::kAvif},
      {Ftyp("mif1", "avifmiaf"), HeifKind::kAvif},
      {Ftyp("mif1", "heic"), HeifKind::kHeic},
      {Ftyp("mif1", "miaf"), HeifKind::kHeif},
      {Ftyp("msf1", ""), HeifKind::kHeif},
      {Ftyp("isom", "isomiso2avc1mp41"), std::nullopt},  // an MP4 video
      {Ftyp("jp2 ", "jp2 "), std::nullopt},              // JPEG 2000
  };
  for (const auto& [ftyp, kind] : cases) {
    const std::string file = Heif(ftyp, {Ispe(10, 20)});
    EXPECT_EQ(LooksLikeHeif(file), kind.has_value()) << ftyp.substr(8, 4);
    absl::StatusOr<HeifHeader> h = ReadHeifHeader(file);
    if (kind) {
      ASSERT_TRUE(h.ok()) << h.status();
      EXPECT_EQ(h->kind, *kind) << ftyp.substr(8, 4);
    } else {
      EXPECT_TRUE(errors::Is(h.status(), errors::Reason::kUnsupportedMediaType));
    }
  }
}

TEST(HeifHeaderTest, AQuarterTurnSwapsTheDisplayedSizeAndMirroringDoesNot) {
  absl::StatusOr<HeifHeader> h =
      ReadHeifHeader(Heif(kHeicBrands, {Ispe(4032, 3024), Irot(1), Imir(0)}));
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->rotation, 90);
  EXPECT_EQ(h->mirror, HeifHeader::Mirror::kVertical);
  EXPECT_EQ(h->DisplayWidth(), 3024);
  EXPECT_EQ(h->DisplayHeight(), 4032);

  h = ReadHeifHeader(Heif(kHeicBrands, {Irot(2), Ispe(40, 30), Imir(1)}));
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->rotation, 180);
  EXPECT_EQ(h->mirror, HeifHeader::Mirror::kHorizontal);
  EXPECT_EQ(h->DisplayWidth(), 40);
}

// A bomb is only a header: its size is read exactly as declared, so that SniffWithin's pixel
// limit can refuse it before anything decodes.
TEST(HeifHeaderTest, ReadsTheSizeABombDeclares) {
  absl::StatusOr<HeifHeader> h = ReadHeifHeader(Heif(kHeicBrands, {Ispe(200'000, 200'000)}));
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->width, 200'000);
  EXPECT_EQ(h->height, 200'000);
  EXPECT_TRUE(errors::Is(ReadHeifHeader(Heif(kHeicBrands, {Ispe(0x80000000u, 1)})).status(),
                         errors::Reason::kCorruptImage));
}

TEST(HeifHeaderTest, RefusesHeadersWithoutWhatItNeeds) {
  const std::string cases[] = {
      Heif(kHeicBrands, {}),                    // no ispe
      Heif(kHeicBrands, {Irot(1)}),             // no ispe
      Heif(kHeicBrands, {Ispe(0, 10)}),         // zero width
      Heif(kHeicBrands, {Ispe(10, 0)}),         // zero height
      kHeicBrands + MakeBox("mdat", "xxxx"),    // no meta
      kHeicBrands + FullBox("meta", 0, 0, ""),  // empty meta
      kHeicBrands + MakeBox("meta", ""),        // meta without its version and flags
  };
  for (const std::string& file : cases) {
    EXPECT_TRUE(errors::Is(ReadHeifHeader(file).status(), errors::Reason::kCorruptImage));
  }
}

// Every prefix of a file cut short is corrupt (a box then claims more than there is), and never
// read past its end (the sanitizer build checks the reads); except a cut exactly between two
// top-level boxes, here before the mdat: the header is whole then, and the decoder finds the
// pixels missing (this reader does not follow iloc to the item's data).
TEST(HeifHeaderTest, EveryTruncationWithinABoxIsCorrupt) {
  const std::string file = Heif(kHeicBrands, {Ispe(640, 480), Irot(3)}, 64);
  ASSERT_TRUE(ReadHeifHeader(file).ok());
  const size_t before_mdat = file.size() - (8 + 64);
  for (size_t n = 16; n < file.size(); ++n) {
    const std::string cut = file.substr(0, n);
    EXPECT_TRUE(LooksLikeHeif(cut)) << n;
    if (n == before_mdat) continue;
    EXPECT_TRUE(errors::Is(ReadHeifHeader(cut).status(), errors::Reason::kCorruptImage)) << n;
  }
}

TEST(HeifHeaderTest, RandomBytesAfterTheMagicAreCorruptNeverACrash) {
  std::mt19937 rng(18);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int i = 0; i < 2000; ++i) {
    std::string file = kHeicBrands;
    const int n = 1 + i % 300;
    for (int k = 0; k < n; ++k) file.push_back(static_cast<char>(byte(rng)));
    EXPECT_TRUE(errors::Is(ReadHeifHeader(file).status(), errors::Reason::kCorruptImage)) << i;
  }
}

TEST(HeifHeaderTest, ChecksBoxSizesAgainstTheBytesThere) {
  // A box claiming 2^63 bytes in a 64-bit size, and one claiming less than its own header.
  const std::string huge = U32(1) + "meta" + U32(0x80000000u) + U32(0) + U32(0);
  EXPECT_TRUE(
      errors::Is(ReadHeifHeader(kHeicBrands + huge).status(), errors::Reason::kCorruptImage));
  const std::string tiny = U32(4) + "meta";
  EXPECT_TRUE(
      errors::Is(ReadHeifHeader(kHeicBrands + tiny).status(), errors::Reason::kCorruptImage));
  // A size of 0 runs to the end of the file: a last mdat written that way is fine.
  std::string file = Heif(kHeicBrands, {Ispe(8, 8)}, 0);
  file.replace(file.size() - 8, 4, U32(0));
  EXPECT_TRUE(ReadHeifHeader(file + "data").ok());
  // An ipma claiming more associations than it holds.
  const std::string bad_ipma = FullBox(
      "meta", 0, 0,
      FullBox("pitm", 0, 0, U16(1)) +
          MakeBox("iprp", MakeBox("ipco", Ispe(8, 8)) +
                              FullBox("ipma", 0, 0, U32(1) + U16(1) + std::string(1, '\x7f'))));
  EXPECT_TRUE(
      errors::Is(ReadHeifHeader(kHeicBrands + bad_ipma).status(), errors::Reason::kCorruptImage));
}

TEST(HeifHeaderTest, OtherFormatsAreNotHeif) {
  for (const std::string& bytes :
       {std::string("\xFF\xD8\xFF\xE0", 4), std::string("\x89PNG\r\n\x1a\n", 8),
        std::string("RIFF\0\0\0\0WEBPVP8 ", 16), std::string(), std::string("ftyp"),
        std::string(32, '\0')}) {
    EXPECT_FALSE(LooksLikeHeif(bytes));
    EXPECT_TRUE(errors::Is(ReadHeifHeader(bytes).status(), errors::Reason::kUnsupportedMediaType));
  }
}

// ---- Real files, made at build time by libheif's heif-enc (HEVC through x265, AV1 through aom)
// from the golden photograph (tests/imaging/golden/source.png, 360x240, cut from a Debian
// wallpaper): see tests/imaging/CMakeLists.txt.

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(HeifHeaderTest, ReadsFilesMadeByHeifEnc) {
  const std::pair<const char*, HeifKind> files[] = {{"photo.heic", HeifKind::kHeic},
                                                    {"photo.avif", HeifKind::kAvif}};
  for (const auto& [name, kind] : files) {
    const std::string file = ReadFile(std::string(PIXQ_HEIF_FIXTURES_DIR) + "/" + name);
    ASSERT_FALSE(file.empty()) << name << " was not made at build time (heif-enc)";
    EXPECT_TRUE(LooksLikeHeif(file)) << name;
    absl::StatusOr<HeifHeader> h = ReadHeifHeader(file);
    ASSERT_TRUE(h.ok()) << name << ": " << h.status();
    EXPECT_EQ(h->kind, kind) << name;
    EXPECT_EQ(h->width, 360) << name;
    EXPECT_EQ(h->height, 240) << name;
    EXPECT_EQ(h->rotation, 0) << name;
    for (size_t n = 16; n < file.size(); n += 97) {
      EXPECT_TRUE(
          errors::Is(ReadHeifHeader(file.substr(0, n)).status(), errors::Reason::kCorruptImage))
          << name << " cut at " << n;
    }
  }
}

}  // namespace
}  // namespace pixq::imaging
