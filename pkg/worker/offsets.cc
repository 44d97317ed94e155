#include "pkg/worker/offsets.h"

#include <algorithm>

namespace pixq::worker {

void OffsetTracker::Started(const Partition& partition, int64_t offset) {
  auto [it, created] = partitions_.try_emplace(partition);
  // The first job seen is where consuming began: storing that offset again would say nothing.
  if (created) it->second.stored = offset;
  it->second.running.insert(offset);
}

std::optional<int64_t> OffsetTracker::Finished(const Partition& partition, int64_t offset) {
  auto it = partitions_.find(partition);
  if (it == partitions_.end() || it->second.running.erase(offset) == 0) return std::nullopt;
  State& s = it->second;
  s.highest_finished = std::max(s.highest_finished, offset);
  int64_t next = s.running.empty() ? s.highest_finished + 1 : *s.running.begin();
  if (!s.held.empty()) next = std::min(next, *s.held.begin());
  if (next <= s.stored) return std::nullopt;
  s.stored = next;
  return next;
}

void OffsetTracker::Held(const Partition& partition, int64_t offset) {
  auto it = partitions_.find(partition);
  if (it == partitions_.end() || it->second.running.erase(offset) == 0) return;
  it->second.held.insert(offset);
}

size_t OffsetTracker::Running(const Partition& partition) const {
  auto it = partitions_.find(partition);
  return it == partitions_.end() ? 0 : it->second.running.size();
}

size_t OffsetTracker::Running() const {
  size_t n = 0;
  for (const auto& [partition, state] : partitions_) n += state.running.size();
  return n;
}

void OffsetTracker::Forget(const Partition& partition) { partitions_.erase(partition); }

}  // namespace pixq::worker
