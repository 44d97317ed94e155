#pragma once

// Reads compacted topics into a table store: every partition, without a consumer group (so every
// API replica sees every record), in log order per partition, on the reader's own thread.
//
// Batches: records are handed to the sink in batches (at most max_batch_records, or what arrived
// within max_batch_time of the batch's first record), each with the position every partition
// reached, for the sink to store in the same transaction. A record counts as applied (CatchUp)
// once its batch returned.
//
// Resuming: at start the sink says where each partition stood (Stored()). The reader reads back
// the last record it applied in each partition; when one is not there (offset outside the log,
// or another record at that offset: a topic recreated, or the local broker's restore, which
// renumbers), the sink is Reset and every partition is read from its beginning. Otherwise each
// partition resumes at its stored next offset.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "pkg/queue/message.h"

namespace pixq::queue {

// Where a partition's records were applied up to.
struct StoredPosition {
  std::string topic;
  int32_t partition = 0;
  int64_t next_offset = 0;   // the next offset to read
  int64_t last_offset = -1;  // the last record applied (-1: none yet)
  uint64_t last_hash = 0;    // RecordHash of that record
};

// A stable 64-bit hash (FNV-1a) of a record's key, value and whether it is a tombstone: tells
// whether the record at an offset is still the one that was applied.
[[nodiscard]] uint64_t RecordHash(const Message& m);

// Where the records go: an I/O seam (state::StoreFeed writes them to LMDB).
class TableSink {
 public:
  virtual ~TableSink() = default;
  // The positions stored with the records (empty: nothing stored).
  [[nodiscard]] virtual std::vector<StoredPosition> Stored() = 0;
  // Forgets every record and position: the store does not describe the topics (`why`, logged).
  [[nodiscard]] virtual absl::Status Reset(std::string_view why) = 0;
  // Applies `records` (log order per partition) and stores `positions` (the partitions that
  // moved) in one transaction. A record that cannot be read is skipped by the sink; an error means
  // nothing of the batch was stored.
  [[nodiscard]] virtual absl::Status Apply(const std::vector<Message>& records,
                                           const std::vector<StoredPosition>& positions) = 0;
};

struct TableReaderOptions {
  size_t max_batch_records = 1000;
  absl::Duration max_batch_time = absl::Milliseconds(20);
  // How long the start may take to read back the last applied records before it gives up on
  // them and reads everything again.
  absl::Duration verify_timeout = absl::Seconds(10);
};

class TableReader final {
 public:
  using ApplyFn = std::function<void(const Message&)>;

  // Discovers the topics' partitions (they must exist), checks the positions the sink stored
  // against the topics (resetting the sink when they do not match) and starts reading in the
  // background. `sink` must outlive the reader.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<TableReader>> Start(
      const ClientOptions& client, std::vector<std::string> topics, TableSink& sink,
      TableReaderOptions options = {});
  // Every record from the beginning, handed to `apply` one at a time (nothing stored).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<TableReader>> Start(
      const ClientOptions& client, std::vector<std::string> topics, ApplyFn apply);
  ~TableReader();  // stops the thread

  // Blocks until every record that was in the topics when it was called has been applied.
  // Errors: "CatchUpTimeout" (kDeadlineExceeded) when the tables moved but not far enough,
  // "BrokerUnavailable" (kUnavailable) when the log ends could not be listed or the tables, behind
  // them, read nothing at all within `timeout`; the sink's own error (e.g. "StateStoreFull") when,
  // behind, its last batch failed and is being retried. Thread-safe.
  [[nodiscard]] absl::Status CatchUp(absl::Duration timeout);

  // Whether a CatchUp has succeeded at least once (the tables hold the log as of some moment).
  [[nodiscard]] bool CaughtUpOnce() const;

  // Records read from Kafka since start (a resumed reader reads only those after its offsets),
  // and whether the stored positions were found not to match the topics at start.
  [[nodiscard]] int64_t RecordsRead() const;
  [[nodiscard]] bool Rebuilt() const;

  struct Impl;

 private:
  explicit TableReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pixq::queue
