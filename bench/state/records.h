#pragma once

// The job records the state benchmarks fill their stores with: mostly finished jobs, a few in
// flight, as in a week of retention.

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"

#include "pkg/job/spec.h"

namespace pixq::bench {

inline std::string JobId(int64_t i) {
  return absl::StrCat("j_01HV", std::string(10, '0'), 1000000000 + i);
}

inline job::JobRecord Job(int64_t i) {
  job::JobRecord r;
  r.id = JobId(i);
  r.created_at = "2026-11-22T10:00:00.000Z";
  r.spec.source.image_id = std::string(64, 'a' + static_cast<char>(i % 6));
  r.spec.steps.push_back(job::Resize{.width = 800});
  r.output_key = absl::StrCat(std::string(48, 'b'), 1000000000000000 + i);
  // Most records are finished; a few in flight, as in a week of retention.
  const int64_t m = i % 1000;
  r.status.phase = m == 0   ? job::Phase::kPending
                   : m == 1 ? job::Phase::kRunning
                   : m < 5  ? job::Phase::kFailed
                            : job::Phase::kSucceeded;
  r.status.attempts = 1;
  if (r.status.phase == job::Phase::kSucceeded) {
    r.status.output = job::OutputInfo{.path = "outputs/bb/" + r.output_key + ".webp",
                                      .format = job::Format::kWebp,
                                      .width = 800,
                                      .height = 533,
                                      .bytes = 41233};
    r.status.started_at = "2026-11-22T10:00:01.000Z";
    r.status.finished_at = "2026-11-22T10:00:01.120Z";
  }
  return r;
}

}  // namespace pixq::bench
