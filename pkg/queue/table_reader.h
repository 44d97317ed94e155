#pragma once

// Reads compacted topics into memory: every partition, from the beginning, without a consumer
// group (so every API replica sees every record). Each record is handed to `apply` in log order
// per partition, on the reader's own thread.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "pkg/queue/message.h"

namespace pixq::queue {

class TableReader final {
 public:
  using ApplyFn = std::function<void(const Message&)>;

  // Discovers the topics' partitions (they must exist) and starts reading in the background.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<TableReader>> Start(
      const ClientOptions& client, std::vector<std::string> topics, ApplyFn apply);
  ~TableReader();  // stops the thread

  // Blocks until every record that was in the topics when it was called has been applied.
  // Errors: "CatchUpTimeout" (kDeadlineExceeded) when the tables moved but not far enough,
  // "BrokerUnavailable" (kUnavailable) when the log ends could not be listed or the tables, behind
  // them, read nothing at all within `timeout`. Thread-safe.
  [[nodiscard]] absl::Status CatchUp(absl::Duration timeout);

  // Whether a CatchUp has succeeded at least once (the tables hold the log as of some moment).
  [[nodiscard]] bool CaughtUpOnce() const;

  struct Impl;

 private:
  explicit TableReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pixq::queue
