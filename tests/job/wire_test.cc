#include "pkg/job/wire.h"

#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "pkg/errors/errors.h"
#include "pkg/job/output_key.h"
#include "pkg/job/spec_parser.h"
#include "tests/job/samples.h"

namespace pixq::job {
namespace {

using samples::kImageId;
using samples::kSrc;
using samples::WithSteps;

JobRecord SampleRecord() {
  JobRecord record;
  record.id = "j_01HV3K9Q6Y0S4W7T1F2D5G8B9C";
  record.created_at = "2026-11-22T10:00:00.000Z";
  record.spec = *ParseJobSpec(WithSteps(R"([{"op":"resize","width":8},{"op":"mirror"}])",
                                        R"({"format":"webp","quality":70})"),
                              {});
  record.spec.labels["team"] = "web";
  record.output_key = OutputKey(kImageId, record.spec);
  record.status.phase = Phase::kSucceeded;
  record.status.attempts = 1;
  record.status.worker = "w-1";
  record.status.started_at = "2026-11-22T10:00:01.000Z";
  record.status.finished_at = "2026-11-22T10:00:02.000Z";
  record.status.timings.decode_ms = 31;
  record.status.output = OutputInfo{
      .path = "outputs/ab/x.webp", .format = Format::kWebp, .width = 8, .height = 6, .bytes = 1234};
  return record;
}

TEST(RecordJsonTest, RoundTripsTheWireForm) {
  const JobRecord record = SampleRecord();
  absl::StatusOr<JobRecord> back = RecordFromJson(ToJson(record).dump());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->id, record.id);
  EXPECT_EQ(back->created_at, record.created_at);
  EXPECT_EQ(back->output_key, record.output_key);
  EXPECT_EQ(back->spec.labels, record.spec.labels);
  EXPECT_EQ(CanonicalJson(back->spec), CanonicalJson(record.spec));
  EXPECT_EQ(back->status.phase, Phase::kSucceeded);
  EXPECT_EQ(back->status.worker, "w-1");
  EXPECT_EQ(back->status.timings.decode_ms, 31);
  ASSERT_TRUE(back->status.output.has_value());
  EXPECT_EQ(back->status.output->path, "outputs/ab/x.webp");
  EXPECT_EQ(back->status.output->bytes, 1234);
}

TEST(RecordJsonTest, KeepsTheTraceIdInBothFormsAndWritesNoneWhenUntraced) {
  JobRecord record = SampleRecord();
  EXPECT_FALSE(ToJson(record)["metadata"].contains("traceId"));
  EXPECT_FALSE(ToApiJson(record)["metadata"].contains("traceId"));
  record.trace_id = "0af7651916cd43dd8448eb211c80319c";
  absl::StatusOr<JobRecord> back = RecordFromJson(ToJson(record).dump());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->trace_id, record.trace_id);
  EXPECT_EQ(ToApiJson(record)["metadata"]["traceId"], record.trace_id);
}

TEST(RecordJsonTest, ApiFormHidesThePathAndShowsTheUrl) {
  const nlohmann::json api = ToApiJson(SampleRecord());
  EXPECT_EQ(api["apiVersion"], "pixq/v1");
  EXPECT_EQ(api["kind"], "ImageJob");
  EXPECT_EQ(api["metadata"]["labels"]["team"], "web");
  EXPECT_FALSE(api["metadata"].contains("outputKey"));
  EXPECT_FALSE(api["status"]["output"].contains("path"));
  EXPECT_EQ(api["status"]["output"]["url"], "/v1/jobs/j_01HV3K9Q6Y0S4W7T1F2D5G8B9C/output");
  EXPECT_EQ(api["status"]["phase"], "Succeeded");
  EXPECT_TRUE(api["status"]["reason"].is_null());
}

TEST(RecordJsonTest, RefusesWhatIsNotARecord) {
  EXPECT_FALSE(RecordFromJson("{}").ok());
  EXPECT_FALSE(RecordFromJson("garbage").ok());
  EXPECT_FALSE(ImageMetaFromJson("[]").ok());
}

TEST(ImageMetaJsonTest, RoundTrips) {
  ImageMeta meta{.id = kImageId,
                 .title = "Sea",
                 .filename = "sea.jpg",
                 .format = Format::kPng,
                 .width = 10,
                 .height = 20,
                 .bytes = 30,
                 .created_at = "2026-11-22T10:00:00Z"};
  absl::StatusOr<ImageMeta> back = ImageMetaFromJson(ToJson(meta).dump());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->title, "Sea");
  EXPECT_EQ(back->format, Format::kPng);
  EXPECT_EQ(back->height, 20);
  EXPECT_EQ(ToApiJson(meta)["contentUrl"], "/v1/images/" + kImageId + "/content");
}

TEST(ImageMetaJsonTest, RoundTripsTheFormatsPixqOnlyReads) {
  for (const auto& [format, name] :
       {std::pair{Format::kHeic, "heic"}, std::pair{Format::kHeif, "heif"},
        std::pair{Format::kAvif, "avif"}, std::pair{Format::kGif, "gif"},
        std::pair{Format::kTiff, "tiff"}, std::pair{Format::kBmp, "bmp"}}) {
    const ImageMeta meta{.id = kImageId, .format = format, .width = 4032, .height = 3024};
    EXPECT_EQ(ToApiJson(meta)["format"], name);
    EXPECT_EQ(ParseImageFormat(name), format);
    EXPECT_EQ(WritableFormat(format), Format::kJpeg) << name;
    absl::StatusOr<ImageMeta> back = ImageMetaFromJson(ToJson(meta).dump());
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->format, format) << name;
  }
}

