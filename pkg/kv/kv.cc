#include "pkg/kv/kv.h"

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include <fcntl.h>
#include <lmdb.h>
#include <unistd.h>

#include "pkg/errors/errors.h"

namespace pixq::kv {
namespace {

absl::Status Fail(std::string_view what, int rc) {
  std::string message = absl::StrCat("store: ", errors::Sv(what), ": ", mdb_strerror(rc));
  // The map is the most the store may hold; it is sized by configuration. A full map or disk is
  // no broken store: it says what to do, and the same write succeeds once there is room.
  if (rc == MDB_MAP_FULL) {
    absl::StrAppend(&message, " (raise state.max_bytes, or the volume with it)");
    return errors::Make(errors::Reason::kStateStoreFull, message);
  }
  if (rc == ENOSPC) {
    absl::StrAppend(&message, " (the state volume is full)");
    return errors::Make(errors::Reason::kStateStoreFull, message);
  }
  return errors::Make(errors::Reason::kStorageError, message);
}

MDB_val Val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};  // LMDB never writes through a key
}

std::string_view View(const MDB_val& v) { return {static_cast<const char*>(v.mv_data), v.mv_size}; }

MDB_txn* T(void* txn) { return static_cast<MDB_txn*>(txn); }

}  // namespace

struct Env::Impl {
  MDB_env* env = nullptr;
};

