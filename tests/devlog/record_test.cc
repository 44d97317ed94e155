#include "pkg/devlog/record.h"

#include <gtest/gtest.h>

namespace pixq::devlog {
namespace {

Record Sample(int64_t offset, std::string key, std::optional<std::string> value) {
  return Record{.offset = offset,
                .timestamp_ms = 1'700'000'000'000 + offset,
                .key = std::move(key),
                .value = std::move(value),
                .headers = {{"pixq-attempt", "2"}, {"traceparent", "00-abc-def-01"}}};
}

TEST(RecordTest, AFrameReadsBackAsTheSameRecord) {
  const Record r = Sample(42, "j_1", std::string("{\"a\":1}\0binary", 15));
  const Decoded d = DecodeFrames(EncodeFrame(r));
  ASSERT_EQ(d.records.size(), 1u);
  EXPECT_EQ(d.records[0], r);
  EXPECT_EQ(d.valid_bytes, EncodeFrame(r).size());
}

TEST(RecordTest, ATombstoneStaysDistinctFromAnEmptyValue) {
  const std::string bytes =
      EncodeFrame(Sample(0, "k", std::nullopt)) + EncodeFrame(Sample(1, "k", std::string()));
  const Decoded d = DecodeFrames(bytes);
  ASSERT_EQ(d.records.size(), 2u);
  EXPECT_FALSE(d.records[0].value.has_value());
  ASSERT_TRUE(d.records[1].value.has_value());
  EXPECT_EQ(*d.records[1].value, "");
}

TEST(RecordTest, EveryCutOfTheLastFrameLeavesTheWholeFramesBeforeIt) {
  const std::string first = EncodeFrame(Sample(0, "a", "1"));
  const std::string second = EncodeFrame(Sample(1, "b", "22"));
  for (size_t cut = 0; cut < second.size(); ++cut) {
    const Decoded d = DecodeFrames(first + second.substr(0, cut));
    ASSERT_EQ(d.records.size(), 1u) << "cut at " << cut;
    EXPECT_EQ(d.valid_bytes, first.size()) << "cut at " << cut;
  }
}

TEST(RecordTest, AFlippedBitEndsTheLogAtTheDamagedFrame) {
  const std::string first = EncodeFrame(Sample(0, "a", "1"));
  std::string second = EncodeFrame(Sample(1, "b", "value"));
  const std::string third = EncodeFrame(Sample(2, "c", "3"));
  second[second.size() - 2] ^= 0x10;  // inside the value: only the CRC can tell
  const Decoded d = DecodeFrames(first + second + third);
  ASSERT_EQ(d.records.size(), 1u);
  EXPECT_EQ(d.valid_bytes, first.size());
}

TEST(RecordTest, AnAbsurdLengthIsDamageNotARecord) {
  std::string frame = EncodeFrame(Sample(0, "a", "1"));
  frame[3] = static_cast<char>(0x7f);  // length's top byte
  EXPECT_EQ(DecodeFrames(frame).valid_bytes, 0u);
}

TEST(RecordTest, LatestPerKeyKeepsEachKeysLastRecordAndDropsDeletedKeys) {
  const std::vector<Record> log = {Sample(0, "a", "1"), Sample(1, "b", "1"),
                                   Sample(2, "a", "2"), Sample(3, "b", std::nullopt),
                                   Sample(4, "c", "1"), Sample(5, "c", std::nullopt),
                                   Sample(6, "c", "2")};
  const std::vector<Record> kept = LatestPerKey(log);
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0].offset, 2);  // a=2, in offset order
  EXPECT_EQ(kept[1].offset, 6);  // c came back after its tombstone
}

}  // namespace
}  // namespace pixq::devlog
