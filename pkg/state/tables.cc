#include "pkg/state/tables.h"

#include <algorithm>
#include <functional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

#include "pkg/errors/errors.h"
#include "pkg/job/ids.h"
#include "pkg/job/json.h"
#include "pkg/observability/log.h"

namespace pixq::state {
namespace {

// LMDB refuses keys over 511 bytes (its default MDB_MAXKEYSIZE); a record whose key would not fit
// is skipped as unreadable rather than failing its whole batch again and again.
constexpr size_t kMaxKeyBytes = 500;

absl::Status CheckKey(std::string_view id) {
  if (id.empty() || id.size() + 9 > kMaxKeyBytes) {
    return errors::Make(
        errors::Reason::kInvalidRecord,
        absl::StrCat("a record key of ", id.size(), " bytes (at most ", kMaxKeyBytes - 9, ")"));
  }
  return absl::OkStatus();
}

// Big-endian, so that LMDB's byte order is the numbers' order.
void AppendBigEndian(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::string PhaseKey(job::Phase phase, std::string_view id) {
  std::string key(1, static_cast<char>(static_cast<int>(phase)));
  key.append(id);
  return key;
}

std::string IdempotencyKey(std::string_view key, std::string_view id) {
  std::string out(key);
  out.push_back('\0');
  out.append(id);
  return out;
}

// job_outputs: one row per succeeded job, so that forgetting a job drops only its own row and an
// output stays findable while any job that made it is kept (a replica built afresh from the
// topics would not know the output of a deleted job either).
std::string OutputIndexKey(std::string_view output_key, std::string_view id) {
  std::string out(output_key);
  out.push_back('\0');
  out.append(id);
  return out;
}

bool FitsOutputIndex(std::string_view output_key, std::string_view id) {
  return !output_key.empty() && output_key.size() + id.size() + 1 <= kMaxKeyBytes;
}

std::string BatchPrefix(std::string_view batch_id) {
  std::string out(batch_id);
  out.push_back('\0');
  return out;
}

std::string BatchKey(std::string_view batch_id, int index) {
  std::string key = BatchPrefix(batch_id);
  AppendBigEndian(key, static_cast<uint64_t>(static_cast<int64_t>(index) + (int64_t{1} << 31)), 4);
  return key;
}

// job_image: one row per image a job read, so that an image's jobs are found without reading the
// others (?image=, DeleteImage).
std::string ImageIndexKey(std::string_view image_id, std::string_view id) {
  std::string out(image_id);
  out.push_back('\0');
  out.append(id);
  return out;
}

bool FitsImageIndex(std::string_view image_id, std::string_view id) {
  return !image_id.empty() && image_id.size() + id.size() + 1 <= kMaxKeyBytes;
}

// The images a job read: its source's and, when it is another one (a URL source's download, known
// once a worker fetched it), its status's.
std::vector<std::string> ImagesOf(const job::JobRecord& record) {
  std::vector<std::string> images;
  if (!record.spec.source.image_id.empty()) images.push_back(record.spec.source.image_id);
  if (!record.status.image_id.empty() && record.status.image_id != record.spec.source.image_id) {
    images.push_back(record.status.image_id);
  }
  return images;
}

// The first key after every key that starts with `prefix`: its last byte below 0xff raised by
// one, the bytes after it dropped. Empty when there is none (the run reaches the table's end).
std::string RunEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) end.pop_back();
  if (!end.empty()) end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
  return end;
}

// Visits the keys that start with `prefix` in `order`, each as the id that follows the prefix and
// its value, from the one after prefix + `after` (empty: from the run's first key, or its last
// going backwards), until `visit` returns false or the run ends.
void WalkRun(kv::Cursor& cursor, std::string_view prefix, std::string_view after, Order order,
             const std::function<bool(std::string_view id, std::string_view value)>& visit) {
  std::string from(prefix);
  from.append(after);
  if (order == Order::kAscending) {
    cursor.Seek(from);
    if (!after.empty() && cursor.Valid() && cursor.key() == from) cursor.Next();
  } else {
    cursor.SeekBefore(after.empty() ? RunEnd(prefix) : from);
  }
  for (; cursor.Valid() && cursor.key().starts_with(prefix);
       order == Order::kAscending ? cursor.Next() : cursor.Prev()) {
    if (!visit(cursor.key().substr(prefix.size()), cursor.value())) return;
  }
}

// createdAt with the sign bit flipped (-1, unreadable, sorts first), then the id.
std::string OrderKey(const ImageTable::Position& position) {
  std::string key;
  AppendBigEndian(key, static_cast<uint64_t>(position.first) ^ (uint64_t{1} << 63), 8);
  key.append(position.second);
  return key;
}

ImageTable::Position PositionFromKey(std::string_view key) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(key[i]);
  return {static_cast<int64_t>(v ^ (uint64_t{1} << 63)), std::string(key.substr(8))};
}

