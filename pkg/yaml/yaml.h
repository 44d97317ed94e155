#pragma once

// YAML, read and written: pixq's one use of yaml-cpp, whose types and exceptions stay inside.
//
// Reading turns a document into plain values: a Node tree, in the order written (pkg/config walks
// it), or JSON under YAML 1.2's core schema (job specs sent as YAML: one validator serves both).
// Every read is bounded, since the text may come from a client: at most 64 levels of nesting,
// 100000 nodes and 16 MiB of keys and scalars, counting each alias as the full copy it expands to.
//
// Plain functions; thread-safe.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace pixq::yaml {

struct Node {
  enum class Kind { kNull, kScalar, kSequence, kMap };
  Kind kind = Kind::kNull;
  // kScalar: the text, without quotes or escapes.
  std::string scalar;
  // kScalar: written without quotes and not as a block scalar. Only a plain scalar can read as a
  // number, a boolean or null; Emit double-quotes one that is not plain.
  bool plain = true;
  std::vector<Node> items;                            // kSequence
  std::vector<std::pair<std::string, Node>> entries;  // kMap, in order; a repeated key repeats

  [[nodiscard]] static Node Scalar(std::string text, bool plain = true);
  [[nodiscard]] static Node Quoted(std::string text) { return Scalar(std::move(text), false); }
  [[nodiscard]] static Node Sequence(std::vector<Node> items);
  [[nodiscard]] static Node Map(std::vector<std::pair<std::string, Node>> entries = {});
};

// The document in `text` as a tree; an empty document is a null Node.
// Errors: "MalformedYaml" (400), the message yaml-cpp's own ("yaml-cpp: error at line 1, column
// 10: end of map flow not found") when the text does not parse, else "mapping keys must be plain
// strings" (a key that is a list, a mapping or null), "the document nests too deep", "the document
// expands to too many nodes" or "the document expands to too much text".
[[nodiscard]] absl::StatusOr<Node> ParseTree(std::string_view text);

// The document in `text` as JSON. Plain scalars read by YAML 1.2's core schema: null (~, null,
// Null, NULL, empty), booleans (true, True, TRUE and false alike), integers that fit in 64 bits,
// then decimal numbers; anything else, and every quoted or block scalar, is a string. A key given
// twice keeps its last value.
// Errors: as ParseTree, except that text that does not parse says so as a request body's would:
// "the request body is not valid YAML: <yaml-cpp's message>" (these messages are answered to
// clients as they are).
[[nodiscard]] absl::StatusOr<nlohmann::json> Parse(std::string_view text);

// `node` as a YAML document ending in a newline: mappings in block style, sequences in flow style
// ([a, b]), plain scalars as they are (quoted only where YAML needs it), the others double-quoted.
// Parsing it gives `node` back, except that a quoted scalar may come back quoted where `node` had
// it plain.
[[nodiscard]] std::string Emit(const Node& node);

}  // namespace pixq::yaml
