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

// Restoring, Store::Open's part (store.h declares it).

namespace {

// Whether the offsets table of `txn` holds rows, every one of the layout StoreFeed writes.
absl::Status CheckOffsets(kv::Txn& txn, kv::Table offsets) {
  absl::StatusOr<kv::Cursor> cursor = txn.Open(offsets);
  if (!cursor.ok()) return cursor.status();
  int rows = 0;
  for (cursor->Seek(""); cursor->Valid(); cursor->Next(), ++rows) {
    const size_t nul = cursor->key().find('\0');
    if (nul == std::string_view::npos || cursor->key().size() != nul + 5 ||
        cursor->value().size() != 24) {
      return StorageError("its offsets are not readable");
    }
  }
  if (rows == 0) return StorageError("it holds no offsets");
  return absl::OkStatus();
}

// Opens the store copied into `dir` and checks it is one to start from.
absl::Status CheckCopy(const kv::EnvOptions& options) {
  absl::StatusOr<std::unique_ptr<kv::Env>> env = kv::Env::Open(options);
  if (!env.ok()) return env.status();
  absl::StatusOr<kv::Table> meta = (*env)->OpenTable("meta");
  if (!meta.ok()) return meta.status();
  absl::StatusOr<kv::Table> offsets = (*env)->OpenTable("offsets");
  if (!offsets.ok()) return offsets.status();
  absl::StatusOr<std::unique_ptr<kv::Txn>> txn = (*env)->Begin(kv::Env::Mode::kRead);
  if (!txn.ok()) return txn.status();
  absl::StatusOr<std::optional<std::string_view>> format = (*txn)->Get(*meta, "format");
  if (!format.ok()) return format.status();
  if (!format->has_value() || **format != kFormat) {
    return StorageError(absl::StrCat("it is in format \"",
                                     format->has_value() ? errors::Sv(**format) : "(none)",
                                     "\", not \"", kFormat, "\""));
  }
  return CheckOffsets(**txn, *offsets);
}

}  // namespace

void Store::RestoreSnapshot(const std::string& snapshot_dir, const kv::EnvOptions& env_options) {
  {
    absl::StatusOr<std::unique_ptr<kv::Txn>> txn = Read();
    if (!txn.ok()) return;
    absl::StatusOr<uint64_t> offsets = (*txn)->Count(tables_.offsets);
    absl::StatusOr<uint64_t> jobs = (*txn)->Count(tables_.jobs);
    absl::StatusOr<uint64_t> images = (*txn)->Count(tables_.images);
    if (!offsets.ok() || !jobs.ok() || !images.ok() || *offsets + *jobs + *images != 0) return;
  }
  const fs::path snapshot = fs::path(snapshot_dir) / kSnapshotFile;
  const fs::path copy_dir = fs::path(dir_) / "restoring";
  std::error_code ec;
  if (!fs::exists(snapshot, ec)) {
    restore_note_ = absl::StrCat("no snapshot in ", snapshot_dir);
    observability::LogInfo("state store starts empty; the tables are read from the beginning",
                           {{"dir", dir_}, {"reason", restore_note_}});
    return;
  }
  const absl::Time start = absl::Now();
  // Copied first (a snapshot replaced meanwhile is renamed over, never changed in place: the copy
  // is the old one or the new one), then checked where it lies, then moved in.
  fs::remove_all(copy_dir, ec);
  fs::create_directory(copy_dir, ec);
  absl::Status usable = absl::OkStatus();
  if (!ec) fs::copy_file(snapshot, copy_dir / "data.mdb", ec);
  if (ec) {
    usable = StorageError(absl::StrCat("cannot copy it: ", ec.message()));
  } else {
    kv::EnvOptions check = env_options;
    check.dir = copy_dir.string();
    check.durability = kv::Durability::kNone;
    usable = CheckCopy(check);
  }
  if (usable.ok()) {
    env_.reset();
    fs::remove(fs::path(dir_) / "lock.mdb", ec);
    fs::rename(copy_dir / "data.mdb", fs::path(dir_) / "data.mdb", ec);
    if (ec) usable = StorageError(absl::StrCat("cannot move it in: ", ec.message()));
    absl::StatusOr<std::unique_ptr<kv::Env>> env = kv::Env::Open(env_options);
    if (env.ok()) {
      env_ = *std::move(env);
      if (absl::Status opened = OpenTables(); !opened.ok() && usable.ok()) usable = opened;
    } else if (usable.ok()) {
      usable = env.status();
    }
    if (!usable.ok()) {
      // Back to an empty store: the tables are read from the beginning.
      env_.reset();
      fs::remove(fs::path(dir_) / "data.mdb", ec);
      fs::remove(fs::path(dir_) / "lock.mdb", ec);
      absl::StatusOr<std::unique_ptr<kv::Env>> fresh = kv::Env::Open(env_options);
      if (fresh.ok()) {
        env_ = *std::move(fresh);
        (void)OpenTables();
      }
    }
  }
  fs::remove_all(copy_dir, ec);
  if (!usable.ok()) {
    restore_note_ = absl::StrCat("snapshot ", snapshot.string(), " not used: ", usable.message());
    observability::LogWarn("state store starts empty; the tables are read from the beginning",
                           {{"dir", dir_}, {"reason", restore_note_}});
    return;
  }
  restored_ = true;
  restore_note_ = absl::StrCat("restored from ", snapshot.string());
  uint64_t records = 0;
  if (absl::StatusOr<std::unique_ptr<kv::Txn>> txn = Read(); txn.ok()) {
    records = (*txn)->Count(tables_.jobs).value_or(0) + (*txn)->Count(tables_.images).value_or(0);
  }
  observability::LogInfo("state store restored from a snapshot",
                         {{"dir", dir_},
                          {"snapshot", snapshot.string()},
                          {"records", static_cast<int64_t>(records)},
                          {"ms", absl::ToInt64Milliseconds(absl::Now() - start)}});
}

}  // namespace pixq::state