// An output as the outputs index keeps it: path, format, width, height, bytes, one per line.
std::string EncodeOutput(const job::OutputInfo& o) {
  return absl::StrCat(o.path, "\n", static_cast<int>(o.format), "\n", o.width, "\n", o.height, "\n",
                      o.bytes);
}

std::optional<job::OutputInfo> DecodeOutput(std::string_view text) {
  std::vector<absl::string_view> parts = absl::StrSplit(errors::Sv(text), '\n');
  job::OutputInfo o;
  int format = 0;
  if (parts.size() != 5 || !absl::SimpleAtoi(parts[1], &format) ||
      !absl::SimpleAtoi(parts[2], &o.width) || !absl::SimpleAtoi(parts[3], &o.height) ||
      !absl::SimpleAtoi(parts[4], &o.bytes)) {
    return std::nullopt;
  }
  o.path = std::string(parts[0]);
  o.format = static_cast<job::Format>(format);
  return o;
}

// A read that failed in the store is answered as "not there", and said in the log: readers have
// no error to return, and the store is a cache that a restart rebuilds.
void LogReadError(std::string_view what, const absl::Status& status) {
  observability::LogError("state store read failed",
                          {{"read", std::string(what)}, {"error", std::string(status.message())}});
}

std::unique_ptr<Store> OpenPrivate() {
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open({});
  if (!store.ok()) {
    // Nothing works without it, and it is only a temporary directory: say so and stop.
    observability::LogError("cannot open a private state store",
                            {{"error", std::string(store.status().message())}});
    std::abort();
  }
  return *std::move(store);
}

std::optional<job::JobRecord> ParseJob(std::string_view value) {
  absl::StatusOr<job::JobRecord> record = job::RecordFromJson(value);
  if (!record.ok()) return std::nullopt;
  return *std::move(record);
}

std::optional<job::ImageMeta> ParseImage(std::string_view id, std::string_view value) {
  absl::StatusOr<job::ImageMeta> meta = job::ImageMetaFromJson(value);
  if (!meta.ok()) return std::nullopt;
  meta->id = std::string(id);  // listed under the key it was published with
  return *std::move(meta);
}

}  // namespace

JobTable::JobTable() : own_(OpenPrivate()), store_(*own_) {}
JobTable::JobTable(Store& store) : store_(store) {}
JobTable::~JobTable() = default;

absl::Status JobTable::Apply(const std::string& id, const std::optional<std::string>& value) {
  absl::StatusOr<std::unique_ptr<WriteBatch>> batch = store_.Write();
  if (!batch.ok()) return batch.status();
  PIXQ_RETURN_IF_ERROR(Apply(**batch, id, value));
  return (*batch)->Commit();
}

