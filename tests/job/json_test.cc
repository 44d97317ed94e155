#include "pkg/job/json.h"

#include <string>

#include <gtest/gtest.h>

#include "pkg/errors/errors.h"

namespace pixq::job {
namespace {

const std::string kImageId(64, 'a');

std::string WithSteps(const std::string& steps, const std::string& output = R"({"format":"png"})") {
  return R"({"source":{"imageId":")" + kImageId + R"("},"steps":)" + steps + R"(,"output":)" +
         output + "}";
}

// Parses and expects failure; returns "<reason>: <message>".
std::string ErrorOf(const std::string& text, ValidationLimits limits = {}) {
  absl::StatusOr<JobSpec> spec = ParseJobSpec(text, limits);
  if (spec.ok()) return "ok";
  return errors::ReasonOf(spec.status()) + ": " + std::string(spec.status().message());
}

TEST(ParseJobSpecTest, ReadsTheBareSpecWithEveryStep) {
  absl::StatusOr<JobSpec> spec =
      ParseJobSpec(WithSteps(R"([
        {"op":"resize","width":800,"height":600,"fit":"cover","upscale":true},
        {"op":"crop","x":1,"y":2,"width":30,"height":40},
        {"op":"crop","width":30,"height":40,"gravity":"southeast"},
        {"op":"rotate","degrees":-90},
        {"op":"mirror"},{"op":"flip"},{"op":"grayscale"},
        {"op":"blur","sigma":2.5},
        {"op":"sharpen","sigma":1.5,"amount":0.5}])",
                             R"({"format":"webp","quality":70,"maxBytes":50000})"),
                   {});
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->source.image_id, kImageId);
  ASSERT_EQ(spec->steps.size(), 9u);
  const auto& resize = std::get<Resize>(spec->steps[0]);
  EXPECT_EQ(resize.width, 800);
  EXPECT_EQ(resize.height, 600);
  EXPECT_EQ(resize.fit, Fit::kCover);
  EXPECT_TRUE(resize.upscale);
  const auto& box = std::get<Crop>(spec->steps[1]);
  EXPECT_EQ(box.x, 1);
  EXPECT_EQ(box.y, 2);
  EXPECT_EQ(box.width, 30);
  EXPECT_EQ(std::get<Crop>(spec->steps[2]).gravity, Gravity::kSouthEast);
  EXPECT_FALSE(std::get<Crop>(spec->steps[2]).x.has_value());
  EXPECT_EQ(std::get<Rotate>(spec->steps[3]).degrees, 270);
  EXPECT_TRUE(std::holds_alternative<Mirror>(spec->steps[4]));
  EXPECT_TRUE(std::holds_alternative<Flip>(spec->steps[5]));
  EXPECT_TRUE(std::holds_alternative<Grayscale>(spec->steps[6]));
  EXPECT_DOUBLE_EQ(std::get<Blur>(spec->steps[7]).sigma, 2.5);
  EXPECT_DOUBLE_EQ(std::get<Sharpen>(spec->steps[8]).amount, 0.5);
  EXPECT_EQ(spec->output.format, Format::kWebp);
  EXPECT_EQ(spec->output.quality, 70);
  EXPECT_EQ(spec->output.max_bytes, 50000);
}

TEST(ParseJobSpecTest, ReadsTheResourceFormWithLabels) {
  absl::StatusOr<JobSpec> spec = ParseJobSpec(R"({
    "apiVersion":"pixq/v1","kind":"ImageJob",
    "metadata":{"labels":{"team":"web"}},
    "spec":{"source":{"imageId":")" + kImageId + R"("},
            "steps":[{"op":"grayscale"}],
            "output":{"format":"jpeg"},
            "callbackUrl":"https://hooks.example.com/pixq"}})",
                                              {});
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->labels.at("team"), "web");
  EXPECT_EQ(spec->callback_url, "https://hooks.example.com/pixq");
  EXPECT_EQ(spec->output.format, Format::kJpeg);
}

TEST(ParseJobSpecTest, DefaultsToJpegWithNoSteps) {
  absl::StatusOr<JobSpec> spec =
      ParseJobSpec(R"({"source":{"url":"https://example.com/a.jpg"}})", {});
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->source.url, "https://example.com/a.jpg");
  EXPECT_TRUE(spec->steps.empty());
  EXPECT_EQ(spec->output.format, Format::kJpeg);
  EXPECT_EQ(EffectiveQuality(spec->output), 85);
}

