#pragma once

// The local broker's data directory: one generation of partition logs and the consumer group's
// committed offsets, switched as a whole.
//
//   <root>/CURRENT                      the name of the current generation ("gen-000003")
//   <root>/gen-000003/<topic>~<partition>.log
//   <root>/gen-000003/group-offsets     "<topic> <partition> <offset>" lines, in this
//                                       generation's offsets
//
// A restart of the local broker renumbers every partition from 0 (a fresh mock cluster), so what
// it restores is written as a new generation, made current by an atomic rewrite of CURRENT (as
// LevelDB's SetCurrentFile), and only then is the old one removed: a crash at any point leaves
// either the old generation with its offsets or the new one, whole.
//
// Not thread-safe; one process owns the directory.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "pkg/devlog/record.h"

namespace pixq::devlog {

struct PartitionId {
  std::string topic;
  int32_t partition = 0;
  auto operator<=>(const PartitionId&) const = default;
};

// A partition's records as read from disk, with the torn tail that was cut off.
struct StoredPartition {
  std::vector<Record> records;
  uint64_t dropped_bytes = 0;
};

class DataDir final {
 public:
  // Creates `root` if needed and reads CURRENT. Errors: kStorageError.
  [[nodiscard]] static absl::StatusOr<DataDir> Open(std::string root);

  // Every partition of the current generation (none before the first), torn tails truncated.
  [[nodiscard]] absl::StatusOr<std::map<PartitionId, StoredPartition>> Load() const;
  // The committed offsets stored in the current generation (none stored: empty).
  [[nodiscard]] absl::StatusOr<std::map<PartitionId, int64_t>> ReadOffsets() const;
  // Replaces the stored committed offsets atomically.
  [[nodiscard]] absl::Status WriteOffsets(const std::map<PartitionId, int64_t>& offsets) const;

  // Writes `partitions` as a new generation without offsets, makes it current and removes the
  // older ones. Errors: kStorageError (the old generation then stays current).
  [[nodiscard]] absl::Status StartGeneration(
      const std::map<PartitionId, std::vector<Record>>& partitions);

  // Where a partition's log lives in the current generation (StartGeneration first).
  [[nodiscard]] std::string LogPath(const PartitionId& id) const;
  [[nodiscard]] const std::string& generation() const { return generation_; }

 private:
  DataDir(std::string root, std::string generation)
      : root_(std::move(root)), generation_(std::move(generation)) {}
  std::string root_;
  std::string generation_;  // "" before the first
};

}  // namespace pixq::devlog
