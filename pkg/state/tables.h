#pragma once

// The in-memory tables an API replica answers reads from: the latest record per key of the
// compacted topics pixq.job-status and pixq.images (the table pattern of Kafka Streams). Kafka is
// the source of truth; these are rebuilt from it at every start.
//
// Thread-safety: Apply is called by one thread (the table reader); Get, Watch and Unwatch from any
// thread. Watchers run on the applying thread and must not block. Get, the read every status
// request makes, takes no lock (RcuMap); the rest share a reader-writer lock with Apply.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

#include "pkg/job/spec.h"
#include "pkg/state/rcu_map.h"

namespace pixq::state {

class JobTable final {
 public:
  using Watcher = std::function<void(const job::JobRecord&)>;

  // Applies one record of pixq.job-status: a wire-form JSON value, or a tombstone (nullopt) that
  // forgets the job. Errors: "InvalidRecord" for a value that is not a job record (skipped).
  [[nodiscard]] absl::Status Apply(const std::string& id, const std::optional<std::string>& value);

  // The job's record, read without a lock: it never waits for Apply, nor for other readers.
  [[nodiscard]] std::optional<job::JobRecord> Get(const std::string& id) const;

  // The output of a succeeded job with this output key, if any job produced it. Outputs are shared
  // by every job asking for the same thing; whether the file still exists is the caller's check.
  [[nodiscard]] std::optional<job::OutputInfo> FindOutput(const std::string& output_key) const;

  // The job created by a request with this (scoped) Idempotency-Key, if any.
  [[nodiscard]] std::optional<job::JobRecord> FindByIdempotencyKey(const std::string& key) const;

  // The jobs of a batch, in the order of the batch's request (by batch index).
  [[nodiscard]] std::vector<job::JobRecord> Batch(const std::string& batch_id) const;

  // Calls `watcher` once, the next time a record for `id` is applied. Returns a token for Unwatch.
  uint64_t Watch(const std::string& id, Watcher watcher);
  // Removes a watcher that has not fired; false when it already fired (or never existed).
  bool Unwatch(uint64_t token);

  [[nodiscard]] size_t size() const;

  // Every record, copied (for the expiry sweep, which reads them all once).
  [[nodiscard]] std::vector<job::JobRecord> Snapshot() const;

  struct Page {
    std::vector<job::JobRecord> items;
    bool more = false;  // records `match` accepts follow the last item
  };
  // Up to `limit` records that `match` accepts, in job id order (ids are ULIDs: creation time,
  // then random), after the job id `after` (empty: from the first). `match` runs under the
  // table's read lock: it must be quick and must not call the table.
  [[nodiscard]] Page List(const std::string& after, size_t limit,
                          const std::function<bool(const job::JobRecord&)>& match) const;

 private:
  // Drops `record` from the indexes (it is being replaced or forgotten). With mu_ held.
  void Unindex(const job::JobRecord& record);

  mutable std::shared_mutex mu_;
  // Every record, in id order (for List and Snapshot), each shared with by_id_.
  std::map<std::string, std::shared_ptr<const job::JobRecord>, std::less<>> records_;
  // The same records by id, for Get; changed only with mu_ held, so that a Watch (which takes
  // mu_) followed by a Get sees every change applied before the watch.
  RcuMap<job::JobRecord> by_id_;
  std::map<std::string, job::OutputInfo, std::less<>> outputs_;  // by output key
  // key -> the jobs made by requests with it (one job, or every job of a batch)
  std::map<std::string, std::set<std::string>, std::less<>> by_idempotency_key_;
  // batch id -> batch index -> job id
  std::map<std::string, std::map<int, std::string>, std::less<>> batches_;
  std::multimap<std::string, std::pair<uint64_t, Watcher>> watchers_;
  std::map<uint64_t, std::string> watcher_ids_;
  uint64_t next_token_ = 1;
};

class ImageTable final {
 public:
  // Applies one record of pixq.images (wire-form JSON, or a tombstone).
  [[nodiscard]] absl::Status Apply(const std::string& id, const std::optional<std::string>& value);

  // The image's metadata, read without a lock.
  [[nodiscard]] std::optional<job::ImageMeta> Get(const std::string& id) const;

  [[nodiscard]] size_t size() const;

  // Where an image stands in the catalogue's order: its createdAt (Unix milliseconds; -1 when
  // unreadable, first), then its id.
  using Position = std::pair<int64_t, std::string>;
  [[nodiscard]] static Position PositionOf(const job::ImageMeta& meta);

  struct Page {
    std::vector<job::ImageMeta> items;
    bool more = false;  // images `match` accepts follow the last item
  };
  // Up to `limit` images that `match` accepts, oldest first (createdAt, then id), after
  // `after` (nullopt: from the first). `match` runs under the table's read lock: it must be
  // quick and must not call the table.
  [[nodiscard]] Page List(const std::optional<Position>& after, size_t limit,
                          const std::function<bool(const job::ImageMeta&)>& match) const;

 private:
  mutable std::shared_mutex mu_;
  std::map<std::string, std::shared_ptr<const job::ImageMeta>, std::less<>> images_;
  std::set<Position> order_;      // every image's position, for listing
  RcuMap<job::ImageMeta> by_id_;  // the same images, for Get; changed only with mu_ held
};

}  // namespace pixq::state
