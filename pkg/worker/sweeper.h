#pragma once

// Expiry (`pixq-worker sweep`): forgets job records and removes output files older than the
// configured retention. A job record is forgotten by a tombstone on pixq.job-status, so every API
// replica drops it and Kafka's compaction removes it; an output file is removed when it was
// neither written nor named by a kept job within the output retention. Originals stay: they are
// the catalogue. Safe to run at any time and more than once.

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "pkg/job/spec.h"
#include "pkg/queue/message.h"
#include "pkg/queue/producer.h"
#include "pkg/storage/volume.h"

namespace pixq::worker {

struct RetentionOptions {
  absl::Duration job_records = absl::ZeroDuration();  // zero: kept forever
  absl::Duration outputs = absl::ZeroDuration();      // zero: kept forever
  queue::Topics topics = queue::Topics::WithPrefix("pixq.");
  absl::Duration publish_timeout = absl::Seconds(10);
};

struct SweepReport {
  int job_records_expired = 0;
  int outputs_removed = 0;
  int64_t bytes_freed = 0;
};

// Sweeps once, as of `now` (the caller's clock: main reads clock::RealClock()), over `records` (all
// of pixq.job-status), forgetting records through state::StatusWriter. Errors: the first tombstone
// Kafka did not acknowledge ("StatusNotPublished"); files removed until then stay removed.
[[nodiscard]] absl::StatusOr<SweepReport> Sweep(const std::vector<job::JobRecord>& records,
                                                storage::VolumeStore& store,
                                                queue::Producer& producer,
                                                const RetentionOptions& options, absl::Time now);

}  // namespace pixq::worker
