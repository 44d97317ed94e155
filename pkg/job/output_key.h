#pragma once

// Where a job's result is stored. Jobs that ask for the same bytes share one output, found by its
// key: the same image with the same steps and output is processed once. Outputs on disk and the
// records on pixq.job-status are found by these keys, so what goes into them must never change;
// tests/job/output_key_test.cc pins known keys.

#include <string>
#include <string_view>

#include "pkg/job/spec.h"

namespace pixq::job {

// The canonical form of what determines a job's output bytes: the normalised steps (every
// default made explicit) and output, as compact JSON with sorted keys. Two specs that must give
// the same bytes give the same text; labels, the callback and the source are not part of it.
[[nodiscard]] std::string CanonicalJson(const JobSpec& spec);

// sha256(image id + "\n" + CanonicalJson(spec)) in lowercase hex.
[[nodiscard]] std::string OutputKey(std::string_view image_id, const JobSpec& spec);

}  // namespace pixq::job
