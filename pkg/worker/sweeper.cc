#include "pkg/worker/sweeper.h"

#include <algorithm>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"

#include "pkg/errors/errors.h"
#include "pkg/job/ids.h"
#include "pkg/state/status_writer.h"

namespace pixq::worker {
namespace {

// When a record was last relevant: when its job finished, else when it was created. A record
// whose time cannot be read counts as relevant now: the sweep keeps what it cannot date.
absl::Time RecordTime(const job::JobRecord& record, absl::Time now) {
  const std::string& at =
      record.status.finished_at.empty() ? record.created_at : record.status.finished_at;
  const int64_t ms = job::Rfc3339ToUnixMillis(at);
  return ms > 0 ? absl::FromUnixMillis(ms) : now;
}

}  // namespace

absl::StatusOr<SweepReport> Sweep(const std::vector<job::JobRecord>& records,
                                  storage::VolumeStore& store, queue::Producer& producer,
                                  const RetentionOptions& options, absl::Time now) {
  SweepReport report;
  const bool expire_records = options.job_records > absl::ZeroDuration();
  const bool expire_outputs = options.outputs > absl::ZeroDuration();

  // Each output's last use by a job that is kept (a job being forgotten does not keep it).
  std::map<std::string, absl::Time> last_use;
  std::vector<const job::JobRecord*> expired;
  for (const job::JobRecord& record : records) {
    const absl::Time at = RecordTime(record, now);
    if (expire_records && at < now - options.job_records) {
      expired.push_back(&record);
      continue;
    }
    absl::Time& use = last_use.try_emplace(record.output_key, absl::InfinitePast()).first->second;
    use = std::max(use, at);
  }

  // Forget the records first: if that fails, no job the API still knows loses its output.
  state::StatusWriter statuses(producer, options.topics.job_status);
  for (const job::JobRecord* record : expired) {
    absl::Status sent = statuses.Forget(record->id, options.publish_timeout);
    if (!sent.ok()) {
      return errors::Make(
          errors::Reason::kStatusNotPublished,
          absl::StrCat("tombstone for ", record->id, " not acknowledged: ", sent.message()));
    }
    ++report.job_records_expired;
  }

  if (expire_outputs) {
    for (const storage::VolumeStore::StoredOutput& file : store.ListOutputs()) {
      absl::Time used = file.modified;
      if (auto it = last_use.find(file.key); it != last_use.end())
        used = std::max(used, it->second);
      if (used >= now - options.outputs) continue;
      if (store.Remove(file.relative_path).ok()) {
        ++report.outputs_removed;
        report.bytes_freed += file.bytes;
      }
    }
  }

  return report;
}

}  // namespace pixq::worker
