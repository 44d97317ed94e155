#pragma once

// Request bodies as JSON documents: JSON itself, or YAML converted to the same JSON by pkg/yaml
// (so one validator serves both). YAML's plain scalars become numbers, booleans or null where they
// read as such; quoted ones stay strings.

#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace pixq::job {

enum class BodyFormat { kJson, kYaml };

// JSON for "" and application/json; YAML for application/yaml, application/x-yaml, text/yaml
// (parameters such as charset ignored); nullopt for anything else.
[[nodiscard]] std::optional<BodyFormat> BodyFormatOf(std::string_view content_type);

// Errors: "MalformedJson" or "MalformedYaml" (400) when the text does not parse, or the YAML
// nests deeper than 64 levels or expands (aliases) to more than 100000 nodes or 16 MiB of text.
[[nodiscard]] absl::StatusOr<nlohmann::json> ParseDocument(std::string_view text,
                                                           BodyFormat format);

}  // namespace pixq::job