TEST(ParseJobSpecTest, AcceptsJpgAsJpegAndDropsQualityForPng) {
  absl::StatusOr<JobSpec> jpg = ParseJobSpec(WithSteps("[]", R"({"format":"jpg"})"), {});
  ASSERT_TRUE(jpg.ok());
  EXPECT_EQ(jpg->output.format, Format::kJpeg);
  absl::StatusOr<JobSpec> png =
      ParseJobSpec(WithSteps("[]", R"({"format":"png","quality":50})"), {});
  ASSERT_TRUE(png.ok());
  EXPECT_FALSE(png->output.quality.has_value());
}

TEST(ParseJobSpecTest, RefusesTextThatIsNotJson) {
  EXPECT_EQ(ErrorOf("{not json"), "MalformedJson: the request body is not valid JSON");
  EXPECT_EQ(ErrorOf(""), "MalformedJson: the request body is not valid JSON");
}

struct BadSpec {
  std::string name;
  std::string text;
  std::string expected;  // "<reason>: <message>"
};

// Named in test output by its name, not by its bytes.
void PrintTo(const BadSpec& spec, std::ostream* os) { *os << spec.name; }

class BadSpecTest : public testing::TestWithParam<BadSpec> {};

TEST_P(BadSpecTest, IsRefusedWithAMessageNamingTheField) {
  EXPECT_EQ(ErrorOf(GetParam().text), GetParam().expected);
}

