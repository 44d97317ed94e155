#include "pkg/devlog/log_file.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include <fcntl.h>
#include <unistd.h>

#include "pkg/devlog/fs.h"
#include "pkg/errors/errors.h"

namespace pixq::devlog {

absl::StatusOr<std::unique_ptr<LogFile>> LogFile::Open(std::string path, LogOptions options) {
  std::unique_ptr<LogFile> log(new LogFile(std::move(path), options));
  auto bytes = ReadWholeFile(log->path_);
  if (!bytes.ok()) return bytes.status();
  Decoded decoded = DecodeFrames(*bytes);
  log->dropped_bytes_ = bytes->size() - decoded.valid_bytes;
  if (log->dropped_bytes_ > 0) {
    // A crash mid-append leaves part of a frame: cut it off so the next append starts clean.
    if (::truncate(log->path_.c_str(), static_cast<off_t>(decoded.valid_bytes)) != 0) {
      return errors::Make(errors::Reason::kStorageError,
                          absl::StrCat("truncate ", log->path_, ": ", std::strerror(errno)));
    }
  }
  log->size_bytes_ = decoded.valid_bytes;
  for (const Record& r : decoded.records) log->Track(r, EncodeFrame(r).size());
  log->read_at_open_ = std::move(decoded.records);
  if (absl::Status s = log->OpenForAppend(); !s.ok()) return s;
  if (log->dropped_bytes_ > 0) {
    if (absl::Status s = SyncFd(log->fd_, log->path_); !s.ok()) return s;
  }
  return log;
}

LogFile::~LogFile() {
  if (fd_ >= 0) ::close(fd_);
}

absl::Status LogFile::OpenForAppend() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    return errors::Make(errors::Reason::kStorageError,
                        absl::StrCat("open ", path_, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

void LogFile::Track(const Record& record, uint64_t frame_bytes) {
  next_offset_ = record.offset + 1;
  if (!options_.compacted) {
    live_bytes_ += frame_bytes;
    return;
  }
  uint64_t& latest = latest_bytes_[record.key];
  live_bytes_ -= latest;
  latest = record.value ? frame_bytes : 0;
  live_bytes_ += latest;
}

std::vector<Record> LogFile::TakeRecordsReadAtOpen() { return std::move(read_at_open_); }

absl::Status LogFile::Append(const Record& record) {
  const std::string frame = EncodeFrame(record);
  if (absl::Status s = WriteAll(fd_, frame, path_); !s.ok()) return s;
  dirty_ = true;
  size_bytes_ += frame.size();
  Track(record, frame.size());
  return absl::OkStatus();
}

absl::Status LogFile::Sync() {
  if (!dirty_) return absl::OkStatus();
  if (absl::Status s = SyncFd(fd_, path_); !s.ok()) return s;
  dirty_ = false;
  return absl::OkStatus();
}

bool LogFile::NeedsCompaction() const {
  return options_.compacted && size_bytes_ >= options_.compact_min_bytes &&
         static_cast<double>(size_bytes_) >=
             options_.compact_ratio * static_cast<double>(live_bytes_);
}

absl::Status LogFile::Compact() {
  if (absl::Status s = Sync(); !s.ok()) return s;
  auto bytes = ReadWholeFile(path_);
  if (!bytes.ok()) return bytes.status();
  const std::vector<Record> kept = LatestPerKey(DecodeFrames(*bytes).records);
  if (absl::Status s = WriteLogAtomically(path_, kept); !s.ok()) return s;
  const int64_t next = next_offset_;  // the next record keeps counting from the last one
  size_bytes_ = 0;
  live_bytes_ = 0;
  latest_bytes_.clear();
  for (const Record& r : kept) {
    const uint64_t n = EncodeFrame(r).size();
    size_bytes_ += n;
    Track(r, n);
  }
  next_offset_ = next;
  return OpenForAppend();
}

absl::Status WriteLogAtomically(const std::string& path, const std::vector<Record>& records) {
  std::string bytes;
  for (const Record& r : records) bytes += EncodeFrame(r);
  return WriteFileAtomically(path, bytes);
}

}  // namespace pixq::devlog
