#pragma once

// Keeps the local broker's topics on disk (pkg/devlog) and restores them into a fresh mock
// cluster, so that stopping and starting pixq-devbroker loses neither the catalogue, nor the job
// records, nor the accepted jobs that no worker has run yet.
//
// Start() restores, then persists:
// 1. Restore: reads the data directory (a torn tail is cut off and logged with its size), keeps of
//    each partition what the new cluster needs, writes that as a new generation with offsets from
//    0, and produces it into the cluster, into the same partition and in order (idempotent
//    producer, acks=all); it returns only when every record is acknowledged and each partition's
//    end offset is what was produced. Compacted topics keep the latest record per key (keys whose
//    latest is a tombstone are dropped). The work topics consumed by the `groups` keep only the
//    records at or after their group's last stored committed offset: jobs already run are not run
//    again, and the group, which has no committed offset in the new cluster, starts from the
//    earliest record (auto.offset.reset=earliest), the first job not yet run.
// 2. Persist: a consumer inside this process reads every partition from the restored end and
//    appends each record to its log, fsync'd whenever the consumer has nothing more at hand (and
//    at least every `sync_every` records), compacting the compacted topics' logs as they grow.
//    A client per group reads its committed offsets (OffsetFetch, without joining the group)
//    every `offsets_interval`, and they are stored together.
//
// What a SIGKILL can lose (docs/reliability.md): records the cluster acknowledged that the
// persisting consumer had not yet fsync'd (it fetches every `fetch_wait`), and commits made after
// the last stored offsets, whose jobs then run again. A SIGTERM loses neither: the destructor
// drains the consumer, syncs, and stores the offsets once more.

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace pixq::queue {

struct PersistenceOptions {
  std::string data_dir;
  std::vector<std::string> topics;  // every topic kept, each created with `partitions`
  std::set<std::string> compacted;  // of those, the ones kept as the latest record per key
  int partitions = 1;
  // The groups whose committed offsets say which work is done, each with the topics it consumes
  // (no topic in two): the workers' group on the jobs, and its retry group (RetryGroupOf).
  struct WorkGroup {
    std::string id;
    std::vector<std::string> topics;
  };
  std::vector<WorkGroup> groups;
  absl::Duration offsets_interval = absl::Milliseconds(200);
  absl::Duration fetch_wait = absl::Milliseconds(10);
  int sync_every = 256;
  uint64_t compact_min_bytes = 1u << 20;
  // Called once, from a background thread, when a log can no longer be written.
  std::function<void()> on_failure;
};

// What a start found and restored.
struct RestoreReport {
  int64_t records_restored = 0;
  int64_t records_already_consumed = 0;  // work records before the group's committed offset
  int64_t records_compacted_away = 0;    // older versions of a key, and deleted keys
  uint64_t torn_bytes_dropped = 0;
  std::string generation;
};

class DevPersistence final {
 public:
  // Restores `options.data_dir` into the cluster at `bootstrap_servers` (whose topics exist and
  // are empty) and starts persisting it. Errors: kStorageError (the directory), kInvalidConfig (a
  // stored partition the cluster does not have), kKafkaClient (a record not acknowledged, an end
  // offset not as produced). Startup errors: the caller exits.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<DevPersistence>> Start(
      const std::string& bootstrap_servers, PersistenceOptions options);
  // Stops persisting after what the cluster holds now (drained, synced, offsets stored).
  ~DevPersistence();

  [[nodiscard]] const RestoreReport& restored() const;

  struct Impl;

 private:
  explicit DevPersistence(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pixq::queue
