#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "pkg/encoding/hex.h"
#include "pkg/encoding/percent.h"

namespace pixq::encoding {
namespace {

TEST(HexTest, WritesTwoLowercaseDigitsPerByte) {
  const std::array<uint8_t, 4> bytes = {0x00, 0x0f, 0xa0, 0xff};
  EXPECT_EQ(LowerHex(bytes), "000fa0ff");
  EXPECT_EQ(LowerHex({}), "");
}

TEST(HexTest, ReadsBackWhatItWrites) {
  std::array<uint8_t, 8> out{};
  ASSERT_TRUE(ParseLowerHex("00f067aa0ba902b7", out));
  EXPECT_EQ(LowerHex(out), "00f067aa0ba902b7");
}

TEST(HexTest, RefusesUppercaseOtherCharactersAndOtherLengths) {
  std::array<uint8_t, 2> out{};
  EXPECT_FALSE(ParseLowerHex("00F0", out));
  EXPECT_FALSE(ParseLowerHex("00g0", out));
  EXPECT_FALSE(ParseLowerHex("00f", out));
  EXPECT_FALSE(ParseLowerHex("00f000", out));
  EXPECT_FALSE(ParseLowerHex("+0f0", out));
}

TEST(HexTest, IsLowerHexChecksLengthAndDigits) {
  EXPECT_TRUE(IsLowerHex(std::string(64, 'a'), 64));
  EXPECT_FALSE(IsLowerHex(std::string(63, 'a'), 64));
  EXPECT_FALSE(IsLowerHex(std::string(64, 'A'), 64));
  EXPECT_TRUE(IsLowerHex("", 0));
}

TEST(PercentTest, DecodesEscapesInEitherCaseAndKeepsAMalformedOneAsItIs) {
  for (const auto& [text, decoded] :
       std::vector<std::pair<std::string, std::string>>{{"Bearer%20x", "Bearer x"},
                                                        {"a%2Cb%2cc", "a,b,c"},
                                                        {"%C3%A9", "\xC3\xA9"},
                                                        {"end%41", "endA"},
                                                        {"100%", "100%"},
                                                        {"%4", "%4"},
                                                        {"%zz", "%zz"},
                                                        {"% 1", "% 1"}}) {
    EXPECT_EQ(PercentDecode(text), decoded) << text;
    EXPECT_EQ(PercentDecodeQuery(text), decoded) << text;
  }
}

TEST(PercentTest, OnlyTheQueryFlavourReadsPlusAsASpace) {
  EXPECT_EQ(PercentDecode("a+b%2B"), "a+b+");
  EXPECT_EQ(PercentDecodeQuery("a+b%2B"), "a b+");
  EXPECT_EQ(PercentDecodeQuery("caf%C3%A9+au+lait"), "caf\xC3\xA9 au lait");
  // A '+' after a malformed escape is read by the flavour's rule too.
  EXPECT_EQ(PercentDecode("%+1"), "%+1");
  EXPECT_EQ(PercentDecodeQuery("%+1"), "% 1");
}

}  // namespace
}  // namespace pixq::encoding
