#pragma once

// Where an API replica's tables live: an LMDB environment (pkg/kv) in a directory of its own, so
// that memory does not grow with the records kept and a restarted replica resumes from what it
// stored instead of replaying the topics from their beginning (issue 16). The store is a cache of
// Kafka: anything it loses, or that does not match the topics any more, is wiped and read again.
//
// Tables (LMDB sub-databases), all changed in the table reader's one write transaction per batch:
//   jobs          job id → the record's wire JSON, as read from pixq.job-status
//   job_phase     phase byte + job id → ""                 (?phase= listings)
//   job_outputs   output key + NUL + job id → the output of that succeeded job (FindOutput);
//                 one row per job, so forgetting one job keeps the output others still name
//   job_idem      Idempotency-Key + NUL + job id → ""
//   job_batch     batch id + NUL + index (4 bytes, big-endian, offset by 2^31) → job id
//   job_image     image id + NUL + job id → ""             (?image= listings, DeleteImage): one
//                 row per image a job read (spec.source.imageId, and status.imageId when another)
//   images        image id → the metadata's wire JSON, as read from pixq.images
//   image_order   createdAt (8 bytes, big-endian, sign flipped) + image id → lower-case title
//   offsets       topic + NUL + partition (4 bytes) → next offset, last offset, hash of the last
//                 record (8 bytes each): what the reader applied, written with the records
//   meta          "format" → kFormat; a store written in another format is wiped
//
// Durability: MDB_NOMETASYNC (kv::Durability::kCommitted): each commit flushes its data pages but
// not the meta page, so a system crash can undo the last commits, never break the store; what it
// undoes is read again from Kafka, since the offsets roll back with the records. MDB_NOSYNC would
// save that flush but lets a system crash corrupt the file, which the offsets check cannot see. A
// private store (no directory configured) is removed at stop and flushes nothing.
//
// Thread-safety: Open and the destructor on one thread; the rest from any thread.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "pkg/kv/kv.h"

namespace pixq::state {

// "pixq-state 3" added job_image: a store (or snapshot) of format 2 lacks its rows, so it is wiped
// and read again from Kafka, which fills the index.
inline constexpr char kFormat[] = "pixq-state 3";

struct StoreOptions {
  // The store's directory, created if missing. Empty: a private directory under $TMPDIR (or
  // /tmp), pixq-state-*, removed when the Store is destroyed: the tables then behave as in-memory
  // ones did. A process killed before it could remove its own (SIGKILL, OOM) leaves it behind:
  // each private store holds an flock(2) on its owner.lock while open, and opening one removes
  // the pixq-state-* directories whose lock nobody holds (their owner is gone, whichever pid
  // namespace it ran in), and those without a lock file older than kStalePrivateAge.
  std::string dir;
  uint64_t max_bytes = uint64_t{64} << 30;  // LMDB's map: the most the store may hold
  int max_readers = 1024;                   // read transactions open at once
  // Where snapshots are (pkg/state/snapshot.h); empty: none. A store that holds no offsets at
  // open (new, or just wiped) starts from the snapshot there, if one is usable.
  std::string snapshot_dir;
};

inline constexpr int64_t kStalePrivateAgeSeconds = 600;

struct StoreTables {
  kv::Table jobs, job_phase, job_outputs, job_idem, job_batch, job_image;
  kv::Table images, image_order;
  kv::Table offsets, meta;
};

// One write transaction, and what is to run once it committed (waking watchers).
class WriteBatch final {
 public:
  explicit WriteBatch(std::unique_ptr<kv::Txn> txn) : txn_(std::move(txn)) {}
  [[nodiscard]] kv::Txn& txn() { return *txn_; }
  void AfterCommit(std::function<void()> fn) { after_commit_.push_back(std::move(fn)); }
  // Commits, then runs the AfterCommit functions in the order they were given.
  [[nodiscard]] absl::Status Commit();

 private:
  std::unique_ptr<kv::Txn> txn_;
  std::vector<std::function<void()>> after_commit_;
};

// Whether `status` is the store's failure (a write that did not happen: "StorageError", or
// "StateStoreFull"), as opposed to a record that could not be read.
[[nodiscard]] bool IsStoreFailure(const absl::Status& status);

class Store final {
 public:
  // Opens the store in options.dir. One that cannot be opened, or was written in another format,
  // is wiped and created afresh, with a log line saying why (wipe_reason()). Errors:
  // "StorageError" when the directory cannot be made or a fresh store cannot be opened either.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Store>> Open(const StoreOptions& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  [[nodiscard]] const std::string& dir() const { return dir_; }
  [[nodiscard]] bool is_private() const { return private_; }
  // Why the store found at start was wiped; empty when it was opened as it was (or is new).
  [[nodiscard]] const std::string& wipe_reason() const { return wipe_reason_; }
  // Whether the store started from a snapshot, and if not (with a snapshot_dir), why not.
  [[nodiscard]] bool restored() const { return restored_; }
  [[nodiscard]] const std::string& restore_note() const { return restore_note_; }

  [[nodiscard]] const StoreTables& tables() const { return tables_; }
  [[nodiscard]] kv::Env& env() { return *env_; }

  [[nodiscard]] absl::StatusOr<std::unique_ptr<kv::Txn>> Read() {
    return env_->Begin(kv::Env::Mode::kRead);
  }
  [[nodiscard]] absl::StatusOr<std::unique_ptr<WriteBatch>> Write();

  // Removes a private store's directory now (a process that ends by _exit skips destructors);
  // the open map stays valid until the process ends. Nothing for a configured directory.
  void DiscardPrivate();

  // Empties every table (records, indexes, offsets) in one transaction, keeping the format mark.
  [[nodiscard]] absl::Status Clear();

 private:
  Store() = default;
  [[nodiscard]] absl::Status OpenTables();
  // Replaces this empty store with a copy of the snapshot in `snapshot_dir` when it is usable
  // (defined in snapshot.cc, beside the writing).
  void RestoreSnapshot(const std::string& snapshot_dir, const kv::EnvOptions& env_options);

  std::string dir_;
  bool private_ = false;
  std::string wipe_reason_;
  bool restored_ = false;
  std::string restore_note_;
  int owner_lock_fd_ = -1;  // a private store's flock, held while it is open
  std::unique_ptr<kv::Env> env_;
  StoreTables tables_;
};

}  // namespace pixq::state
