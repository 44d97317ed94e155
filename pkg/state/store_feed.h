#pragma once

// What the table reader writes to: the records of pixq.job-status and pixq.images applied to the
// tables of one Store, with every partition's position, in one LMDB write transaction per batch
// (queue::TableSink). Readers of the tables see a batch only once it committed.
//
// Thread-safety: Stored, Reset and Apply are the table reader's (one thread).

#include <functional>
#include <string_view>
#include <vector>

#include "pkg/queue/message.h"
#include "pkg/queue/table_reader.h"
#include "pkg/state/store.h"
#include "pkg/state/tables.h"

namespace pixq::state {

// The topic of the one position Stored() answers when the offsets cannot be read: it names no
// partition, so the table reader resets the store rather than trusting it.
inline constexpr std::string_view kUnreadableOffsets = "(unreadable offsets)";

class StoreFeed final : public queue::TableSink {
 public:
  // `on_applied` runs after each committed batch (the tables' sizes for metrics), may be empty.
  StoreFeed(Store& store, JobTable& jobs, ImageTable& images, queue::Topics topics,
            std::function<void()> on_applied = {});

  // The stored positions; {kUnreadableOffsets} when they cannot be read (never "nothing").
  [[nodiscard]] std::vector<queue::StoredPosition> Stored() override;
  [[nodiscard]] absl::Status Reset(std::string_view why) override;
  // A record that is not a job record or image metadata is skipped with a log line; anything the
  // store fails at drops the whole batch (an error: "StorageError", or "StateStoreFull" when the
  // map or the disk is full).
  [[nodiscard]] absl::Status Apply(const std::vector<queue::Message>& records,
                                   const std::vector<queue::StoredPosition>& positions) override;

 private:
  Store& store_;
  JobTable& jobs_;
  ImageTable& images_;
  const queue::Topics topics_;
  std::function<void()> on_applied_;
};

}  // namespace pixq::state
