#pragma once

// Reads and validates a job as a client sends it. What is accepted is what README.md and
// pkg/http/openapi.json document; anything else is refused with the field it is about, so a typo
// ("widht") never silently does something else.

#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

#include "pkg/job/spec.h"

namespace pixq::job {

struct ValidationLimits {
  int max_steps = 20;
  int max_output_dimension = 16384;
};

// Parses a job from JSON text: either the resource form
// {"apiVersion":"pixq/v1","kind":"ImageJob","metadata":{"labels":{…}},"spec":{…}} or the bare
// spec {"source":…,"steps":[…],"output":{…},"callbackUrl":…} with "labels" beside it.
// Errors: "MalformedJson" (400) when the text is not JSON; "InvalidSpec" (422) with a message
// that names the offending field, e.g. `steps[1].width: must be an integer 1..16384`;
// "TooManySteps" (422).
[[nodiscard]] absl::StatusOr<JobSpec> ParseJobSpec(std::string_view json,
                                                   const ValidationLimits& limits);

// The same, from an already parsed document (e.g. YAML converted to JSON). Errors: as
// ParseJobSpec's, but for "MalformedJson".
[[nodiscard]] absl::StatusOr<JobSpec> JobSpecFromJson(const nlohmann::json& doc,
                                                      const ValidationLimits& limits);

// Only the spec object ({"source":…,"steps":…,"output":…,"callbackUrl":…}, no labels): what
// the two above read inside the envelope, and what RecordFromJson reads back from a record.
// `path` prefixes the fields named in errors ("spec" gives `spec.steps[0].op: …`; "" none).
// Errors: "InvalidSpec", "TooManySteps".
[[nodiscard]] absl::StatusOr<JobSpec> ParseSpecObject(const nlohmann::json& spec,
                                                      std::string_view path,
                                                      const ValidationLimits& limits);

}  // namespace pixq::job