absl::Status JobTable::Apply(WriteBatch& batch, const std::string& id,
                             const std::optional<std::string>& value) {
  PIXQ_RETURN_IF_ERROR(CheckKey(id));
  std::optional<job::JobRecord> applied;
  if (value.has_value()) {
    // Parsed before anything changes: an unreadable record leaves the table as it was.
    absl::StatusOr<job::JobRecord> record = job::RecordFromJson(*value);
    if (!record.ok()) return record.status();
    applied = *std::move(record);
  }
  const StoreTables& t = store_.tables();
  kv::Txn& txn = batch.txn();
  // From here until this batch's commit has refilled the cache, Get reads the store: no read
  // older than this batch may fill the cache any more, and the cached record is dropped now, so
  // that Get never answers an older record than List and the indexes show once the batch commits.
  committed_txn_.store(txn.Id());
  {
    CacheShard& shard = ShardOf(id);
    std::lock_guard<std::mutex> lock(shard.mu);
    shard.records.erase(id);
  }
  absl::StatusOr<std::optional<std::string_view>> old_value = txn.Get(t.jobs, id);
  if (!old_value.ok()) return old_value.status();
  if (old_value->has_value()) {
    // Drops the old record from the indexes (it is being replaced or forgotten).
    if (std::optional<job::JobRecord> old = ParseJob(**old_value)) {
      PIXQ_RETURN_IF_ERROR(txn.Delete(t.job_phase, PhaseKey(old->status.phase, id)));
      if (FitsOutputIndex(old->output_key, id)) {
        PIXQ_RETURN_IF_ERROR(txn.Delete(t.job_outputs, OutputIndexKey(old->output_key, id)));
      }
      if (!old->idempotency_key.empty() &&
          old->idempotency_key.size() + id.size() + 1 <= kMaxKeyBytes) {
        PIXQ_RETURN_IF_ERROR(txn.Delete(t.job_idem, IdempotencyKey(old->idempotency_key, id)));
      }
      for (const std::string& image_id : ImagesOf(*old)) {
        if (FitsImageIndex(image_id, id)) {
          PIXQ_RETURN_IF_ERROR(txn.Delete(t.job_image, ImageIndexKey(image_id, id)));
        }
      }
      if (!old->batch_id.empty() && old->batch_id.size() + 5 <= kMaxKeyBytes) {
        const std::string key = BatchKey(old->batch_id, old->batch_index);
        absl::StatusOr<std::optional<std::string_view>> member = txn.Get(t.job_batch, key);
        if (!member.ok()) return member.status();
        if (member->has_value() && **member == id)
          PIXQ_RETURN_IF_ERROR(txn.Delete(t.job_batch, key));
      }
    }
  }
  if (!applied) {
    PIXQ_RETURN_IF_ERROR(txn.Delete(t.jobs, id));
  } else {
    PIXQ_RETURN_IF_ERROR(txn.Put(t.jobs, id, *value));
    PIXQ_RETURN_IF_ERROR(txn.Put(t.job_phase, PhaseKey(applied->status.phase, id), ""));
    if (applied->status.phase == job::Phase::kSucceeded && applied->status.output &&
        FitsOutputIndex(applied->output_key, id)) {
      PIXQ_RETURN_IF_ERROR(txn.Put(t.job_outputs, OutputIndexKey(applied->output_key, id),
                                   EncodeOutput(*applied->status.output)));
    }
    if (!applied->idempotency_key.empty() &&
        applied->idempotency_key.size() + id.size() + 1 <= kMaxKeyBytes) {
      PIXQ_RETURN_IF_ERROR(txn.Put(t.job_idem, IdempotencyKey(applied->idempotency_key, id), ""));
    }
    for (const std::string& image_id : ImagesOf(*applied)) {
      if (FitsImageIndex(image_id, id)) {
        PIXQ_RETURN_IF_ERROR(txn.Put(t.job_image, ImageIndexKey(image_id, id), ""));
      }
    }
    if (!applied->batch_id.empty() && applied->batch_id.size() + 5 <= kMaxKeyBytes) {
      PIXQ_RETURN_IF_ERROR(
          txn.Put(t.job_batch, BatchKey(applied->batch_id, applied->batch_index), id));
    }
  }
  // A deleted job wakes its watchers with an empty record id, so they answer 404.
  batch.AfterCommit(
      [this, id, txn_id = txn.Id(),
       record = applied ? std::make_shared<const job::JobRecord>(*std::move(applied)) : nullptr] {
        committed_txn_.store(txn_id);
        CacheShard& shard = ShardOf(id);
        {
          std::lock_guard<std::mutex> lock(shard.mu);
          if (record == nullptr) shard.records.erase(id);
        }
        if (record != nullptr) Cache(shard, id, record);
        Notify(id, record != nullptr ? *record : job::JobRecord());
      });
  return absl::OkStatus();
}

