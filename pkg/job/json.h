#pragma once

// JSON forms of the job model, and the validation of what clients send.
//
// Two forms exist for a JobRecord: the wire form (ToJson/RecordFromJson), which is what pixq
// writes to Kafka and reads back, and the API form (ToApiJson), which hides internal fields
// (output path, output key) and adds the output URL. Both are Kubernetes-style resources:
// {"apiVersion":"pixq/v1","kind":"ImageJob","metadata":{...},"spec":{...},"status":{...}}.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

#include "pkg/job/spec.h"

namespace pixq::job {

struct ValidationLimits {
  int max_steps = 20;
  int max_output_dimension = 16384;
};

// Parses and validates a job as a client sends it: either the resource form
// {"apiVersion":"pixq/v1","kind":"ImageJob","metadata":{"labels":{…}},"spec":{…}} or the bare
// spec {"source":…,"steps":[…],"output":{…},"callbackUrl":…}. Unknown fields are refused so that
// a typo ("widht") does not silently do something else.
// Errors: reason "MalformedJson" (400) when the text is not JSON; "InvalidSpec" (422) with a
// message that names the offending field, e.g. `steps[1].width: must be an integer 1..16384`;
// "TooManySteps" (422).
[[nodiscard]] absl::StatusOr<JobSpec> ParseJobSpec(std::string_view json,
                                                   const ValidationLimits& limits);
// The same, from an already parsed document (e.g. YAML converted to JSON).
[[nodiscard]] absl::StatusOr<JobSpec> JobSpecFromJson(const nlohmann::json& doc,
                                                      const ValidationLimits& limits);

// The canonical form of what determines a job's output bytes: the normalised steps (every
// default made explicit) and output. Two specs that must give the same bytes give the same text.
[[nodiscard]] std::string CanonicalJson(const JobSpec& spec);

// sha256(image id + "\n" + CanonicalJson(spec)): where the result is stored, shared by all jobs
// that ask for the same thing.
[[nodiscard]] std::string OutputKey(std::string_view image_id, const JobSpec& spec);

// Wire form.
[[nodiscard]] nlohmann::json ToJson(const JobSpec& spec);
[[nodiscard]] nlohmann::json ToJson(const JobRecord& record);
[[nodiscard]] nlohmann::json ToJson(const ImageMeta& meta);
// Reads the wire form back. Errors: "InvalidRecord".
[[nodiscard]] absl::StatusOr<JobRecord> RecordFromJson(std::string_view json);
[[nodiscard]] absl::StatusOr<ImageMeta> ImageMetaFromJson(std::string_view json);

// API form: the wire form without internal fields, with status.output.url set to
// `<base>/v1/jobs/<id>/output`.
[[nodiscard]] nlohmann::json ToApiJson(const JobRecord& record);
[[nodiscard]] nlohmann::json ToApiJson(const ImageMeta& meta);

}  // namespace pixq::job
