#include "pkg/state/store.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "pkg/errors/errors.h"
#include "pkg/observability/log.h"

namespace pixq::state {
namespace {

absl::Status StorageError(std::string_view what) {
  return errors::Make(errors::Reason::kStorageError, std::string(what));
}

std::string TempRoot() {
  const char* tmp = std::getenv("TMPDIR");
  return tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
}

constexpr char kPrivatePrefix[] = "pixq-state-";
// Where a private store is made before its lock is held; renamed to kPrivatePrefix + the same
// suffix once it is. A store is never seen under kPrivatePrefix without its owner's lock, so
// another process's clean-up cannot take a store that is being made for one of its own (and its
// probing flock cannot make that owner's LOCK_NB fail).
constexpr char kStagingPrefix[] = ".pixq-state-new-";
constexpr char kOwnerLock[] = "owner.lock";

// Removes the private stores of processes that are gone: their owner.lock is free (the kernel
// drops an flock with its last descriptor, also at SIGKILL), or, without a lock file (written by
// an older pixq), old enough; and staging directories old enough (their maker died between its
// mkdtemp and its rename).
void RemoveStalePrivateDirs(const std::string& root) {
  std::error_code ec;
  std::filesystem::directory_iterator it(root, ec);
  if (ec) return;
  const auto now = std::filesystem::file_time_type::clock::now();
  const auto old = [&](const std::filesystem::path& path) {
    std::error_code time_ec;
    const auto written = std::filesystem::last_write_time(path, time_ec);
    return !time_ec && now - written > std::chrono::seconds(kStalePrivateAgeSeconds);
  };
  for (const std::filesystem::directory_entry& entry : it) {
    const std::string name = entry.path().filename().string();
    const bool staging = name.starts_with(kStagingPrefix);
    if ((!staging && !name.starts_with(kPrivatePrefix)) || !entry.is_directory(ec)) continue;
    bool stale = false;
    const std::string lock = (entry.path() / kOwnerLock).string();
    const int fd = staging ? -1 : open(lock.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      stale = flock(fd, LOCK_EX | LOCK_NB) == 0;
      close(fd);
    } else {
      stale = old(entry.path());
    }
    if (!stale) continue;
    std::filesystem::remove_all(entry.path(), ec);
    observability::LogInfo("removed the private state store of a process that is gone",
                           {{"dir", entry.path().string()}});
  }
}

struct PrivateDir {
  std::string path;
  int lock_fd = -1;
};

absl::StatusOr<PrivateDir> MakePrivateDir() {
  const std::string root = TempRoot();
  RemoveStalePrivateDirs(root);
  std::string staging = absl::StrCat(root, "/", kStagingPrefix, "XXXXXX");
  if (mkdtemp(staging.data()) == nullptr) {
    return StorageError(absl::StrCat("state: cannot make a private directory in ", root));
  }
  const std::string lock = absl::StrCat(staging, "/", kOwnerLock);
  const int fd = open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  const std::string path =
      absl::StrCat(root, "/", kPrivatePrefix, staging.substr(staging.size() - 6));
  // rename(2) refuses to replace a non-empty directory, so a name taken meanwhile is an error,
  // never a store lost.
  if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0 || rename(staging.c_str(), path.c_str()) != 0) {
    if (fd >= 0) close(fd);
    std::error_code ec;
    std::filesystem::remove_all(staging, ec);
    return StorageError(absl::StrCat("state: cannot make a private store at ", path));
  }
  return PrivateDir{.path = path, .lock_fd = fd};
}

}  // namespace

bool IsStoreFailure(const absl::Status& status) {
  return errors::Is(status, errors::Reason::kStorageError) ||
         errors::Is(status, errors::Reason::kStateStoreFull);
}

