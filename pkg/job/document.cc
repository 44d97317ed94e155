#include "pkg/job/document.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include <yaml-cpp/yaml.h>

#include "pkg/errors/errors.h"

namespace pixq::job {
namespace {

constexpr int kMaxDepth = 64;
constexpr int kMaxNodes = 100'000;
// Characters of keys and scalars produced: an alias repeats its anchor's text in full.
constexpr size_t kMaxChars = 16 << 20;

struct Converter {
  int nodes = 0;
  size_t chars = 0;

  absl::Status Count(size_t n) {
    chars += n;
    if (chars > kMaxChars) {
      return errors::Invalid("MalformedYaml", "the document expands to too much text");
    }
    return absl::OkStatus();
  }

  absl::StatusOr<nlohmann::json> Convert(const YAML::Node& node, int depth) {
    if (++nodes > kMaxNodes) {
      return errors::Invalid("MalformedYaml", "the document expands to too many nodes");
    }
    if (depth > kMaxDepth) return errors::Invalid("MalformedYaml", "the document nests too deep");
    switch (node.Type()) {
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined:
        return nlohmann::json(nullptr);
      case YAML::NodeType::Sequence: {
        nlohmann::json array = nlohmann::json::array();
        for (const YAML::Node& item : node) {
          absl::StatusOr<nlohmann::json> value = Convert(item, depth + 1);
          if (!value.ok()) return value.status();
          array.push_back(*std::move(value));
        }
        return array;
      }
      case YAML::NodeType::Map: {
        nlohmann::json object = nlohmann::json::object();
        for (const auto& entry : node) {
          if (!entry.first.IsScalar()) {
            return errors::Invalid("MalformedYaml", "mapping keys must be plain strings");
          }
          PIXQ_RETURN_IF_ERROR(Count(entry.first.Scalar().size()));
          absl::StatusOr<nlohmann::json> value = Convert(entry.second, depth + 1);
          if (!value.ok()) return value.status();
          object[entry.first.Scalar()] = *std::move(value);
        }
        return object;
      }
      case YAML::NodeType::Scalar:
        PIXQ_RETURN_IF_ERROR(Count(node.Scalar().size()));
        return Scalar(node);
    }
    return nlohmann::json(nullptr);
  }

  // YAML 1.2's core schema, for plain scalars only.
  static nlohmann::json Scalar(const YAML::Node& node) {
    const std::string& text = node.Scalar();
    if (node.Tag() == "!") return text;  // quoted: a string whatever it looks like
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
};

}  // namespace

std::optional<BodyFormat> BodyFormatOf(std::string_view content_type) {
  std::string type(content_type.substr(0, content_type.find(';')));
  type = absl::AsciiStrToLower(absl::StripAsciiWhitespace(type));
  if (type.empty() || type == "application/json") return BodyFormat::kJson;
  if (type == "application/yaml" || type == "application/x-yaml" || type == "text/yaml") {
    return BodyFormat::kYaml;
  }
  return std::nullopt;
}

absl::StatusOr<nlohmann::json> ParseDocument(std::string_view text, BodyFormat format) {
  if (format == BodyFormat::kJson) {
    nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) {
      return errors::Invalid("MalformedJson", "the request body is not valid JSON");
    }
    return doc;
  }
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    Converter converter;
    return converter.Convert(root, 0);
  } catch (const YAML::Exception& e) {
    return errors::Invalid("MalformedYaml",
                           absl::StrCat("the request body is not valid YAML: ", e.what()));
  }
}

}  // namespace pixq::job
