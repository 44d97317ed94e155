#include "pkg/job/output_key.h"

#include <string>

#include <gtest/gtest.h>

#include "pkg/errors/errors.h"
#include "pkg/job/spec_parser.h"
#include "tests/job/samples.h"

namespace pixq::job {
namespace {

using samples::kImageId;
using samples::kSrc;
using samples::WithSteps;

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

// Outputs on disk and job records are found by these keys: they must never change. Computed by
// json.cc before the split (issue 15).
TEST(OutputKeyTest, KnownSpecsKeepTheirKeys) {
  struct Known {
    std::string steps;
    std::string output;
    std::string canonical;
    std::string key;
  };
  const Known known[] = {
      {"[]", R"({"format":"png"})", R"json({"output":{"format":"png"},"steps":[]})json",
       "c991c587f3834c079dbc76a3e1a670232fddd157cd85ed5db74d5d4d430498e5"},
      {R"([{"op":"resize","width":800}])", R"({"format":"jpeg"})",
       R"json({"output":{"format":"jpeg","quality":85},"steps":[{"fit":"inside","height":null,"op":"resize","upscale":false,"width":800}]})json",
       "411f686708bc58925aa377207319c4bf65ff63dcdf4e0bef570d4f7b81f9a45e"},
      {R"([{"op":"resize","width":800,"height":600,"fit":"cover","upscale":true},
          {"op":"crop","x":1,"y":2,"width":30,"height":40},
          {"op":"crop","width":30,"height":40,"gravity":"southeast"},
          {"op":"rotate","degrees":-90},{"op":"mirror"},{"op":"flip"},{"op":"grayscale"},
          {"op":"blur","sigma":2.5},{"op":"sharpen","sigma":1.5,"amount":0.5}])",
       R"({"format":"webp","quality":70,"maxBytes":50000})",
       R"json({"output":{"format":"webp","maxBytes":50000,"quality":70},"steps":[{"fit":"cover","height":600,"op":"resize","upscale":true,"width":800},{"height":40,"op":"crop","width":30,"x":1,"y":2},{"gravity":"southeast","height":40,"op":"crop","width":30},{"degrees":270,"op":"rotate"},{"op":"mirror"},{"op":"flip"},{"op":"grayscale"},{"op":"blur","sigma":2.5},{"amount":0.5,"op":"sharpen","sigma":1.5}]})json",
       "cb39edf2b908cb7367ec82185c39a1f75d71159f1dd5ba4a294dff467a4e0708"},
      {R"([{"op":"crop","width":5,"height":6}])", R"({"format":"jpg"})",
       R"json({"output":{"format":"jpeg","quality":85},"steps":[{"gravity":"center","height":6,"op":"crop","width":5}]})json",
       "0e2ed5cc0cf9b5f3a297bb9a14598c6f52441fe241644b8474e30e4198b8c704"},
  };
  for (const Known& k : known) {
    absl::StatusOr<JobSpec> spec = ParseJobSpec(WithSteps(k.steps, k.output), {});
    ASSERT_TRUE(spec.ok()) << spec.status();
    EXPECT_EQ(CanonicalJson(*spec), k.canonical) << k.steps;
    EXPECT_EQ(OutputKey(kImageId, *spec), k.key) << k.steps;
  }
}

}  // namespace
}  // namespace pixq::job