absl::Status WriteBatch::Commit() {
  if (absl::Status committed = txn_->Commit(); !committed.ok()) return committed;
  for (std::function<void()>& fn : after_commit_) fn();
  after_commit_.clear();
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  std::unique_ptr<Store> store(new Store());
  store->private_ = options.dir.empty();
  if (store->private_) {
    absl::StatusOr<PrivateDir> dir = MakePrivateDir();
    if (!dir.ok()) return dir.status();
    store->dir_ = dir->path;
    store->owner_lock_fd_ = dir->lock_fd;
  } else {
    store->dir_ = options.dir;
    std::error_code ec;
    std::filesystem::create_directories(store->dir_, ec);
    if (ec) {
      return StorageError(
          absl::StrCat("state.dir: cannot create ", store->dir_, ": ", ec.message()));
    }
  }
  const kv::EnvOptions env_options{
      .dir = store->dir_,
      .map_bytes = options.max_bytes,
      .max_readers = options.max_readers,
      .durability = store->private_ ? kv::Durability::kNone : kv::Durability::kCommitted};

  absl::StatusOr<std::unique_ptr<kv::Env>> env = kv::Env::Open(env_options);
  if (env.ok()) {
    store->env_ = *std::move(env);
    if (absl::Status opened = store->OpenTables(); !opened.ok()) {
      store->wipe_reason_ = std::string(opened.message());
    }
  } else {
    store->wipe_reason_ = std::string(env.status().message());
  }
  if (!store->wipe_reason_.empty()) {
    observability::LogWarn("state store wiped; the tables are read again from Kafka",
                           {{"dir", store->dir_}, {"reason", store->wipe_reason_}});
    store->env_.reset();
    std::error_code ec;
    std::filesystem::remove(std::filesystem::path(store->dir_) / "data.mdb", ec);
    std::filesystem::remove(std::filesystem::path(store->dir_) / "lock.mdb", ec);
    env = kv::Env::Open(env_options);
    if (!env.ok()) return env.status();
    store->env_ = *std::move(env);
    if (absl::Status opened = store->OpenTables(); !opened.ok()) return opened;
  }
  if (!options.snapshot_dir.empty()) store->RestoreSnapshot(options.snapshot_dir, env_options);
  return store;
}

absl::Status Store::OpenTables() {
  struct Named {
    const char* name;
    kv::Table* table;
  };
  for (const Named& t :
       {Named{"jobs", &tables_.jobs}, Named{"job_phase", &tables_.job_phase},
        Named{"job_outputs", &tables_.job_outputs}, Named{"job_idem", &tables_.job_idem},
        Named{"job_batch", &tables_.job_batch}, Named{"job_image", &tables_.job_image},
        Named{"images", &tables_.images}, Named{"image_order", &tables_.image_order},
        Named{"offsets", &tables_.offsets}, Named{"meta", &tables_.meta}}) {
    absl::StatusOr<kv::Table> table = env_->OpenTable(t.name);
    if (!table.ok()) return table.status();
    *t.table = *table;
  }
  absl::StatusOr<std::unique_ptr<WriteBatch>> batch = Write();
  if (!batch.ok()) return batch.status();
  kv::Txn& txn = (*batch)->txn();
  absl::StatusOr<std::optional<std::string_view>> format = txn.Get(tables_.meta, "format");
  if (!format.ok()) return format.status();
  if (format->has_value() && **format != kFormat) {
    return StorageError(absl::StrCat("the store is in format \"", errors::Sv(**format),
                                     "\", not \"", kFormat, "\""));
  }
  if (!format->has_value()) {
    absl::StatusOr<uint64_t> jobs = txn.Count(tables_.jobs);
    if (!jobs.ok()) return jobs.status();
    absl::StatusOr<uint64_t> offsets = txn.Count(tables_.offsets);
    if (!offsets.ok()) return offsets.status();
    if (*jobs != 0 || *offsets != 0)
      return StorageError("the store has records but no format mark");
    PIXQ_RETURN_IF_ERROR(txn.Put(tables_.meta, "format", kFormat));
  }
  return (*batch)->Commit();
}

absl::StatusOr<std::unique_ptr<WriteBatch>> Store::Write() {
  absl::StatusOr<std::unique_ptr<kv::Txn>> txn = env_->Begin(kv::Env::Mode::kWrite);
  if (!txn.ok()) return txn.status();
  return std::make_unique<WriteBatch>(*std::move(txn));
}

absl::Status Store::Clear() {
  absl::StatusOr<std::unique_ptr<WriteBatch>> batch = Write();
  if (!batch.ok()) return batch.status();
  for (kv::Table t :
       {tables_.jobs, tables_.job_phase, tables_.job_outputs, tables_.job_idem, tables_.job_batch,
        tables_.job_image, tables_.images, tables_.image_order, tables_.offsets}) {
    PIXQ_RETURN_IF_ERROR((*batch)->txn().Clear(t));
  }
  return (*batch)->Commit();
}

void Store::DiscardPrivate() {
  if (!private_) return;
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

Store::~Store() {
  env_.reset();
  if (private_) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  if (owner_lock_fd_ >= 0) close(owner_lock_fd_);
}

}  // namespace pixq::state
