#pragma once

// Which offset of each partition may be committed while jobs of that partition finish out of
// order: everything below the oldest job still running. A job that finished but whose result is
// not durable is never reported finished, so the committed offset stays below it and it is
// delivered again after a restart or a rebalance (at-least-once; running a job twice is safe).
//
// Not thread-safe: the caller holds a lock.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>

namespace pixq::worker {

class OffsetTracker final {
 public:
  using Partition = std::pair<std::string, int32_t>;  // topic, partition

  void Started(const Partition& partition, int64_t offset);

  // Marks the job at `offset` finished and durable. Returns the offset to store (the next one to
  // consume, as Kafka commits it) when it moved forward, else nullopt.
  [[nodiscard]] std::optional<int64_t> Finished(const Partition& partition, int64_t offset);

  // The job at `offset` ended without a durable result: it no longer runs, but the stored offset
  // stays below it until the partition is forgotten (it is delivered again after a restart or a
  // rebalance).
  void Held(const Partition& partition, int64_t offset);

  // Jobs started and not finished, on one partition or on all (held ones are not running).
  [[nodiscard]] size_t Running(const Partition& partition) const;
  [[nodiscard]] size_t Running() const;

  // The partition was taken away: forget it (its new owner starts from the committed offset).
  void Forget(const Partition& partition);

 private:
  struct State {
    std::set<int64_t> running;
    std::set<int64_t> held;
    int64_t highest_finished = -1;
    int64_t stored = -1;
  };
  std::map<Partition, State> partitions_;
};

}  // namespace pixq::worker