void JobTable::Notify(const std::string& id, const job::JobRecord& record) {
  std::vector<Watcher> fire;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto [begin, end] = watchers_.equal_range(id);
    for (auto it = begin; it != end; ++it) {
      fire.push_back(std::move(it->second.second));
      watcher_ids_.erase(it->second.first);
    }
    watchers_.erase(begin, end);
  }
  for (Watcher& w : fire) w(record);
}

std::optional<job::JobRecord> JobTable::Get(const std::string& id) const {
  if (!CheckKey(id).ok()) return std::nullopt;  // never stored
  CacheShard& shard = ShardOf(id);
  {
    std::lock_guard<std::mutex> lock(shard.mu);
    if (auto it = shard.records.find(id); it != shard.records.end()) return *it->second;
  }
  absl::StatusOr<std::unique_ptr<kv::Txn>> txn = store_.Read();
  if (!txn.ok()) {
    LogReadError("job", txn.status());
    return std::nullopt;
  }
  absl::StatusOr<std::optional<std::string_view>> value = (*txn)->Get(store_.tables().jobs, id);
  if (!value.ok()) {
    LogReadError("job", value.status());
    return std::nullopt;
  }
  if (!value->has_value()) return std::nullopt;
  std::optional<job::JobRecord> record = ParseJob(**value);
  if (record) {
    const uint64_t seen = (*txn)->Id();
    std::lock_guard<std::mutex> lock(shard.mu);
    // Only a read that saw the latest commit may fill the cache (see tables.h).
    if (committed_txn_.load() <= seen && shard.records.size() < kCacheRecords / kCacheShards &&
        shard.order.size() < 2 * kCacheRecords / kCacheShards) {
      if (shard.records.emplace(id, std::make_shared<const job::JobRecord>(*record)).second) {
        shard.order.push_back(id);
      }
    }
  }
  return record;
}

JobTable::CacheShard& JobTable::ShardOf(const std::string& id) const {
  return cache_[std::hash<std::string>{}(id) % kCacheShards];
}

void JobTable::Cache(CacheShard& shard, const std::string& id,
                     std::shared_ptr<const job::JobRecord> record) const {
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.records.find(id);
  if (it != shard.records.end()) {
    it->second = std::move(record);
    return;
  }
  // The order also keeps ids since erased (a tombstone): it is bounded too.
  constexpr size_t kPerShard = kCacheRecords / kCacheShards;
  while ((shard.records.size() >= kPerShard || shard.order.size() >= 2 * kPerShard) &&
         !shard.order.empty()) {
    shard.records.erase(shard.order.front());
    shard.order.pop_front();
  }
  shard.records.emplace(id, std::move(record));
  shard.order.push_back(id);
}

void JobTable::ForgetCache() {
  absl::StatusOr<std::unique_ptr<kv::Txn>> txn = store_.Read();
  if (txn.ok()) committed_txn_.store((*txn)->Id());
  for (CacheShard& shard : cache_) {
    std::lock_guard<std::mutex> lock(shard.mu);
    shard.records.clear();
    shard.order.clear();
  }
}

std::optional<job::JobRecord> JobTable::FindByIdempotencyKey(const std::string& key) const {
  absl::StatusOr<std::unique_ptr<kv::Txn>> txn = store_.Read();
  if (!txn.ok()) return std::nullopt;
  absl::StatusOr<kv::Cursor> cursor = (*txn)->Open(store_.tables().job_idem);
  if (!cursor.ok()) return std::nullopt;
  const std::string prefix = IdempotencyKey(key, "");
  for (cursor->Seek(prefix); cursor->Valid() && cursor->key().starts_with(prefix); cursor->Next()) {
    const std::string_view id = cursor->key().substr(prefix.size());
    absl::StatusOr<std::optional<std::string_view>> value = (*txn)->Get(store_.tables().jobs, id);
    if (value.ok() && value->has_value()) return ParseJob(**value);
  }
  return std::nullopt;
}

