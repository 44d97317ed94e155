#include "pkg/job/document.h"

#include <string>

#include "absl/strings/ascii.h"

#include "pkg/errors/errors.h"
#include "pkg/yaml/yaml.h"

namespace pixq::job {

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
      return errors::Make(errors::Reason::kMalformedJson, "the request body is not valid JSON");
    }
    return doc;
  }
  return yaml::Parse(text);
}

}  // namespace pixq::job
