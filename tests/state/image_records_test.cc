#include "pkg/state/image_records.h"

#include <gtest/gtest.h>

#include "pkg/job/json.h"
#include "tests/fakes/fake_producer.h"

namespace pixq::state {
namespace {

const ImageFacts kFacts{.id = std::string(64, 'a'),
                        .format = job::Format::kPng,
                        .width = 40,
                        .height = 30,
                        .bytes = 99};

TEST(CutToValidUtf8Test, KeepsShortValidTextAsItIs) {
  EXPECT_EQ(CutToValidUtf8("Kleiber \xC3\xA9t\xC3\xA9", 255), "Kleiber \xC3\xA9t\xC3\xA9");
  EXPECT_EQ(CutToValidUtf8("", 255), "");
}

TEST(CutToValidUtf8Test, CutsAtTheLimitAndRepairsACharacterTheCutSplit) {
  EXPECT_EQ(CutToValidUtf8(std::string(300, 'x'), 255), std::string(255, 'x'));
  // The euro sign (three bytes) across the limit: its first byte stays, as U+FFFD.
  EXPECT_EQ(CutToValidUtf8(std::string(254, 'x') + "\xE2\x82\xAC", 255),
            std::string(254, 'x') + "\xEF\xBF\xBD");
}

TEST(CutToValidUtf8Test, ReplacesBytesThatAreNotUtf8) {
  EXPECT_EQ(CutToValidUtf8("a\xFFz", 255), "a\xEF\xBF\xBDz");
}

TEST(NewImageMetaTest, CutsTheTitleAt512BytesAndTheFileNameAt255) {
  const job::ImageMeta meta = NewImageMeta(kFacts, std::string(600, 't'), std::string(600, 'f'),
                                           absl::FromUnixMillis(1'800'000'000'123));
  EXPECT_EQ(meta.title, std::string(kMaxTitleBytes, 't'));
  EXPECT_EQ(meta.filename, std::string(kMaxFilenameBytes, 'f'));
  EXPECT_EQ(meta.id, kFacts.id);
  EXPECT_EQ(meta.format, job::Format::kPng);
  EXPECT_EQ(meta.width, 40);
  EXPECT_EQ(meta.height, 30);
  EXPECT_EQ(meta.bytes, 99);
  EXPECT_EQ(meta.created_at, "2027-01-15T08:00:00.123Z");
}

TEST(FilenameFromUrlTest, IsTheLastSegmentOfThePath) {
  EXPECT_EQ(FilenameFromUrl("https://images.example/cats/tabby.jpg"), "tabby.jpg");
  EXPECT_EQ(FilenameFromUrl("https://images.example/cats/"), "");
  EXPECT_EQ(FilenameFromUrl("https://images.example"), "");
  EXPECT_EQ(FilenameFromUrl("http://h/a"), "a");
}

TEST(ImageWriterTest, WritesTheRecordKeyedByTheImageId) {
  testing::FakeProducer producer;
  ImageWriter writer(producer, "pixq.images");
  const job::ImageMeta meta = NewImageMeta(kFacts, "t", "f.png", absl::FromUnixSeconds(0));
  ASSERT_TRUE(writer.Write(meta, absl::Seconds(1)).ok());
  const auto sent = producer.SentTo("pixq.images");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].key, kFacts.id);
  EXPECT_FALSE(sent[0].tombstone);
  absl::StatusOr<job::ImageMeta> back = job::ImageMetaFromJson(sent[0].value);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->filename, "f.png");
  EXPECT_EQ(writer.Record(meta).value, sent[0].value);
}

TEST(ImageWriterTest, ReportsAnUnacknowledgedRecord) {
  testing::FakeProducer producer;
  producer.FailTopic("pixq.images");
  ImageWriter writer(producer, "pixq.images");
  EXPECT_FALSE(
      writer.Write(NewImageMeta(kFacts, "", "", absl::UnixEpoch()), absl::Seconds(1)).ok());
}

TEST(ImageWriterTest, ForgetsAnImageWithATombstone) {
  testing::FakeProducer producer;
  ImageWriter writer(producer, "pixq.images");
  const queue::OutgoingMessage forget = writer.Tombstone(kFacts.id);
  EXPECT_EQ(forget.topic, "pixq.images");
  EXPECT_EQ(forget.key, kFacts.id);
  EXPECT_TRUE(forget.tombstone);
  EXPECT_TRUE(forget.value.empty());
}

}  // namespace
}  // namespace pixq::state