std::vector<job::JobRecord> JobTable::Batch(const std::string& batch_id) const {
  std::vector<job::JobRecord> jobs;
  absl::StatusOr<std::unique_ptr<kv::Txn>> txn = store_.Read();
  if (!txn.ok()) return jobs;
  absl::StatusOr<kv::Cursor> cursor = (*txn)->Open(store_.tables().job_batch);
  if (!cursor.ok()) return jobs;
  const std::string prefix = BatchPrefix(batch_id);
  for (cursor->Seek(prefix); cursor->Valid() && cursor->key().starts_with(prefix) &&
                             cursor->key().size() == prefix.size() + 4;
       cursor->Next()) {
    absl::StatusOr<std::optional<std::string_view>> value =
        (*txn)->Get(store_.tables().jobs, cursor->value());
    if (!value.ok() || !value->has_value()) continue;
    if (std::optional<job::JobRecord> record = ParseJob(**value))
      jobs.push_back(*std::move(record));
  }
  return jobs;
}

std::optional<job::OutputInfo> JobTable::FindOutput(const std::string& output_key) const {
  if (output_key.empty() || output_key.size() >= kMaxKeyBytes) return std::nullopt;
  absl::StatusOr<std::unique_ptr<kv::Txn>> txn = store_.Read();
  if (!txn.ok()) return std::nullopt;
  absl::StatusOr<kv::Cursor> cursor = (*txn)->Open(store_.tables().job_outputs);
  if (!cursor.ok()) return std::nullopt;
  // Any job's row will do: the same output key is the same bytes.
  const std::string prefix = OutputIndexKey(output_key, "");
  cursor->Seek(prefix);
  if (!cursor->Valid() || !cursor->key().starts_with(prefix)) return std::nullopt;
  return DecodeOutput(cursor->value());
}

uint64_t JobTable::Watch(const std::string& id, Watcher watcher) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t token = next_token_++;
  watchers_.emplace(id, std::make_pair(token, std::move(watcher)));
  watcher_ids_.emplace(token, id);
  return token;
}

bool JobTable::Unwatch(uint64_t token) {
  std::lock_guard<std::mutex> lock(mu_);
  auto id = watcher_ids_.find(token);
  if (id == watcher_ids_.end()) return false;
  auto [begin, end] = watchers_.equal_range(id->second);
  for (auto it = begin; it != end; ++it) {
    if (it->second.first == token) {
      watchers_.erase(it);
      break;
    }
  }
  watcher_ids_.erase(id);
  return true;
}

size_t JobTable::size() const {
  absl::StatusOr<std::unique_ptr<kv::Txn>> txn = store_.Read();
  if (!txn.ok()) return 0;
  absl::StatusOr<uint64_t> count = (*txn)->Count(store_.tables().jobs);
  return count.ok() ? static_cast<size_t>(*count) : 0;
}

std::vector<job::JobRecord> JobTable::Snapshot() const {
  Page all = List("", static_cast<size_t>(-1) - 1, [](const job::JobRecord&) { return true; });
  return std::move(all.items);
}

JobTable::Page JobTable::List(const std::string& after, size_t limit,
                              const std::function<bool(const job::JobRecord&)>& match) const {
  Page page;
  absl::StatusOr<std::unique_ptr<kv::Txn>> txn = store_.Read();
  if (!txn.ok()) return page;
  absl::StatusOr<kv::Cursor> cursor = (*txn)->Open(store_.tables().jobs);
  if (!cursor.ok()) return page;
  cursor->Seek(after);
  if (!after.empty() && cursor->Valid() && cursor->key() == after) cursor->Next();
  for (; cursor->Valid(); cursor->Next()) {
    std::optional<job::JobRecord> record = ParseJob(cursor->value());
    if (!record || !match(*record)) continue;
    if (page.items.size() == limit) {
      page.more = true;
      break;
    }
    page.items.push_back(*std::move(record));
  }
  return page;
}

