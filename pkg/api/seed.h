#pragma once

// The contracts of the services pixq replaces ("seeds"), so that their clients keep working
// unchanged. Pure translation between their requests and answers and pixq's jobs; the HTTP layer
// serves them at the root (POST /download, GET /check/{task_id}, POST /upload_file,
// GET /{image_id}/{variant}, GET /ping). Thread-safe.
//
// The Flask/Celery downloader: POST /download {"file_name": ..., "image_url": ...} answered
// {"task_id": ...}; GET /check/{task_id} answered as a Celery AsyncResult reads:
//   {"task_id": ..., "state": "PENDING"|"STARTED"|"SUCCESS"|"FAILURE", "status": <the same>,
//    "result": null | {"url": ..., "file_name": ..., ...} | "<reason>: <message>"}
// pixq runs such a task as a job with a URL source (downloaded by the worker behind the SSRF
// guard) and no steps. `file_name` is metadata only, kept as the job's label `fileName`; it never
// names a file. Its extension chooses the output format (jpg/jpeg, png, webp; anything else
// jpeg).

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

#include "pkg/job/json.h"
#include "pkg/job/spec.h"

namespace pixq::api {

// Label names on jobs made through the seed contracts.
inline constexpr char kSeedLabel[] = "seed";          // "download"
inline constexpr char kFileNameLabel[] = "fileName";  // the downloader's file_name
inline constexpr size_t kMaxFileNameLabel = 256;      // bytes, cut at a character boundary

// The job for a POST /download body. Errors: "MalformedJson" (400) when it is not JSON;
// "InvalidSpec" (422) naming the field (`image_url: is required`, `image_url: must be an http://
// or https:// URL`, `file_name: must be a string`).
[[nodiscard]] absl::StatusOr<job::JobSpec> DownloadSpec(std::string_view body,
                                                        const job::ValidationLimits& limits);

// The output format a downloader's file name asks for.
[[nodiscard]] job::Format FormatForFileName(std::string_view file_name);

// Celery's name for a phase: PENDING, STARTED, SUCCESS, FAILURE.
[[nodiscard]] const char* CeleryState(job::Phase phase);

// GET /check/{task_id}'s answer for the job (see above). The output's URL is the API's
// `/v1/jobs/{id}/output`.
[[nodiscard]] nlohmann::json CeleryTaskJson(const job::JobRecord& record);

}  // namespace pixq::api
