#include "pkg/state/snapshot.h"

#include <chrono>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include <fcntl.h>
#include <unistd.h>

#include "pkg/errors/errors.h"
#include "pkg/observability/log.h"

namespace pixq::state {
namespace {

namespace fs = std::filesystem;

absl::Status StorageError(std::string_view what) {
  return errors::Make(errors::Reason::kStorageError, std::string(what));
}

// The rename is durable only once the directory that holds it is flushed.
void SyncDir(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)fsync(fd);
  close(fd);
}

// Copies a replica was writing when it was killed: no write takes an hour.
void RemoveAbandonedCopies(const std::string& dir) {
  std::error_code ec;
  const auto now = fs::file_time_type::clock::now();
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    if (!entry.path().filename().string().starts_with(".writing-")) continue;
    const fs::file_time_type at = fs::last_write_time(entry.path(), ec);
    if (!ec && now - at > std::chrono::hours(1)) fs::remove_all(entry.path(), ec);
  }
}

}  // namespace

absl::Status WriteSnapshot(Store& store, const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return StorageError(absl::StrCat("snapshot: cannot create ", dir, ": ", ec.message()));
  RemoveAbandonedCopies(dir);
  // A directory of its own for the copy (LMDB writes data.mdb into one), in the same file system
  // as the snapshot so that the rename is atomic. A dot name: never taken for a snapshot.
  absl::BitGen gen;
  const fs::path tmp =
      fs::path(dir) / absl::StrCat(".writing-", absl::Hex(absl::Uniform<uint64_t>(gen)));
  fs::create_directory(tmp, ec);
  if (ec) return StorageError(absl::StrCat("snapshot: cannot create ", tmp.string()));
  absl::Status written = store.env().CopyCompact(tmp.string());
  if (written.ok()) {
    fs::rename(tmp / "data.mdb", fs::path(dir) / kSnapshotFile, ec);
    if (ec) {
      written =
          StorageError(absl::StrCat("snapshot: cannot rename into ", dir, ": ", ec.message()));
    } else {
      SyncDir(dir);
    }
  }
  fs::remove_all(tmp, ec);
  return written;
}

Snapshotter::Snapshotter(Store& store, std::string dir, absl::Duration interval,
                         std::function<bool()> ready, clock::Clock& clock)
    : store_(store),
      dir_(std::move(dir)),
      interval_(interval),
      ready_(std::move(ready)),
      clock_(clock) {}

Snapshotter::~Snapshotter() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void Snapshotter::Start() {
  thread_ = std::thread([this] {
    const auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        if (clock_.AwaitWithDeadline(mu_, absl::Condition(&stopping), clock_.Now() + interval_)) {
          return;
        }
      }
      (void)WriteIfDue();  // logged there; the next turn tries again
    }
  });
}

absl::StatusOr<bool> Snapshotter::WriteIfDue() {
  if (ready_ && !ready_()) return false;
  std::error_code ec;
  const fs::path file = fs::path(dir_) / kSnapshotFile;
  const fs::file_time_type written = fs::last_write_time(file, ec);
  if (!ec) {
    const absl::Time at =
        absl::FromChrono(std::chrono::time_point_cast<std::chrono::system_clock::duration>(
            std::chrono::file_clock::to_sys(written)));
    if (clock_.Now() - at < interval_ / 2) return false;
  }
  const absl::Time start = absl::Now();
  if (absl::Status status = WriteSnapshot(store_, dir_); !status.ok()) {
    observability::LogWarn("state snapshot not written; the last one stays",
                           {{"dir", dir_},
                            {"reason", errors::ReasonOf(status)},
                            {"error", std::string(status.message())}});
    return status;
  }
  const int64_t bytes = static_cast<int64_t>(fs::file_size(file, ec));
  observability::LogInfo("state snapshot written",
                         {{"file", file.string()},
                          {"bytes", ec ? int64_t{-1} : bytes},
                          {"ms", absl::ToInt64Milliseconds(absl::Now() - start)}});
  return true;
}

}  // namespace pixq::state