JobTable::Page JobTable::ListInPhases(const std::string& after, size_t limit,
                                      const std::vector<job::Phase>& phases) const {
  return ListJobs(after, limit, {.phases = phases});
}

JobTable::Page JobTable::ListJobs(const std::string& after, size_t limit,
                                  const Listing& listing) const {
  Page page;
  absl::StatusOr<std::unique_ptr<kv::Txn>> txn = store_.Read();
  if (!txn.ok()) return page;
  const StoreTables& t = store_.tables();
  const Order order = listing.order;
  // Adds a record to the page; false once the page is full and another record was found.
  auto add = [&page, limit](std::optional<job::JobRecord> record) {
    if (!record) return true;
    if (page.items.size() == limit) {
      page.more = true;
      return false;
    }
    page.items.push_back(*std::move(record));
    return true;
  };
  auto read = [&](std::string_view id) -> std::optional<job::JobRecord> {
    absl::StatusOr<std::optional<std::string_view>> value = (*txn)->Get(t.jobs, id);
    if (!value.ok() || !value->has_value()) return std::nullopt;
    return ParseJob(**value);
  };

  if (!listing.image_id.empty()) {
    absl::StatusOr<kv::Cursor> cursor = (*txn)->Open(t.job_image);
    if (!cursor.ok() || !FitsImageIndex(listing.image_id, "")) return page;
    auto in_phases = [&](std::string_view id) {
      if (listing.phases.empty()) return true;
      return std::any_of(listing.phases.begin(), listing.phases.end(), [&](job::Phase phase) {
        absl::StatusOr<std::optional<std::string_view>> row =
            (*txn)->Get(t.job_phase, PhaseKey(phase, id));
        return row.ok() && row->has_value();
      });
    };
    WalkRun(*cursor, ImageIndexKey(listing.image_id, ""), after, order,
            [&](std::string_view id, std::string_view) { return !in_phases(id) || add(read(id)); });
    return page;
  }

  if (listing.phases.empty()) {
    absl::StatusOr<kv::Cursor> cursor = (*txn)->Open(t.jobs);
    if (!cursor.ok()) return page;
    WalkRun(*cursor, "", after, order,
            [&](std::string_view, std::string_view value) { return add(ParseJob(value)); });
    return page;
  }

  // Up to limit + 1 ids from each phase's run of the index, merged in the listing's order: the
  // first limit + 1 of the merge are the page and whether more follow.
  std::vector<std::string> ids;
  for (job::Phase phase : listing.phases) {
    absl::StatusOr<kv::Cursor> cursor = (*txn)->Open(t.job_phase);
    if (!cursor.ok()) return page;
    size_t taken = 0;
    WalkRun(*cursor, PhaseKey(phase, ""), after, order, [&](std::string_view id, std::string_view) {
      ids.emplace_back(id);
      return ++taken <= limit;
    });
  }
  if (order == Order::kAscending) {
    std::sort(ids.begin(), ids.end());
  } else {
    std::sort(ids.begin(), ids.end(), std::greater<>());
  }
  for (const std::string& id : ids) {
    if (!add(read(id))) break;
  }
  return page;
}

ImageTable::ImageTable() : own_(OpenPrivate()), store_(*own_) {}
ImageTable::ImageTable(Store& store) : store_(store) {}
ImageTable::~ImageTable() = default;

absl::Status ImageTable::Apply(const std::string& id, const std::optional<std::string>& value) {
  absl::StatusOr<std::unique_ptr<WriteBatch>> batch = store_.Write();
  if (!batch.ok()) return batch.status();
  PIXQ_RETURN_IF_ERROR(Apply(**batch, id, value));
  return (*batch)->Commit();
}

