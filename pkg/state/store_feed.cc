#include "pkg/state/store_feed.h"

#include <utility>

#include "absl/strings/str_cat.h"

#include "pkg/errors/errors.h"
#include "pkg/observability/log.h"

namespace pixq::state {
namespace {

// offsets: topic + NUL + partition (4 bytes) → next offset, last offset, last hash (8 bytes each,
// big-endian).
void Append(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t Read(std::string_view in, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(in[at + i]);
  return v;
}

std::string OffsetKey(std::string_view topic, int32_t partition) {
  std::string key(topic);
  key.push_back('\0');
  Append(key, static_cast<uint32_t>(partition), 4);
  return key;
}

std::string OffsetValue(const queue::StoredPosition& p) {
  std::string value;
  Append(value, static_cast<uint64_t>(p.next_offset), 8);
  Append(value, static_cast<uint64_t>(p.last_offset), 8);
  Append(value, p.last_hash, 8);
  return value;
}

}  // namespace

StoreFeed::StoreFeed(Store& store, JobTable& jobs, ImageTable& images, queue::Topics topics,
                     std::function<void()> on_applied)
    : store_(store),
      jobs_(jobs),
      images_(images),
      topics_(std::move(topics)),
      on_applied_(std::move(on_applied)) {}

std::vector<queue::StoredPosition> StoreFeed::Stored() {
  // Nothing stored would read as a fresh store over records it still holds (a replay from the
  // beginning on top of them, which keeps records since deleted): a store whose offsets cannot be
  // read answers a position that matches no partition, so the reader resets it.
  const auto unreadable = [this](const std::string& why) {
    observability::LogWarn("state store offsets unreadable",
                           {{"dir", store_.dir()}, {"error", why}});
    return std::vector<queue::StoredPosition>{
        queue::StoredPosition{.topic = std::string(kUnreadableOffsets), .next_offset = -1}};
  };
  std::vector<queue::StoredPosition> out;
  absl::StatusOr<std::unique_ptr<kv::Txn>> txn = store_.Read();
  if (!txn.ok()) return unreadable(std::string(txn.status().message()));
  absl::StatusOr<kv::Cursor> cursor = (*txn)->Open(store_.tables().offsets);
  if (!cursor.ok()) return unreadable(std::string(cursor.status().message()));
  for (cursor->Seek(""); cursor->Valid(); cursor->Next()) {
    const std::string_view key = cursor->key();
    const std::string_view value = cursor->value();
    const size_t nul = key.find('\0');
    if (nul == std::string_view::npos || key.size() != nul + 5 || value.size() != 24) {
      // Not written by this code: treat the whole store as unmatched.
      return unreadable("an offsets row not written by this version");
    }
    out.push_back(queue::StoredPosition{.topic = std::string(key.substr(0, nul)),
                                        .partition = static_cast<int32_t>(Read(key, nul + 1, 4)),
                                        .next_offset = static_cast<int64_t>(Read(value, 0, 8)),
                                        .last_offset = static_cast<int64_t>(Read(value, 8, 8)),
                                        .last_hash = Read(value, 16, 8)});
  }
  return out;
}

absl::Status StoreFeed::Reset(std::string_view why) {
  observability::LogWarn("state store cleared",
                         {{"dir", store_.dir()}, {"reason", std::string(why)}});
  PIXQ_RETURN_IF_ERROR(store_.Clear());
  jobs_.ForgetCache();
  if (on_applied_) on_applied_();
  return absl::OkStatus();
}

absl::Status StoreFeed::Apply(const std::vector<queue::Message>& records,
                              const std::vector<queue::StoredPosition>& positions) {
  absl::StatusOr<std::unique_ptr<WriteBatch>> batch = store_.Write();
  if (!batch.ok()) return batch.status();
  for (const queue::Message& m : records) {
    absl::Status applied;
    if (m.topic == topics_.images) {
      applied = images_.Apply(**batch, m.key, m.value);
    } else if (m.topic == topics_.job_status) {
      applied = jobs_.Apply(**batch, m.key, m.value);
    }
    if (applied.ok()) continue;
    if (IsStoreFailure(applied)) return applied;
    observability::LogWarn(
        "record skipped",
        {{"topic", m.topic}, {"offset", m.offset}, {"error", std::string(applied.message())}});
  }
  for (const queue::StoredPosition& p : positions) {
    PIXQ_RETURN_IF_ERROR((*batch)->txn().Put(store_.tables().offsets,
                                             OffsetKey(p.topic, p.partition), OffsetValue(p)));
  }
  PIXQ_RETURN_IF_ERROR((*batch)->Commit());
  if (on_applied_) on_applied_();
  return absl::OkStatus();
}

}  // namespace pixq::state
