#include "pkg/yaml/yaml.h"

#include <cstdint>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include <yaml-cpp/yaml.h>

#include "pkg/errors/errors.h"

namespace pixq::yaml {
namespace {

constexpr int kMaxDepth = 64;
constexpr int kMaxNodes = 100'000;
// Characters of keys and scalars produced: an alias repeats its anchor's text in full.
constexpr size_t kMaxChars = 16 << 20;

absl::Status Malformed(std::string_view message) {
  return errors::Make(errors::Reason::kMalformedYaml, message);
}

// yaml-cpp's tree to ours, counting what aliases expand to (yaml-cpp shares an anchored node
// between its aliases; our tree copies it, so the limits are checked before the copy is made).
struct Converter {
  int nodes = 0;
  size_t chars = 0;

  absl::Status Count(size_t n) {
    chars += n;
    if (chars > kMaxChars) return Malformed("the document expands to too much text");
    return absl::OkStatus();
  }

  absl::StatusOr<Node> Convert(const YAML::Node& node, int depth) {
    if (++nodes > kMaxNodes) return Malformed("the document expands to too many nodes");
    if (depth > kMaxDepth) return Malformed("the document nests too deep");
    switch (node.Type()) {
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined:
        return Node{};
      case YAML::NodeType::Sequence: {
        Node sequence = Node::Sequence({});
        for (const YAML::Node& item : node) {
          absl::StatusOr<Node> value = Convert(item, depth + 1);
          if (!value.ok()) return value.status();
          sequence.items.push_back(*std::move(value));
        }
        return sequence;
      }
      case YAML::NodeType::Map: {
        Node map = Node::Map();
        for (const auto& entry : node) {
          if (!entry.first.IsScalar()) return Malformed("mapping keys must be plain strings");
          PIXQ_RETURN_IF_ERROR(Count(entry.first.Scalar().size()));
          absl::StatusOr<Node> value = Convert(entry.second, depth + 1);
          if (!value.ok()) return value.status();
          map.entries.emplace_back(entry.first.Scalar(), *std::move(value));
        }
        return map;
      }
      case YAML::NodeType::Scalar:
        PIXQ_RETURN_IF_ERROR(Count(node.Scalar().size()));
        // yaml-cpp tags every quoted or block scalar "!", and leaves plain ones "?".
        return Node::Scalar(node.Scalar(), node.Tag() != "!");
    }
    return Node{};
  }
};

// `syntax_prefix` goes before yaml-cpp's message when the text does not parse.
absl::StatusOr<Node> Load(std::string_view text, std::string_view syntax_prefix) {
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    Converter converter;
    return converter.Convert(root, 0);
  } catch (const YAML::Exception& e) {
    return Malformed(absl::StrCat(errors::Sv(syntax_prefix), e.what()));
  }
}

// YAML 1.2's core schema, for plain scalars only.
nlohmann::json CoreSchemaScalar(const Node& node) {
  const std::string& text = node.scalar;
  if (!node.plain) return text;  // quoted: a string whatever it looks like
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") {
    return nullptr;
  }
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  int64_t integer = 0;
  if (absl::SimpleAtoi(text, &integer)) return integer;
  double real = 0;
  const bool numeric = text.find_first_not_of("+-0123456789.eE") == std::string::npos;
  if (numeric && absl::SimpleAtod(text, &real)) return real;
  return text;
}

nlohmann::json ToJson(const Node& node) {
  switch (node.kind) {
    case Node::Kind::kNull:
      return nullptr;
    case Node::Kind::kScalar:
      return CoreSchemaScalar(node);
    case Node::Kind::kSequence: {
      nlohmann::json array = nlohmann::json::array();
      for (const Node& item : node.items) array.push_back(ToJson(item));
      return array;
    }
    case Node::Kind::kMap: {
      nlohmann::json object = nlohmann::json::object();
      for (const auto& [key, value] : node.entries) object[key] = ToJson(value);
      return object;
    }
  }
  return nullptr;
}

void Write(YAML::Emitter& out, const Node& node) {
  switch (node.kind) {
    case Node::Kind::kNull:
      out << YAML::Null;
      return;
    case Node::Kind::kScalar:
      if (!node.plain) out << YAML::DoubleQuoted;
      out << node.scalar;
      return;
    case Node::Kind::kSequence:
      out << YAML::Flow << YAML::BeginSeq;
      for (const Node& item : node.items) Write(out, item);
      out << YAML::EndSeq;
      return;
    case Node::Kind::kMap:
      out << YAML::BeginMap;
      for (const auto& [key, value] : node.entries) {
        out << YAML::Key << key << YAML::Value;
        Write(out, value);
      }
      out << YAML::EndMap;
      return;
  }
}

}  // namespace

Node Node::Scalar(std::string text, bool plain) {
  Node node;
  node.kind = Kind::kScalar;
  node.scalar = std::move(text);
  node.plain = plain;
  return node;
}

Node Node::Sequence(std::vector<Node> items) {
  Node node;
  node.kind = Kind::kSequence;
  node.items = std::move(items);
  return node;
}

Node Node::Map(std::vector<std::pair<std::string, Node>> entries) {
  Node node;
  node.kind = Kind::kMap;
  node.entries = std::move(entries);
  return node;
}

absl::StatusOr<Node> ParseTree(std::string_view text) { return Load(text, ""); }

absl::StatusOr<nlohmann::json> Parse(std::string_view text) {
  absl::StatusOr<Node> root = Load(text, "the request body is not valid YAML: ");
  if (!root.ok()) return root.status();
  return ToJson(*root);
}

std::string Emit(const Node& node) {
  YAML::Emitter out;
  Write(out, node);
  return absl::StrCat(out.c_str(), "\n");
}

}  // namespace pixq::yaml
