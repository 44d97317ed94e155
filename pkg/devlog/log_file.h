#pragma once

// One topic-partition's log on disk: frames (pkg/devlog/record.h) appended in offset order.
//
// Opening reads every whole, intact frame and truncates the file after the last one, so a write
// torn by a crash (or a damaged tail) is dropped and reported, never read as a record. Appends
// are plain writes; Sync() makes them durable (fdatasync), so a caller groups several appends
// under one sync. A compacted log also tracks its live bytes (the latest record of each key that
// is not a tombstone) and, once the file has grown to `compact_ratio` times that, is rewritten
// with only those records through a temporary file and a rename: its size stays bounded by the
// number of live keys, not by the updates.
//
// Not thread-safe: one owner appends, syncs and compacts.

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "pkg/devlog/record.h"

namespace pixq::devlog {

struct LogOptions {
  bool compacted = false;
  // Compaction waits until the file holds this many bytes and `compact_ratio` x its live bytes.
  uint64_t compact_min_bytes = 1u << 20;
  double compact_ratio = 2.0;
};

class LogFile final {
 public:
  // Opens `path`, creating it when absent. Errors: kStorageError (the file cannot be read,
  // truncated or created).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<LogFile>> Open(std::string path,
                                                                     LogOptions options);
  ~LogFile();
  LogFile(const LogFile&) = delete;
  LogFile& operator=(const LogFile&) = delete;

  // The records read at Open, handed over once (later calls return nothing).
  [[nodiscard]] std::vector<Record> TakeRecordsReadAtOpen();
  // Bytes of torn or damaged tail that Open truncated.
  [[nodiscard]] uint64_t dropped_bytes() const { return dropped_bytes_; }

  // Appends one record (not yet durable). Errors: kStorageError.
  [[nodiscard]] absl::Status Append(const Record& record);
  // Makes every append so far durable; a no-op when there is none. Errors: kStorageError.
  [[nodiscard]] absl::Status Sync();

  // Compacted logs only: whether the file has outgrown its live records (see LogOptions).
  [[nodiscard]] bool NeedsCompaction() const;
  // Rewrites the file with LatestPerKey of its records (synced first; offsets are kept, so they
  // have gaps, as in a compacted Kafka topic). Errors: kStorageError; the old file then stays.
  [[nodiscard]] absl::Status Compact();

  [[nodiscard]] uint64_t size_bytes() const { return size_bytes_; }
  [[nodiscard]] uint64_t live_bytes() const { return live_bytes_; }
  // The offset after the last record, or 0 for an empty log.
  [[nodiscard]] int64_t next_offset() const { return next_offset_; }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  LogFile(std::string path, LogOptions options) : path_(std::move(path)), options_(options) {}
  absl::Status OpenForAppend();
  void Track(const Record& record, uint64_t frame_bytes);

  std::string path_;
  LogOptions options_;
  int fd_ = -1;
  bool dirty_ = false;
  uint64_t size_bytes_ = 0;
  uint64_t dropped_bytes_ = 0;
  uint64_t live_bytes_ = 0;
  int64_t next_offset_ = 0;
  std::vector<Record> read_at_open_;
  // Compacted logs: the frame size of each key's latest record (0 for a tombstone).
  std::unordered_map<std::string, uint64_t> latest_bytes_;
};

// Writes `records` as the whole content of `path`: a temporary file, fsync, rename, and fsync of
// the directory, so a reader sees the old file or the new one, never a mix. Errors: kStorageError.
[[nodiscard]] absl::Status WriteLogAtomically(const std::string& path,
                                              const std::vector<Record>& records);

}  // namespace pixq::devlog
