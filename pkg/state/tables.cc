#include "pkg/state/tables.h"

#include <mutex>
#include <utility>

#include "pkg/job/ids.h"
#include "pkg/job/json.h"

namespace pixq::state {

absl::Status JobTable::Apply(const std::string& id, const std::optional<std::string>& value) {
  std::vector<Watcher> fire;
  std::shared_ptr<const job::JobRecord> applied;
  if (value.has_value()) {
    // Parsed before anything changes: an unreadable record leaves the table as it was.
    absl::StatusOr<job::JobRecord> record = job::RecordFromJson(*value);
    if (!record.ok()) return record.status();
    applied = std::make_shared<const job::JobRecord>(*std::move(record));
  }
  {
    std::unique_lock<std::shared_mutex> lock(mu_);
    if (auto old = records_.find(id); old != records_.end()) Unindex(*old->second);
    if (!applied) {
      records_.erase(id);
      by_id_.Erase(id);
    } else {
      if (applied->status.phase == job::Phase::kSucceeded && applied->status.output) {
        outputs_[applied->output_key] = *applied->status.output;
      }
      if (!applied->idempotency_key.empty())
        by_idempotency_key_[applied->idempotency_key].insert(id);
      if (!applied->batch_id.empty()) batches_[applied->batch_id][applied->batch_index] = id;
      records_[id] = applied;
      by_id_.Put(id, applied);
    }
    auto [begin, end] = watchers_.equal_range(id);
    for (auto it = begin; it != end; ++it) {
      fire.push_back(std::move(it->second.second));
      watcher_ids_.erase(it->second.first);
    }
    watchers_.erase(begin, end);
  }
  // A deleted job wakes its watchers with an empty record id, so they answer 404.
  const job::JobRecord gone;
  for (Watcher& w : fire) w(applied ? *applied : gone);
  return absl::OkStatus();
}

void JobTable::Unindex(const job::JobRecord& record) {
  if (auto it = by_idempotency_key_.find(record.idempotency_key); it != by_idempotency_key_.end()) {
    it->second.erase(record.id);
    if (it->second.empty()) by_idempotency_key_.erase(it);
  }
  if (auto batch = batches_.find(record.batch_id); batch != batches_.end()) {
    if (auto it = batch->second.find(record.batch_index);
        it != batch->second.end() && it->second == record.id) {
      batch->second.erase(it);
    }
    if (batch->second.empty()) batches_.erase(batch);
  }
}

std::optional<job::JobRecord> JobTable::FindByIdempotencyKey(const std::string& key) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto it = by_idempotency_key_.find(key);
  if (it == by_idempotency_key_.end()) return std::nullopt;
  for (const std::string& id : it->second) {
    if (auto record = records_.find(id); record != records_.end()) return *record->second;
  }
  return std::nullopt;
}

std::vector<job::JobRecord> JobTable::Batch(const std::string& batch_id) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  std::vector<job::JobRecord> jobs;
  auto batch = batches_.find(batch_id);
  if (batch == batches_.end()) return jobs;
  for (const auto& [index, id] : batch->second) {
    if (auto record = records_.find(id); record != records_.end()) jobs.push_back(*record->second);
  }
  return jobs;
}

std::optional<job::JobRecord> JobTable::Get(const std::string& id) const { return by_id_.Get(id); }

std::optional<job::OutputInfo> JobTable::FindOutput(const std::string& output_key) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto it = outputs_.find(output_key);
  if (it == outputs_.end()) return std::nullopt;
  return it->second;
}

uint64_t JobTable::Watch(const std::string& id, Watcher watcher) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  const uint64_t token = next_token_++;
  watchers_.emplace(id, std::make_pair(token, std::move(watcher)));
  watcher_ids_.emplace(token, id);
  return token;
}

bool JobTable::Unwatch(uint64_t token) {
  std::unique_lock<std::shared_mutex> lock(mu_);
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
  std::shared_lock<std::shared_mutex> lock(mu_);
  return records_.size();
}

std::vector<job::JobRecord> JobTable::Snapshot() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  std::vector<job::JobRecord> out;
  out.reserve(records_.size());
  for (const auto& [id, record] : records_) out.push_back(*record);
  return out;
}

JobTable::Page JobTable::List(const std::string& after, size_t limit,
                              const std::function<bool(const job::JobRecord&)>& match) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  Page page;
  for (auto it = after.empty() ? records_.begin() : records_.upper_bound(after);
       it != records_.end(); ++it) {
    if (!match(*it->second)) continue;
    if (page.items.size() == limit) {
      page.more = true;
      break;
    }
    page.items.push_back(*it->second);
  }
  return page;
}

absl::Status ImageTable::Apply(const std::string& id, const std::optional<std::string>& value) {
  if (!value.has_value()) {
    std::unique_lock<std::shared_mutex> lock(mu_);
    if (auto it = images_.find(id); it != images_.end()) {
      order_.erase(PositionOf(*it->second));
      images_.erase(it);
      by_id_.Erase(id);
    }
    return absl::OkStatus();
  }
  absl::StatusOr<job::ImageMeta> meta = job::ImageMetaFromJson(*value);
  if (!meta.ok()) return meta.status();
  // Listed under the key it was published with, whatever the value says.
  meta->id = id;
  auto applied = std::make_shared<const job::ImageMeta>(*std::move(meta));
  std::unique_lock<std::shared_mutex> lock(mu_);
  if (auto it = images_.find(id); it != images_.end()) order_.erase(PositionOf(*it->second));
  order_.insert(PositionOf(*applied));
  images_[id] = applied;
  by_id_.Put(id, applied);
  return absl::OkStatus();
}

ImageTable::Position ImageTable::PositionOf(const job::ImageMeta& meta) {
  const int64_t ms = job::Rfc3339ToUnixMillis(meta.created_at);
  return {ms < 0 ? -1 : ms, meta.id};
}

ImageTable::Page ImageTable::List(const std::optional<Position>& after, size_t limit,
                                  const std::function<bool(const job::ImageMeta&)>& match) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  Page page;
  for (auto it = after ? order_.upper_bound(*after) : order_.begin(); it != order_.end(); ++it) {
    const job::ImageMeta& meta = *images_.at(it->second);
    if (!match(meta)) continue;
    if (page.items.size() == limit) {
      page.more = true;
      break;
    }
    page.items.push_back(meta);
  }
  return page;
}

std::optional<job::ImageMeta> ImageTable::Get(const std::string& id) const {
  return by_id_.Get(id);
}

size_t ImageTable::size() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return images_.size();
}

}  // namespace pixq::state