const std::string kSrc = R"("source":{"imageId":")" + std::string(64, 'a') + R"("})";

INSTANTIATE_TEST_SUITE_P(
    EveryField, BadSpecTest,
    testing::Values(
        BadSpec{"NotAnObject", "[1,2]", "InvalidSpec: job: must be a JSON object"},
        BadSpec{"NoSource", R"({"steps":[]})", "InvalidSpec: source: is required"},
        BadSpec{"SourceNotObject", R"({"source":"x"})",
                "InvalidSpec: source: must be an object with imageId or url"},
        BadSpec{"SourceEmpty", R"({"source":{}})",
                "InvalidSpec: source: needs exactly one of imageId and url"},
        BadSpec{"SourceBoth",
                R"({"source":{"imageId":")" + std::string(64, 'a') + R"(","url":"https://x/y"}})",
                "InvalidSpec: source: needs exactly one of imageId and url"},
        BadSpec{"ImageIdNotHex", R"({"source":{"imageId":"../../etc/passwd"}})",
                "InvalidSpec: source.imageId: must be an image id (64 lowercase hex characters)"},
        BadSpec{"UrlNotHttp", R"({"source":{"url":"file:///etc/passwd"}})",
                "InvalidSpec: source.url: must be an http:// or https:// URL"},
        BadSpec{"UnknownSourceField",
                R"({"source":{"imageId":")" + std::string(64, 'a') + R"(","path":"/x"}})",
                "InvalidSpec: source.path: unknown field"},
        BadSpec{"StepsNotArray", "{" + kSrc + R"(,"steps":{}})",
                "InvalidSpec: steps: must be an array"},
        BadSpec{"StepNotObject", "{" + kSrc + R"(,"steps":["resize"]})",
                "InvalidSpec: steps[0]: must be an object with an \"op\""},
        BadSpec{"StepWithoutOp", "{" + kSrc + R"(,"steps":[{"width":3}]})",
                "InvalidSpec: steps[0].op: is required"},
        BadSpec{"UnknownOp", "{" + kSrc + R"(,"steps":[{"op":"explode"}]})",
                "InvalidSpec: steps[0].op: must be one of resize, crop, rotate, mirror, flip, "
                "grayscale, blur, sharpen"},
        BadSpec{"NegativeWidth", "{" + kSrc + R"(,"steps":[{"op":"resize","width":-5}]})",
                "InvalidSpec: steps[0].width: must be an integer 1..16384"},
        BadSpec{"ZeroHeight", "{" + kSrc + R"(,"steps":[{"op":"resize","height":0}]})",
                "InvalidSpec: steps[0].height: must be an integer 1..16384"},
        BadSpec{"FractionalWidth", "{" + kSrc + R"(,"steps":[{"op":"resize","width":1.5}]})",
                "InvalidSpec: steps[0].width: must be an integer 1..16384"},
        BadSpec{"WidthAsString", "{" + kSrc + R"(,"steps":[{"op":"resize","width":"800"}]})",
                "InvalidSpec: steps[0].width: must be an integer 1..16384"},
        BadSpec{"HugeWidth", "{" + kSrc + R"(,"steps":[{"op":"resize","width":100000}]})",
                "InvalidSpec: steps[0].width: must be an integer 1..16384"},
        BadSpec{"ResizeWithoutSize", "{" + kSrc + R"(,"steps":[{"op":"resize"}]})",
                "InvalidSpec: steps[0]: resize needs width, height or both"},
        BadSpec{"CoverWithOneSide",
                "{" + kSrc + R"(,"steps":[{"op":"resize","width":5,"fit":"cover"}]})",
                "InvalidSpec: steps[0]: fit cover and fill need both width and height"},
        BadSpec{"UnknownFit",
                "{" + kSrc + R"(,"steps":[{"op":"resize","width":5,"fit":"stretch"}]})",
                "InvalidSpec: steps[0].fit: must be one of inside, cover, fill"},
        BadSpec{"UpscaleNotBool",
                "{" + kSrc + R"(,"steps":[{"op":"resize","width":5,"upscale":"yes"}]})",
                "InvalidSpec: steps[0].upscale: must be true or false"},
        BadSpec{"TypoInStep", "{" + kSrc + R"(,"steps":[{"op":"resize","widht":5}]})",
                "InvalidSpec: steps[0].widht: unknown field"},
        BadSpec{"CropWithoutSize", "{" + kSrc + R"(,"steps":[{"op":"crop","x":1,"y":1}]})",
                "InvalidSpec: steps[0].width: is required"},
        BadSpec{"CropWithOnlyX",
                "{" + kSrc + R"(,"steps":[{"op":"crop","x":1,"width":2,"height":2}]})",
                "InvalidSpec: steps[0]: crop needs both x and y"},
        BadSpec{"CropNegativeX",
                "{" + kSrc + R"(,"steps":[{"op":"crop","x":-1,"y":0,"width":2,"height":2}]})",
                "InvalidSpec: steps[0].x: must be an integer 0..2147483647"},
        BadSpec{"CropBadGravity",
                "{" + kSrc + R"(,"steps":[{"op":"crop","width":2,"height":2,"gravity":"up"}]})",
                "InvalidSpec: steps[0].gravity: must be one of center, north, south, east, west, "
                "northeast, northwest, southeast, southwest"},
        BadSpec{"RotateWithoutDegrees", "{" + kSrc + R"(,"steps":[{"op":"rotate"}]})",
                "InvalidSpec: steps[0].degrees: is required"},
        BadSpec{"RotateOddAngle", "{" + kSrc + R"(,"steps":[{"op":"rotate","degrees":45}]})",
                "InvalidSpec: steps[0].degrees: must be 90, 180 or 270"},
        BadSpec{"RotateZero", "{" + kSrc + R"(,"steps":[{"op":"rotate","degrees":360}]})",
                "InvalidSpec: steps[0].degrees: must be 90, 180 or 270"},
        BadSpec{"MirrorWithArgs", "{" + kSrc + R"(,"steps":[{"op":"mirror","axis":"x"}]})",
                "InvalidSpec: steps[0].axis: unknown field"},
        BadSpec{"BlurTooStrong", "{" + kSrc + R"(,"steps":[{"op":"blur","sigma":1000}]})",
                "InvalidSpec: steps[0].sigma: must be a number 0.1..100"},
        BadSpec{"SharpenNegative", "{" + kSrc + R"(,"steps":[{"op":"sharpen","amount":-1}]})",
                "InvalidSpec: steps[0].amount: must be a number 0..10"},
        BadSpec{"OutputNotObject", "{" + kSrc + R"(,"output":"png"})",
                "InvalidSpec: output: must be an object"},
        BadSpec{"UnknownFormat", "{" + kSrc + R"(,"output":{"format":"gif"}})",
                "InvalidSpec: output.format: must be one of jpeg, png, webp, jpg"},
        BadSpec{"QualityTooHigh", "{" + kSrc + R"(,"output":{"format":"jpeg","quality":101}})",
                "InvalidSpec: output.quality: must be an integer 1..100"},
        BadSpec{"MaxBytesTooSmall", "{" + kSrc + R"(,"output":{"maxBytes":10}})",
                "InvalidSpec: output.maxBytes: must be an integer 100..2147483647"},
        BadSpec{"CallbackNotHttp", "{" + kSrc + R"(,"callbackUrl":"gopher://x"})",
                "InvalidSpec: callbackUrl: must be an http:// or https:// URL"},
        BadSpec{"UnknownTopLevel", "{" + kSrc + R"(,"priority":1})",
                "InvalidSpec: priority: unknown field"},
        BadSpec{"LabelNotString", "{" + kSrc + R"(,"labels":{"a":1}})",
                "InvalidSpec: labels.a: must be a string of at most 256 characters"},
        BadSpec{"WrongApiVersion", R"({"apiVersion":"v2","spec":{)" + kSrc + "}}",
                "InvalidSpec: apiVersion: must be pixq/v1"},
        BadSpec{"WrongKind", R"({"kind":"Pod","spec":{)" + kSrc + "}}",
                "InvalidSpec: kind: must be ImageJob"},
        BadSpec{"SpecNotObject", R"({"spec":[]})", "InvalidSpec: spec: must be an object"},
        BadSpec{"ResourceUnknownField", R"({"spec":{)" + kSrc + R"(},"extra":1})",
                "InvalidSpec: extra: unknown field"},
        BadSpec{"ResourceStepError", R"({"spec":{)" + kSrc + R"(,"steps":[{"op":"nope"}]}})",
                "InvalidSpec: spec.steps[0].op: must be one of resize, crop, rotate, mirror, "
                "flip, grayscale, blur, sharpen"}),
    [](const testing::TestParamInfo<BadSpec>& info) { return info.param.name; });

TEST(ParseJobSpecTest, RefusesMoreStepsThanTheLimit) {
  EXPECT_EQ(ErrorOf(WithSteps(R"([{"op":"flip"},{"op":"flip"},{"op":"flip"}])"),
                    {.max_steps = 2, .max_output_dimension = 100}),
            "TooManySteps: steps: at most 2 steps, got 3");
}

TEST(ParseJobSpecTest, MapsReasonsToHttpStatuses) {
  EXPECT_EQ(errors::HttpStatusOf(ParseJobSpec("{", {}).status()), 400);
  EXPECT_EQ(errors::HttpStatusOf(ParseJobSpec("{}", {}).status()), 422);
}

TEST(OutputKeyTest, IsTheSameWhenDefaultsAreSpelledOut) {
  absl::StatusOr<JobSpec> a =
      ParseJobSpec(WithSteps(R"([{"op":"resize","width":800}])", R"({"format":"jpeg"})"), {});
  absl::StatusOr<JobSpec> b =
      ParseJobSpec(WithSteps(R"([{"op":"resize","width":800,"fit":"inside","upscale":false}])",
                             R"({"format":"jpg","quality":85})"),
                   {});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(CanonicalJson(*a), CanonicalJson(*b));
  EXPECT_EQ(OutputKey(kImageId, *a), OutputKey(kImageId, *b));
  EXPECT_EQ(OutputKey(kImageId, *a).size(), 64u);
}

TEST(OutputKeyTest, DiffersWhenAnythingThatChangesTheBytesDiffers) {
  auto key = [](const std::string& steps, const std::string& output,
                const std::string& image = kImageId) {
    absl::StatusOr<JobSpec> spec = ParseJobSpec(WithSteps(steps, output), {});
    EXPECT_TRUE(spec.ok()) << spec.status();
    return OutputKey(image, *spec);
  };
  const std::string base = key(R"([{"op":"resize","width":800}])", R"({"format":"jpeg"})");
  EXPECT_NE(base, key(R"([{"op":"resize","width":801}])", R"({"format":"jpeg"})"));
  EXPECT_NE(base, key(R"([{"op":"resize","width":800}])", R"({"format":"webp"})"));
  EXPECT_NE(base, key(R"([{"op":"resize","width":800}])", R"({"format":"jpeg","quality":84})"));
  EXPECT_NE(base, key(R"([{"op":"resize","width":800},{"op":"flip"}])", R"({"format":"jpeg"})"));
  EXPECT_NE(base, key(R"([{"op":"flip"},{"op":"resize","width":800}])", R"({"format":"jpeg"})"));
  EXPECT_NE(base,
            key(R"([{"op":"resize","width":800}])", R"({"format":"jpeg"})", std::string(64, 'b')));
}

TEST(OutputKeyTest, IgnoresLabelsAndCallbacks) {
  absl::StatusOr<JobSpec> a = ParseJobSpec(WithSteps("[]"), {});
  absl::StatusOr<JobSpec> b =
      ParseJobSpec("{" + kSrc + R"(,"steps":[],"output":{"format":"png"},"labels":{"x":"y"},)" +
                       R"("callbackUrl":"https://h/x"})",
                   {});
  ASSERT_TRUE(a.ok() && b.ok()) << b.status();
  EXPECT_EQ(OutputKey(kImageId, *a), OutputKey(kImageId, *b));
}

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

}  // namespace
}  // namespace pixq::job