Env::Env(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Env::~Env() { mdb_env_close(impl_->env); }

absl::StatusOr<std::unique_ptr<Env>> Env::Open(const EnvOptions& options) {
  auto impl = std::make_unique<Impl>();
  if (int rc = mdb_env_create(&impl->env); rc != 0) return Fail("create", rc);
  std::unique_ptr<Env> env(new Env(std::move(impl)));
  MDB_env* raw = env->impl_->env;
  if (int rc = mdb_env_set_mapsize(raw, options.map_bytes); rc != 0) return Fail("map size", rc);
  if (int rc = mdb_env_set_maxdbs(raw, static_cast<MDB_dbi>(options.max_tables)); rc != 0) {
    return Fail("tables", rc);
  }
  if (int rc = mdb_env_set_maxreaders(raw, static_cast<unsigned>(options.max_readers)); rc != 0) {
    return Fail("readers", rc);
  }
  // MDB_NOTLS: a read transaction is not tied to its thread's slot, so a thread may hold two
  // (a Get inside a listing) and the HTTP threads need no registration. MDB_NORDAHEAD: reads are
  // random point lookups; read-ahead would fill the page cache with neighbours nobody asked for.
  unsigned flags = MDB_NOTLS | MDB_NORDAHEAD;
  flags |= options.durability == Durability::kCommitted ? MDB_NOMETASYNC : MDB_NOSYNC;
  if (int rc = mdb_env_open(raw, options.dir.c_str(), flags, 0640); rc != 0) {
    return Fail(absl::StrCat("open ", options.dir), rc);
  }
  return env;
}

absl::StatusOr<Table> Env::OpenTable(std::string_view name) {
  MDB_txn* txn = nullptr;
  if (int rc = mdb_txn_begin(impl_->env, nullptr, 0, &txn); rc != 0) return Fail("begin", rc);
  MDB_dbi dbi = 0;
  const std::string n(name);
  if (int rc = mdb_dbi_open(txn, n.c_str(), MDB_CREATE, &dbi); rc != 0) {
    mdb_txn_abort(txn);
    return Fail(absl::StrCat("open table ", n), rc);
  }
  if (int rc = mdb_txn_commit(txn); rc != 0) return Fail("commit", rc);
  return Table{dbi};
}

absl::StatusOr<std::unique_ptr<Txn>> Env::Begin(Mode mode) {
  MDB_txn* txn = nullptr;
  if (int rc = mdb_txn_begin(impl_->env, nullptr, mode == Mode::kRead ? MDB_RDONLY : 0, &txn);
      rc != 0) {
    return Fail("begin", rc);
  }
  return std::unique_ptr<Txn>(new Txn(txn));
}

absl::Status Env::Sync() {
  if (int rc = mdb_env_sync(impl_->env, 1); rc != 0) return Fail("sync", rc);
  return absl::OkStatus();
}

absl::Status Env::CopyCompact(const std::string& dir) {
  if (int rc = mdb_env_copy2(impl_->env, dir.c_str(), MDB_CP_COMPACT); rc != 0) {
    return Fail(absl::StrCat("copy to ", dir), rc);
  }
  // LMDB writes the copy without a flush of its own: a snapshot renamed into place must be whole.
  const std::string file = dir + "/data.mdb";
  const int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Fail(absl::StrCat("open ", file), errno);
  const int synced = fsync(fd) == 0 ? 0 : errno;
  close(fd);
  if (synced != 0) return Fail(absl::StrCat("flush ", file), synced);
  return absl::OkStatus();
}

Txn::~Txn() {
  if (txn_ != nullptr) mdb_txn_abort(T(txn_));
}

absl::StatusOr<std::optional<std::string_view>> Txn::Get(Table table, std::string_view key) {
  MDB_val k = Val(key);
  MDB_val v{};
  const int rc = mdb_get(T(txn_), table.dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return std::nullopt;
  if (rc != 0) return Fail("get", rc);
  return View(v);
}

absl::Status Txn::Put(Table table, std::string_view key, std::string_view value) {
  MDB_val k = Val(key);
  MDB_val v = Val(value);
  if (int rc = mdb_put(T(txn_), table.dbi, &k, &v, 0); rc != 0) return Fail("put", rc);
  return absl::OkStatus();
}

absl::Status Txn::Delete(Table table, std::string_view key) {
  MDB_val k = Val(key);
  const int rc = mdb_del(T(txn_), table.dbi, &k, nullptr);
  if (rc != 0 && rc != MDB_NOTFOUND) return Fail("delete", rc);
  return absl::OkStatus();
}

absl::Status Txn::Clear(Table table) {
  if (int rc = mdb_drop(T(txn_), table.dbi, 0); rc != 0) return Fail("clear", rc);
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Txn::Count(Table table) {
  MDB_stat stat{};
  if (int rc = mdb_stat(T(txn_), table.dbi, &stat); rc != 0) return Fail("stat", rc);
  return stat.ms_entries;
}

absl::StatusOr<Cursor> Txn::Open(Table table) {
  MDB_cursor* cursor = nullptr;
  if (int rc = mdb_cursor_open(T(txn_), table.dbi, &cursor); rc != 0) return Fail("cursor", rc);
  return Cursor(cursor);
}

absl::Status Txn::Commit() {
  MDB_txn* txn = T(std::exchange(txn_, nullptr));
  if (int rc = mdb_txn_commit(txn); rc != 0) return Fail("commit", rc);
  return absl::OkStatus();
}

uint64_t Txn::Id() const { return mdb_txn_id(T(txn_)); }

Cursor::~Cursor() {
  if (cursor_ != nullptr) mdb_cursor_close(static_cast<MDB_cursor*>(cursor_));
}

Cursor::Cursor(Cursor&& other) noexcept
    : cursor_(std::exchange(other.cursor_, nullptr)),
      valid_(other.valid_),
      key_(other.key_),
      value_(other.value_) {}

int Cursor::Load(int op, std::string_view key) {
  MDB_val k = Val(key);
  MDB_val v{};
  const int rc =
      mdb_cursor_get(static_cast<MDB_cursor*>(cursor_), &k, &v, static_cast<MDB_cursor_op>(op));
  valid_ = rc == 0;
  if (valid_) {
    key_ = View(k);
    value_ = View(v);
  }
  return rc;
}

void Cursor::Seek(std::string_view key) { Load(key.empty() ? MDB_FIRST : MDB_SET_RANGE, key); }

void Cursor::Next() { Load(MDB_NEXT, {}); }

void Cursor::SeekBefore(std::string_view key) {
  if (!key.empty()) {
    const int rc = Load(MDB_SET_RANGE, key);
    if (valid_) {
      Load(MDB_PREV, {});
      return;
    }
    // Any failure but "every key is below it" positions nothing, as Seek does.
    if (rc != MDB_NOTFOUND) return;
  }
  // Every key is below `key` (or none was given): the walk starts at the last one.
  Load(MDB_LAST, {});
}

void Cursor::Prev() { Load(MDB_PREV, {}); }

}  // namespace pixq::kv