TEST(ImageMetaJsonTest, AGifSaysOnlyItsFirstFrameIsUsed) {
  const ImageMeta gif{.id = kImageId, .format = Format::kGif, .width = 400, .height = 300};
  EXPECT_EQ(ToApiJson(gif)["firstFrameOnly"], true);
  // Derived from the format in the answer, not stored in the record.
  EXPECT_FALSE(ToJson(gif).contains("firstFrameOnly"));
  const ImageMeta png{.id = kImageId, .format = Format::kPng, .width = 400, .height = 300};
  EXPECT_FALSE(ToApiJson(png).contains("firstFrameOnly"));
}

TEST(FormatTest, ReadOnlyFormatsAreNamedButNeverAnOutput) {
  EXPECT_STREQ(FormatMimeType(Format::kGif), "image/gif");
  EXPECT_STREQ(FormatMimeType(Format::kTiff), "image/tiff");
  EXPECT_STREQ(FormatMimeType(Format::kBmp), "image/bmp");
  EXPECT_STREQ(FormatExtension(Format::kTiff), "tiff");
  EXPECT_EQ(ParseFormat("gif"), std::nullopt);
  EXPECT_STREQ(FormatName(Format::kHeic), "heic");
  EXPECT_STREQ(FormatExtension(Format::kAvif), "avif");
  EXPECT_STREQ(FormatMimeType(Format::kHeif), "image/heif");
  EXPECT_EQ(ParseFormat("heic"), std::nullopt);
  EXPECT_EQ(ParseImageFormat("heic"), Format::kHeic);
  EXPECT_EQ(ParseImageFormat("jpg"), Format::kJpeg);
  EXPECT_EQ(WritableFormat(Format::kAvif), Format::kJpeg);
  EXPECT_EQ(WritableFormat(Format::kWebp), Format::kWebp);
}

// Records on pixq.job-status outlive any one version of pixq, and answers must stay byte for
// byte: the two forms of a record with every field set, as json.cc wrote them before the split.
TEST(RecordJsonTest, WritesBothFormsByteForByteAsBefore) {
  JobRecord record = SampleRecord();
  record.idempotency_key = "k1";
  record.request_hash = "h1";
  record.batch_id = "b_1";
  record.batch_index = 2;
  EXPECT_EQ(
      ToJson(record).dump(),
      R"json({"apiVersion":"pixq/v1","kind":"ImageJob","metadata":{"batchId":"b_1","batchIndex":2,"createdAt":"2026-11-22T10:00:00.000Z","id":"j_01HV3K9Q6Y0S4W7T1F2D5G8B9C","idempotencyKey":"k1","labels":{"team":"web"},"outputKey":"22317ffab8f68f9ae92ad58dad279daa01ac99b494b09c4e99ad2eb541670072","requestHash":"h1"},"spec":{"callbackUrl":null,"output":{"format":"webp","quality":70},"source":{"imageId":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},"steps":[{"fit":"inside","height":null,"op":"resize","upscale":false,"width":8},{"op":"mirror"}]},"status":{"attempts":1,"cacheHit":false,"finishedAt":"2026-11-22T10:00:02.000Z","imageId":null,"message":null,"output":{"bytes":1234,"format":"webp","height":6,"path":"outputs/ab/x.webp","width":8},"phase":"Succeeded","reason":null,"startedAt":"2026-11-22T10:00:01.000Z","timings":{"decodeMs":31,"encodeMs":0,"fetchMs":0,"processMs":0,"queueMs":0,"storeMs":0},"worker":"w-1"}})json");
  EXPECT_EQ(
      ToApiJson(record).dump(),
      R"json({"apiVersion":"pixq/v1","kind":"ImageJob","metadata":{"batchId":"b_1","batchIndex":2,"createdAt":"2026-11-22T10:00:00.000Z","id":"j_01HV3K9Q6Y0S4W7T1F2D5G8B9C","labels":{"team":"web"}},"spec":{"callbackUrl":null,"output":{"format":"webp","quality":70},"source":{"imageId":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},"steps":[{"fit":"inside","height":null,"op":"resize","upscale":false,"width":8},{"op":"mirror"}]},"status":{"attempts":1,"cacheHit":false,"finishedAt":"2026-11-22T10:00:02.000Z","imageId":null,"message":null,"output":{"bytes":1234,"format":"webp","height":6,"url":"/v1/jobs/j_01HV3K9Q6Y0S4W7T1F2D5G8B9C/output","width":8},"phase":"Succeeded","reason":null,"startedAt":"2026-11-22T10:00:01.000Z","timings":{"decodeMs":31,"encodeMs":0,"fetchMs":0,"processMs":0,"queueMs":0,"storeMs":0},"worker":"w-1"}})json");
}

}  // namespace
}  // namespace pixq::job
