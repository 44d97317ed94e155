#pragma once

// An embedded, memory-mapped key-value store: LMDB, wrapped. One Env is one directory holding
// named tables (LMDB's sub-databases), each an ordered map from byte strings to byte strings.
//
// Transactions: any number of read transactions at once, from any threads, never waiting (MVCC:
// each sees the store as of its start); one write transaction at a time (Begin(kWrite) waits for
// the one before to end). A write is seen by readers only once its transaction committed.
//
// Durability (EnvOptions::durability): kCommitted flushes the data pages at each commit but not
// the meta page (MDB_NOMETASYNC): a system crash may undo the last commit(s), never break the
// store. kNone flushes nothing (MDB_NOSYNC): for a store that is removed at stop.
//
// Thread-safety: Env is thread-safe. A Txn, and the Cursors and string_views it hands out, belong
// to the thread that uses it; views stay valid until the transaction ends or writes again.
//
// Errors: "StorageError" (kInternal) carrying LMDB's message; a full map (MDB_MAP_FULL) or disk
// (ENOSPC) is "StateStoreFull" (kUnavailable, retriable) and names state.max_bytes.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace pixq::kv {

enum class Durability { kCommitted, kNone };

struct EnvOptions {
  std::string dir;                          // must exist
  uint64_t map_bytes = uint64_t{64} << 30;  // address space reserved; the file grows as used
  int max_tables = 16;
  int max_readers = 1024;
  Durability durability = Durability::kCommitted;
};

// A table's handle: valid for the Env that opened it, from any thread.
struct Table {
  unsigned int dbi = 0;
};

class Txn;

class Env final {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Env>> Open(const EnvOptions& options);
  ~Env();
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

  // Opens (creating it if needed) the named table. Call before any other transaction runs.
  [[nodiscard]] absl::StatusOr<Table> OpenTable(std::string_view name);

  enum class Mode { kRead, kWrite };
  [[nodiscard]] absl::StatusOr<std::unique_ptr<Txn>> Begin(Mode mode);

  // Flushes everything committed to disk.
  [[nodiscard]] absl::Status Sync();

  // Writes a compact copy of the store as it stands at one commit (free pages left out, the
  // tables rewritten in order) into `dir`, which must exist and hold no store: data.mdb, flushed
  // before it returns. Runs beside readers and the writer (it is a read transaction), so a copy
  // of a big store holds old pages from reuse while it runs. Errors: "StorageError",
  // "StateStoreFull" (the target's disk).
  [[nodiscard]] absl::Status CopyCompact(const std::string& dir);

  struct Impl;

 private:
  explicit Env(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Reads a table in key order, forwards or backwards, from a position.
class Cursor final {
 public:
  ~Cursor();
  Cursor(Cursor&& other) noexcept;
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  Cursor& operator=(Cursor&&) = delete;

  // At the first key ≥ `key` (empty: the first key of the table).
  void Seek(std::string_view key);
  void Next();
  // At the last key < `key` (empty: the last key of the table): where a walk backwards starts.
  void SeekBefore(std::string_view key);
  void Prev();
  [[nodiscard]] bool Valid() const { return valid_; }
  [[nodiscard]] std::string_view key() const { return key_; }
  [[nodiscard]] std::string_view value() const { return value_; }

 private:
  friend class Txn;
  explicit Cursor(void* cursor) : cursor_(cursor) {}
  // Positions the cursor; LMDB's return code.
  int Load(int op, std::string_view key);
  void* cursor_;
  bool valid_ = false;
  std::string_view key_;
  std::string_view value_;
};

// A transaction: aborted when destroyed unless committed.
class Txn final {
 public:
  ~Txn();
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;

  // The value under `key` (a view into the map), or nullopt.
  [[nodiscard]] absl::StatusOr<std::optional<std::string_view>> Get(Table table,
                                                                    std::string_view key);
  [[nodiscard]] absl::Status Put(Table table, std::string_view key, std::string_view value);
  // Removes `key`; absent is not an error.
  [[nodiscard]] absl::Status Delete(Table table, std::string_view key);
  // Removes every key of the table.
  [[nodiscard]] absl::Status Clear(Table table);
  [[nodiscard]] absl::StatusOr<uint64_t> Count(Table table);
  [[nodiscard]] absl::StatusOr<Cursor> Open(Table table);

  [[nodiscard]] absl::Status Commit();

  // LMDB's transaction id: a read transaction's is that of the last commit it sees; a write
  // transaction's, the one its commit will have. Ids grow with every commit.
  [[nodiscard]] uint64_t Id() const;

 private:
  friend class Env;
  explicit Txn(void* txn) : txn_(txn) {}
  void* txn_;
};

}  // namespace pixq::kv
