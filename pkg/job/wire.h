#pragma once

// The JSON forms of the job model. Two exist for a JobRecord: the wire form (ToJson /
// RecordFromJson), which is what pixq writes to Kafka and reads back, and the API form
// (ToApiJson), which hides internal fields (output path, output key, idempotency key) and adds
// the output's URL. Both are Kubernetes-style resources:
// {"apiVersion":"pixq/v1","kind":"ImageJob","metadata":{...},"spec":{...},"status":{...}}.
//
// Every default is written out (a resize's fit, a JPEG's quality), so a record reads the same
// whatever the defaults of the day. Records on the compacted topics outlive any one version of
// pixq: a field added here must be optional when read back.

#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

#include "pkg/job/spec.h"

namespace pixq::job {

// Wire form. A step is {"op":…, every field of that op}; an output is {"format":…,"quality":…
// (not for PNG),"maxBytes":… (when set)}. Both feed CanonicalJson (output_key.h): changing what
// they write changes every output key.
[[nodiscard]] nlohmann::json ToJson(const Step& step);
[[nodiscard]] nlohmann::json ToJson(const OutputSpec& output);
[[nodiscard]] nlohmann::json ToJson(const JobSpec& spec);
[[nodiscard]] nlohmann::json ToJson(const JobRecord& record);
[[nodiscard]] nlohmann::json ToJson(const ImageMeta& meta);

// Reads the wire form back, leniently: pixq wrote it, so a missing field takes its default. The
// spec is validated again, but without the limits of the day, so that lowering a limit does not
// make old records unreadable. Errors: "InvalidRecord".
[[nodiscard]] absl::StatusOr<JobRecord> RecordFromJson(std::string_view json);
[[nodiscard]] absl::StatusOr<ImageMeta> ImageMetaFromJson(std::string_view json);

// API form: the wire form without internal fields, with status.output.url set to
// `/v1/jobs/<id>/output` (a record) and contentUrl to `/v1/images/<id>/content` (an image), and
// for a GIF `firstFrameOnly: true` (pixq uses its first frame alone).
[[nodiscard]] nlohmann::json ToApiJson(const JobRecord& record);
[[nodiscard]] nlohmann::json ToApiJson(const ImageMeta& meta);

}  // namespace pixq::job
