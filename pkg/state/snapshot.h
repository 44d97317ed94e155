#pragma once

// Snapshots of a Store on the shared volume, so that a new API replica is ready in seconds: it
// starts from a recent copy of the tables with their offsets and reads from Kafka only the records
// after them (issue 16).
//
// One snapshot per directory: <dir>/state.mdb, a compact copy of a store (kv::Env::CopyCompact),
// written under a temporary name in the same directory, flushed, and renamed over the old one, so
// a reader opens the old snapshot or the new one and never half of one; any replica may write it,
// and two writing at once leave one whole snapshot. The records and the offsets are copied in one
// read transaction, and they are always written in one (the table reader's batches), so a snapshot
// is a store as of one batch: its offsets say exactly which records it holds.
//
// Restoring is Store::Open's (StoreOptions::snapshot_dir): a store with no offsets starts from the
// snapshot when there is one that opens, is in this format and has readable offsets; otherwise it
// stays empty and the tables are read from the topics' beginning, with a log line saying why.
//
// Thread-safety: Snapshotter's methods from any thread; WriteSnapshot beside the store's readers
// and writer.

#include <functional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "pkg/clock/clock.h"
#include "pkg/state/store.h"

namespace pixq::state {

inline constexpr char kSnapshotFile[] = "state.mdb";

// Writes a snapshot of `store` to `dir`/state.mdb (creating `dir`), replacing the one there.
// Errors: "StorageError", "StateStoreFull" (the volume is full); the old snapshot then stays.
[[nodiscard]] absl::Status WriteSnapshot(Store& store, const std::string& dir);

// Writes a snapshot every `interval`, once `ready` says the tables caught up (a store being
// rebuilt from the beginning would replace a good snapshot with a partial one). A snapshot younger
// than half the interval (another replica's) is left as it is: with many replicas, about one
// writes per interval.
class Snapshotter final {
 public:
  Snapshotter(Store& store, std::string dir, absl::Duration interval, std::function<bool()> ready,
              clock::Clock& clock);
  ~Snapshotter();  // stops the background writes, waiting for one under way
  Snapshotter(const Snapshotter&) = delete;
  Snapshotter& operator=(const Snapshotter&) = delete;

  // Starts writing every `interval` on a background thread.
  void Start();
  // One turn now, on the calling thread: writes unless not ready or a fresh snapshot is there.
  // Returns whether it wrote; errors are WriteSnapshot's (also logged).
  [[nodiscard]] absl::StatusOr<bool> WriteIfDue();

 private:
  Store& store_;
  const std::string dir_;
  const absl::Duration interval_;
  std::function<bool()> ready_;
  clock::Clock& clock_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace pixq::state
