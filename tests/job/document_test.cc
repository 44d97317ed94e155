#include "pkg/job/document.h"

#include <gtest/gtest.h>

#include "pkg/errors/errors.h"
#include "pkg/job/spec_parser.h"

namespace pixq::job {
namespace {

TEST(DocumentTest, KnowsJsonAndYamlByContentType) {
  EXPECT_EQ(BodyFormatOf(""), BodyFormat::kJson);
  EXPECT_EQ(BodyFormatOf("application/json; charset=utf-8"), BodyFormat::kJson);
  EXPECT_EQ(BodyFormatOf("application/yaml"), BodyFormat::kYaml);
  EXPECT_EQ(BodyFormatOf("Application/X-YAML"), BodyFormat::kYaml);
  EXPECT_EQ(BodyFormatOf("text/yaml;charset=utf-8"), BodyFormat::kYaml);
  EXPECT_FALSE(BodyFormatOf("text/csv").has_value());
}

TEST(DocumentTest, ReadsYamlAsTheSameDocumentAsJson) {
  const char* yaml = R"(
source:
  imageId: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
steps:
  - op: resize
    width: 800
    upscale: false
  - op: blur
    sigma: 1.5
output: {format: webp, quality: 80}
labels:
  batch: "42"
callbackUrl: ~
)";
  absl::StatusOr<nlohmann::json> doc = ParseDocument(yaml, BodyFormat::kYaml);
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ((*doc)["steps"][0]["width"], 800);
  EXPECT_EQ((*doc)["steps"][0]["upscale"], false);
  EXPECT_EQ((*doc)["steps"][1]["sigma"], 1.5);
  EXPECT_EQ((*doc)["labels"]["batch"], "42");  // quoted: stays a string
  EXPECT_TRUE((*doc)["callbackUrl"].is_null());
  absl::StatusOr<JobSpec> spec = JobSpecFromJson(*doc, {});
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->steps.size(), 2u);
  EXPECT_EQ(spec->output.format, Format::kWebp);
  EXPECT_EQ(spec->labels.at("batch"), "42");
}

TEST(DocumentTest, RefusesBrokenAndExplodingYaml) {
  EXPECT_EQ(errors::ReasonOf(ParseDocument("a: [1, 2", BodyFormat::kYaml).status()),
            "MalformedYaml");
  EXPECT_EQ(errors::ReasonOf(ParseDocument("{", BodyFormat::kJson).status()), "MalformedJson");
  // A billion laughs: aliases of aliases expand far past the node limit.
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  char prev = 'a';
  for (char c = 'b'; c <= 'j'; ++c) {
    bomb += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 10; ++i) bomb += std::string(i ? ", *" : "*") + prev;
    bomb += "]\n";
    prev = c;
  }
  EXPECT_EQ(errors::ReasonOf(ParseDocument(bomb, BodyFormat::kYaml).status()), "MalformedYaml");
  // Few nodes, but one long string repeated through aliases.
  std::string long_text = "s: &s \"" + std::string(20'000, 'x') +
                          "\"\nl: &l [*s, *s, *s, *s, *s, *s, *s, *s, *s, *s]\n";
  long_text +=
      "m: &m [*l, *l, *l, *l, *l, *l, *l, *l, *l, *l]\nn: &n [*m, *m, *m, *m, *m, *m, *m, *m, *m, "
      "*m]\n";
  long_text += "o: [*n, *n, *n, *n, *n, *n, *n, *n, *n, *n]\n";
  EXPECT_EQ(errors::ReasonOf(ParseDocument(long_text, BodyFormat::kYaml).status()),
            "MalformedYaml");
  for (int depth : {100, 500'000}) {  // the second would overflow a recursive parser's stack
    const std::string deep = std::string(depth, '[') + std::string(depth, ']');
    EXPECT_EQ(errors::ReasonOf(ParseDocument(deep, BodyFormat::kYaml).status()), "MalformedYaml")
        << depth;
  }
}

}  // namespace
}  // namespace pixq::job
