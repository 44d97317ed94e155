#include "pkg/yaml/yaml.h"

#include <string>

#include "absl/strings/match.h"
#include <gtest/gtest.h>

#include "pkg/errors/errors.h"

namespace pixq::yaml {
namespace {

TEST(ParseTreeTest, KeepsTheOrderTheTextAndWhetherAScalarWasPlain) {
  absl::StatusOr<Node> root = ParseTree("b: 1\na: ['x', y]\nc:\nb: \"2\"\n");
  ASSERT_TRUE(root.ok()) << root.status();
  ASSERT_EQ(root->kind, Node::Kind::kMap);
  ASSERT_EQ(root->entries.size(), 4u);
  EXPECT_EQ(root->entries[0].first, "b");
  EXPECT_EQ(root->entries[0].second.scalar, "1");
  EXPECT_TRUE(root->entries[0].second.plain);
  const Node& list = root->entries[1].second;
  ASSERT_EQ(list.kind, Node::Kind::kSequence);
  EXPECT_FALSE(list.items[0].plain);
  EXPECT_TRUE(list.items[1].plain);
  EXPECT_EQ(root->entries[2].second.kind, Node::Kind::kNull);
  EXPECT_EQ(root->entries[3].first, "b");  // a repeated key repeats
  EXPECT_FALSE(root->entries[3].second.plain);
  EXPECT_EQ(ParseTree("")->kind, Node::Kind::kNull);
}

TEST(ParseTreeTest, GivesYamlCppsMessageForTextThatDoesNotParse) {
  absl::StatusOr<Node> bad = ParseTree("a: [1, 2");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(errors::ReasonOf(bad.status()), "MalformedYaml");
  EXPECT_TRUE(absl::StartsWith(bad.status().message(), "yaml-cpp: error at line"))
      << bad.status().message();
  EXPECT_EQ(ParseTree("{[a]: 1}").status().message(), "mapping keys must be plain strings");
}

TEST(ParseTest, ReadsPlainScalarsByTheCoreSchemaAndQuotedOnesAsStrings) {
  absl::StatusOr<nlohmann::json> doc =
      Parse("a: 1\nb: '1'\nc: true\nd: ~\ne: 1.5\nf: yes\ng: [NULL, False]\nh: 0x1F\n");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(*doc, nlohmann::json::parse(
                      R"({"a":1,"b":"1","c":true,"d":null,"e":1.5,"f":"yes","g":[null,false],)"
                      R"("h":"0x1F"})"));
}

TEST(ParseTest, SaysARequestBodyIsNotYamlAndBoundsWhatAliasesExpandTo) {
  EXPECT_TRUE(absl::StartsWith(Parse("a: [1, 2").status().message(),
                               "the request body is not valid YAML: yaml-cpp: error at line"));
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char level = 'b'; level <= 'h'; ++level) {
    const char below = static_cast<char>(level - 1);
    bomb += std::string(1, level) + ": &" + level + " [*" + below + ", *" + below + ", *" + below +
            ", *" + below + ", *" + below + ", *" + below + ", *" + below + ", *" + below + ", *" +
            below + ", *" + below + "]\n";
  }
  EXPECT_EQ(Parse(bomb).status().message(), "the document expands to too many nodes");
  std::string deep = "a: ";
  for (int i = 0; i < 70; ++i) deep += "[";
  for (int i = 0; i < 70; ++i) deep += "]";
  EXPECT_EQ(Parse(deep).status().message(), "the document nests too deep");
}

TEST(EmitTest, WritesMapsInBlockListsInFlowAndQuotesWhatWasNotPlain) {
  const Node root =
      Node::Map({{"s", Node::Map({{"n", Node::Scalar("8080")},
                                  {"q", Node::Quoted("a \"b\"")},
                                  {"l", Node::Sequence({Node::Quoted("x"), Node::Quoted("y")})},
                                  {"e", Node::Map()}})}});
  EXPECT_EQ(Emit(root), "s:\n  n: 8080\n  q: \"a \\\"b\\\"\"\n  l: [\"x\", \"y\"]\n  e:\n    {}\n");
  absl::StatusOr<Node> back = ParseTree(Emit(root));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->entries[0].second.entries[1].second.scalar, "a \"b\"");
}

}  // namespace
}  // namespace pixq::yaml
