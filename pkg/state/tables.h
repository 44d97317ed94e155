#pragma once

// The tables an API replica answers reads from: the latest record per key of the compacted topics
// pixq.job-status and pixq.images (the table pattern of Kafka Streams), with the indexes listing
// needs, in a Store (store.h: LMDB on the replica's disk). Kafka is the source of truth; the store
// is its cache, resumed at start from the offsets stored with the records.
//
// A table made without a Store opens a private one, removed when the table is destroyed: it
// behaves as the in-memory tables did (tests, the worker's expiry sweep).
//
// Visibility: a record applied in a WriteBatch is seen by Get, List, the Find* reads and watchers
// only once the batch committed. Apply(id, value) is a batch of one.
//
// Thread-safety: Apply is called by one thread (the table reader); every read, Watch and Unwatch
// from any thread. Watchers run on the applying thread, after the commit, and must not block.
// Reads take no lock: each is one LMDB read transaction, which never waits for the writer.

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/status.h"

#include "pkg/job/spec.h"
#include "pkg/state/store.h"

namespace pixq::state {

// The order of a listing: by key, or by key backwards (newest first, for time-ordered ids).
enum class Order { kAscending, kDescending };

class JobTable final {
 public:
  using Watcher = std::function<void(const job::JobRecord&)>;

  JobTable();  // over a private store
  explicit JobTable(Store& store);
  ~JobTable();
  JobTable(const JobTable&) = delete;
  JobTable& operator=(const JobTable&) = delete;

  // Applies one record of pixq.job-status: a wire-form JSON value, or a tombstone (nullopt) that
  // forgets the job. Errors: "InvalidRecord" for a value that is not a job record (skipped, the
  // batch unchanged); "StorageError" when the store failed (the batch must be dropped).
  [[nodiscard]] absl::Status Apply(WriteBatch& batch, const std::string& id,
                                   const std::optional<std::string>& value);
  // The same in a batch of its own, committed before it returns.
  [[nodiscard]] absl::Status Apply(const std::string& id, const std::optional<std::string>& value);

  // The job's record: it never waits for Apply. Answered from a bounded cache of parsed records
  // (the ones applied or read last) when it holds the job, else read and parsed from the store.
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

  // Empties the cache of parsed records: the store was cleared under the table (StoreFeed::Reset).
  void ForgetCache();

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
  // The same for the jobs in one of `phases` (empty: every phase), read from the phase index:
  // the records of other phases are never read.
  [[nodiscard]] Page ListInPhases(const std::string& after, size_t limit,
                                  const std::vector<job::Phase>& phases) const;

  // What ListJobs lists, and in which order.
  struct Listing {
    std::vector<job::Phase> phases;  // empty: every phase
    // Non-empty: only the jobs that read this image (spec.source.imageId, or status.imageId for
    // a URL source), from the image index: the jobs of other images are never read.
    std::string image_id;
    Order order = Order::kAscending;
  };
  // Up to `limit` jobs of `listing`, in job id order (kDescending: newest first), after the job
  // id `after` in that order (empty: from the first, or the newest). With both an image and
  // phases, the image's jobs are checked against the phase index, not parsed.
  [[nodiscard]] Page ListJobs(const std::string& after, size_t limit, const Listing& listing) const;

 private:
  // Wakes the watchers of `id` with `record` (empty id: deleted). After the commit.
  void Notify(const std::string& id, const job::JobRecord& record);

  std::unique_ptr<Store> own_;  // the private store, when none was given
  Store& store_;

  // Parsed records, so that a Get of a job read or applied lately does not parse its JSON again
  // (about 23 µs; bench/state). Bounded: kCacheRecords in all, the shard's oldest entry evicted
  // when it is full (first in, first out: recent jobs are the ones clients poll). A batch drops
  // its records from here and raises committed_txn_ to its own transaction as it writes them,
  // then puts them back after its commit; a Get fills an entry only when its read transaction saw
  // that latest commit, checked under the shard's lock. So a Get racing a commit never leaves the
  // older record behind, and never answers an older record than the indexes (List) show.
  static constexpr size_t kCacheShards = 16;
  static constexpr size_t kCacheRecords = 16384;  // about 23 MB at 1.4 KB a parsed record
  struct CacheShard {
    std::mutex mu;
    std::unordered_map<std::string, std::shared_ptr<const job::JobRecord>> records;
    std::deque<std::string> order;  // ids in the order they were cached (some since erased)
  };
  CacheShard& ShardOf(const std::string& id) const;
  void Cache(CacheShard& shard, const std::string& id,
             std::shared_ptr<const job::JobRecord> r) const;
  mutable std::array<CacheShard, kCacheShards> cache_;
  std::atomic<uint64_t> committed_txn_{0};
  // Watchers: in memory, taken under mu_. A watch placed before a commit is woken by it; one
  // placed after sees its records with Get.
  mutable std::mutex mu_;
  std::multimap<std::string, std::pair<uint64_t, Watcher>> watchers_;
  std::map<uint64_t, std::string> watcher_ids_;
  uint64_t next_token_ = 1;
};

class ImageTable final {
 public:
  ImageTable();  // over a private store
  explicit ImageTable(Store& store);
  ~ImageTable();
  ImageTable(const ImageTable&) = delete;
  ImageTable& operator=(const ImageTable&) = delete;

  // Applies one record of pixq.images (wire-form JSON, or a tombstone). Errors as JobTable's.
  [[nodiscard]] absl::Status Apply(WriteBatch& batch, const std::string& id,
                                   const std::optional<std::string>& value);
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
  // The same for the images whose title, lower-cased (ASCII), contains `lower_title` (empty:
  // every image). The order index carries the lower-cased titles, so an image is parsed only
  // when it matches.
  [[nodiscard]] Page ListByTitle(const std::optional<Position>& after, size_t limit,
                                 const std::string& lower_title) const;

 private:
  Page Scan(const std::optional<Position>& after, size_t limit,
            const std::function<bool(std::string_view lower_title)>& prefilter,
            const std::function<bool(const job::ImageMeta&)>& match) const;

  std::unique_ptr<Store> own_;
  Store& store_;
};

}  // namespace pixq::state