absl::Status ImageTable::Apply(WriteBatch& batch, const std::string& id,
                               const std::optional<std::string>& value) {
  PIXQ_RETURN_IF_ERROR(CheckKey(id));
  std::optional<job::ImageMeta> applied;
  if (value.has_value()) {
    absl::StatusOr<job::ImageMeta> meta = job::ImageMetaFromJson(*value);
    if (!meta.ok()) return meta.status();
    meta->id = id;
    applied = *std::move(meta);
  }
  const StoreTables& t = store_.tables();
  kv::Txn& txn = batch.txn();
  absl::StatusOr<std::optional<std::string_view>> old_value = txn.Get(t.images, id);
  if (!old_value.ok()) return old_value.status();
  if (old_value->has_value()) {
    if (std::optional<job::ImageMeta> old = ParseImage(id, **old_value)) {
      PIXQ_RETURN_IF_ERROR(txn.Delete(t.image_order, OrderKey(PositionOf(*old))));
    }
  }
  if (!applied) return txn.Delete(t.images, id);
  PIXQ_RETURN_IF_ERROR(txn.Put(t.images, id, *value));
  return txn.Put(t.image_order, OrderKey(PositionOf(*applied)),
                 absl::AsciiStrToLower(applied->title));
}

ImageTable::Position ImageTable::PositionOf(const job::ImageMeta& meta) {
  const int64_t ms = job::Rfc3339ToUnixMillis(meta.created_at);
  return {ms < 0 ? -1 : ms, meta.id};
}

ImageTable::Page ImageTable::Scan(const std::optional<Position>& after, size_t limit,
                                  const std::function<bool(std::string_view)>& prefilter,
                                  const std::function<bool(const job::ImageMeta&)>& match) const {
  Page page;
  absl::StatusOr<std::unique_ptr<kv::Txn>> txn = store_.Read();
  if (!txn.ok()) return page;
  absl::StatusOr<kv::Cursor> cursor = (*txn)->Open(store_.tables().image_order);
  if (!cursor.ok()) return page;
  if (after) {
    const std::string from = OrderKey(*after);
    cursor->Seek(from);
    if (cursor->Valid() && cursor->key() == from) cursor->Next();
  } else {
    cursor->Seek("");
  }
  for (; cursor->Valid(); cursor->Next()) {
    if (cursor->key().size() < 8 || !prefilter(cursor->value())) continue;
    const std::string id = PositionFromKey(cursor->key()).second;
    absl::StatusOr<std::optional<std::string_view>> value = (*txn)->Get(store_.tables().images, id);
    if (!value.ok() || !value->has_value()) continue;
    std::optional<job::ImageMeta> meta = ParseImage(id, **value);
    if (!meta || !match(*meta)) continue;
    if (page.items.size() == limit) {
      page.more = true;
      break;
    }
    page.items.push_back(*std::move(meta));
  }
  return page;
}

ImageTable::Page ImageTable::List(const std::optional<Position>& after, size_t limit,
                                  const std::function<bool(const job::ImageMeta&)>& match) const {
  return Scan(
      after, limit, [](std::string_view) { return true; }, match);
}

ImageTable::Page ImageTable::ListByTitle(const std::optional<Position>& after, size_t limit,
                                         const std::string& lower_title) const {
  return Scan(
      after, limit,
      [&lower_title](std::string_view title) {
        return lower_title.empty() || title.find(lower_title) != std::string_view::npos;
      },
      [](const job::ImageMeta&) { return true; });
}

std::optional<job::ImageMeta> ImageTable::Get(const std::string& id) const {
  if (!CheckKey(id).ok()) return std::nullopt;
  absl::StatusOr<std::unique_ptr<kv::Txn>> txn = store_.Read();
  if (!txn.ok()) {
    LogReadError("image", txn.status());
    return std::nullopt;
  }
  absl::StatusOr<std::optional<std::string_view>> value = (*txn)->Get(store_.tables().images, id);
  if (!value.ok()) {
    LogReadError("image", value.status());
    return std::nullopt;
  }
  if (!value->has_value()) return std::nullopt;
  return ParseImage(id, **value);
}

size_t ImageTable::size() const {
  absl::StatusOr<std::unique_ptr<kv::Txn>> txn = store_.Read();
  if (!txn.ok()) return 0;
  absl::StatusOr<uint64_t> count = (*txn)->Count(store_.tables().images);
  return count.ok() ? static_cast<size_t>(*count) : 0;
}

}  // namespace pixq::state
