#include "pkg/job/spec_parser.h"

#include <iterator>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "pkg/errors/errors.h"
#include "tests/job/samples.h"

namespace pixq::job {
namespace {

using samples::kImageId;
using samples::kSrc;
using samples::WithSteps;

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
        BadSpec{"ReadOnlyFormat", "{" + kSrc + R"(,"output":{"format":"heic"}})",
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

// What the parser answered before its fields were read by name (json.cc at 2acd794): the same
// reason and message, for each step's and the output's fields.
TEST(ParseJobSpecTest, AnswersAsBeforeTheSplit) {
  const std::pair<std::string, std::string> steps[] = {
      {R"([{"op":"zoom"}])",
       "InvalidSpec: steps[0].op: must be one of resize, crop, rotate, mirror, flip, grayscale, "
       "blur, sharpen"},
      {R"([{"width":3}])", "InvalidSpec: steps[0].op: is required"},
      {R"([{"op":"resize"}])", "InvalidSpec: steps[0]: resize needs width, height or both"},
      {R"([{"op":"resize","width":3,"fit":"stretch"}])",
       "InvalidSpec: steps[0].fit: must be one of inside, cover, fill"},
      {R"([{"op":"resize","width":3,"fit":"cover"}])",
       "InvalidSpec: steps[0]: fit cover and fill need both width and height"},
      {R"([{"op":"resize","widht":3}])", "InvalidSpec: steps[0].widht: unknown field"},
      {R"([{"op":"crop","width":3}])", "InvalidSpec: steps[0].height: is required"},
      {R"([{"op":"crop","width":3,"height":4,"gravity":"up"}])",
       "InvalidSpec: steps[0].gravity: must be one of center, north, south, east, west, northeast, "
       "northwest, southeast, southwest"},
      {R"([{"op":"crop","x":1,"width":3,"height":4}])",
       "InvalidSpec: steps[0]: crop needs both x and y"},
      {R"([{"op":"crop","x":1,"y":1,"width":3,"height":4,"gravity":"north"}])",
       "InvalidSpec: steps[0]: crop takes x and y, or gravity, not both"},
      {R"([{"op":"rotate"}])", "InvalidSpec: steps[0].degrees: is required"},
      {R"([{"op":"rotate","degrees":45}])",
       "InvalidSpec: steps[0].degrees: must be 90, 180 or 270"},
      {R"([{"op":"mirror","x":1}])", "InvalidSpec: steps[0].x: unknown field"},
      {R"([{"op":"blur","sigma":0}])", "InvalidSpec: steps[0].sigma: must be a number 0.1..100"},
      {R"([{"op":"sharpen","amount":11}])", "InvalidSpec: steps[0].amount: must be a number 0..10"},
      {R"([3])", "InvalidSpec: steps[0]: must be an object with an \"op\""},
      {R"({})", "InvalidSpec: steps: must be an array"},
      {R"([{"op":3}])",
       "InvalidSpec: steps[0].op: must be one of resize, crop, rotate, mirror, flip, grayscale, "
       "blur, sharpen"},
      {R"([{"op":"resize","width":1.5}])",
       "InvalidSpec: steps[0].width: must be an integer 1..16384"},
      {R"([{"op":"resize","width":3,"upscale":"yes"}])",
       "InvalidSpec: steps[0].upscale: must be true or false"},
  };
  for (const auto& [body, expected] : steps) {
    EXPECT_EQ(ErrorOf("{" + kSrc + R"(,"steps":)" + body + "}"), expected) << body;
  }
  const std::pair<std::string, std::string> outputs[] = {
      {R"({"format":"gif"})", "InvalidSpec: output.format: must be one of jpeg, png, webp, jpg"},
      {R"({"format":"png","quality":0})", "InvalidSpec: output.quality: must be an integer 1..100"},
      {R"({"format":"jpg","maxBytes":5})",
       "InvalidSpec: output.maxBytes: must be an integer 100..2147483647"},
      {R"({"format":"webp","size":1})", "InvalidSpec: output.size: unknown field"},
      {R"(3)", "InvalidSpec: output: must be an object"},
  };
  for (const auto& [body, expected] : outputs) {
    EXPECT_EQ(ErrorOf("{" + kSrc + R"(,"output":)" + body + "}"), expected) << body;
  }
}

TEST(ParseJobSpecTest, ReadsEveryOpIntoTheStepOfThatName) {
  const std::string minimal[] = {R"({"op":"resize","width":1})",
                                 R"({"op":"crop","width":1,"height":1})",
                                 R"({"op":"rotate","degrees":90})",
                                 R"({"op":"mirror"})",
                                 R"({"op":"flip"})",
                                 R"({"op":"grayscale"})",
                                 R"({"op":"blur"})",
                                 R"({"op":"sharpen"})"};
  ASSERT_EQ(std::size(minimal), kStepOps.size());
  for (size_t i = 0; i < kStepOps.size(); ++i) {
    absl::StatusOr<JobSpec> spec = ParseJobSpec(WithSteps("[" + minimal[i] + "]"), {});
    ASSERT_TRUE(spec.ok()) << spec.status();
    ASSERT_EQ(spec->steps.size(), 1u);
    EXPECT_EQ(OpName(spec->steps[0]), kStepOps[i]);
    EXPECT_EQ(spec->steps[0].index(), i);
  }
}

}  // namespace
}  // namespace pixq::job
