#pragma once

// An in-process queue::Consumer for unit tests of what consumes (worker::Runner): a log per
// partition that the test appends to, assignments and revocations the test decides, pauses and
// rewinds (Defer), resumes, and the offsets stored, as a group member sees them. Stored offsets
// count as committed at once; a partition revoked, or never assigned, refuses them
// ("OffsetNotStored"), as Kafka does.
//
// A revocation happens inside the next Poll, on the polling thread, as with librdkafka: the
// OnRevoke callback runs first (offsets stored until it returns count), then the partitions go.
// Poll waits (in real time, up to its timeout) for something to deliver; Wake ends a wait early,
// e.g. after a test moved its clock so that the poller looks at it again.
//
// Thread-safe; the Await* methods block until what they name has happened.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "pkg/errors/errors.h"
#include "pkg/queue/consumer.h"

namespace pixq::testing {

class FakeConsumer final : public queue::Consumer {
 public:
  using Partition = std::pair<std::string, int32_t>;  // topic, partition
  using PartitionsFn = std::function<void(const std::vector<Partition>&)>;

  // What runs before partitions are taken away (GroupOptions::on_revoke).
  void OnRevoke(PartitionsFn on_revoke) {
    absl::MutexLock lock(&mu_);
    on_revoke_ = std::move(on_revoke);
  }

  // Gives this member `partitions`; each is read from its committed offset (0 at first).
  void Assign(const std::vector<Partition>& partitions) {
    absl::MutexLock lock(&mu_);
    for (const Partition& p : partitions) {
      State& s = partitions_[p];
      s.assigned = true;
      s.paused = paused_all_;
      s.position = s.committed.value_or(0);
    }
  }

  // Takes `partitions` away at the next Poll.
  void Revoke(std::vector<Partition> partitions) {
    absl::MutexLock lock(&mu_);
    revocations_.push_back(std::move(partitions));
  }

  // Appends a record to the partition's log; returns its offset.
  int64_t Append(const std::string& topic, int32_t partition,
                 std::vector<queue::Header> headers = {}, std::string value = "{}") {
    absl::MutexLock lock(&mu_);
    std::vector<queue::Message>& log = partitions_[{topic, partition}].log;
    const auto offset = static_cast<int64_t>(log.size());
    log.push_back(queue::Message{
        .topic = topic,
        .partition = partition,
        .offset = offset,
        .key = topic + "/" + std::to_string(partition) + "@" + std::to_string(offset),
        .value = std::move(value),
        .headers = std::move(headers)});
    return offset;
  }

  // Ends the current (or the next) Poll's wait without a record.
  void Wake() {
    absl::MutexLock lock(&mu_);
    woken_ = true;
  }

  std::optional<queue::Message> Poll(absl::Duration timeout) override {
    std::vector<Partition> revoked;
    PartitionsFn on_revoke;
    {
      absl::MutexLock lock(&mu_);
      const auto something = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return woken_ || !revocations_.empty() || Deliverable() != nullptr;
      };
      mu_.AwaitWithTimeout(absl::Condition(&something), timeout);
      if (revocations_.empty()) {
        woken_ = false;
        State* s = Deliverable();
        if (s == nullptr) return std::nullopt;
        return s->log[s->position++];
      }
      revoked = std::move(revocations_.front());
      revocations_.erase(revocations_.begin());
      on_revoke = on_revoke_;
    }
    if (on_revoke) on_revoke(revoked);
    absl::MutexLock lock(&mu_);
    for (const Partition& p : revoked) {
      State& s = partitions_[p];
      s.assigned = false;
      s.paused = false;
    }
    ++revocations_done_;
    return std::nullopt;
  }

  absl::Status StoreOffset(const std::string& topic, int32_t partition, int64_t next) override {
    absl::MutexLock lock(&mu_);
    auto it = partitions_.find({topic, partition});
    if (it == partitions_.end() || !it->second.assigned) {
      return errors::Make(errors::Reason::kOffsetNotStored,
                          "store offset: the partition is not assigned (fake)");
    }
    it->second.committed = next;
    it->second.stored.push_back(next);
    return absl::OkStatus();
  }

  absl::Status Defer(const queue::Message& message) override {
    absl::MutexLock lock(&mu_);
    auto it = partitions_.find({message.topic, message.partition});
    if (it == partitions_.end() || !it->second.assigned) {
      return errors::Make(errors::Reason::kBrokerUnavailable,
                          "pause: the partition is not assigned (fake)");
    }
    it->second.paused = true;
    it->second.position = message.offset;
    ++it->second.pauses;
    return absl::OkStatus();
  }

  void PauseAll() override {
    absl::MutexLock lock(&mu_);
    paused_all_ = true;
    for (auto& [partition, s] : partitions_) s.paused = true;
  }

  // Whether PauseAll was called.
  bool PausedAll() const {
    absl::MutexLock lock(&mu_);
    return paused_all_;
  }

  void Resume(const std::string& topic, int32_t partition) override {
    absl::MutexLock lock(&mu_);
    State& s = partitions_[{topic, partition}];
    s.paused = false;
    ++s.resumes;
  }

  // Every offset stored for the partition, in order (the last is the committed one).
  std::vector<int64_t> Stored(const Partition& p) const {
    absl::MutexLock lock(&mu_);
    auto it = partitions_.find(p);
    return it == partitions_.end() ? std::vector<int64_t>() : it->second.stored;
  }
  std::optional<int64_t> Committed(const Partition& p) const {
    absl::MutexLock lock(&mu_);
    auto it = partitions_.find(p);
    return it == partitions_.end() ? std::nullopt : it->second.committed;
  }
  bool Paused(const Partition& p) const {
    absl::MutexLock lock(&mu_);
    auto it = partitions_.find(p);
    return it != partitions_.end() && it->second.paused;
  }
  bool Assigned(const Partition& p) const {
    absl::MutexLock lock(&mu_);
    auto it = partitions_.find(p);
    return it != partitions_.end() && it->second.assigned;
  }

  void AwaitCommitted(const Partition& p, int64_t next) const {
    Await([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      auto it = partitions_.find(p);
      return it != partitions_.end() && it->second.committed.value_or(-1) >= next;
    });
  }
  void AwaitPauses(const Partition& p, int count) const {
    Await([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      auto it = partitions_.find(p);
      return it != partitions_.end() && it->second.pauses >= count;
    });
  }
  void AwaitResumes(const Partition& p, int count) const {
    Await([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      auto it = partitions_.find(p);
      return it != partitions_.end() && it->second.resumes >= count;
    });
  }
  // Until `count` revocations are over (the callback returned and the partitions went).
  void AwaitRevocations(int count) const {
    Await([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return revocations_done_ >= count; });
  }

 private:
  struct State {
    std::vector<queue::Message> log;
    bool assigned = false;
    bool paused = false;
    int64_t position = 0;  // the next offset Poll delivers
    std::optional<int64_t> committed;
    std::vector<int64_t> stored;
    int pauses = 0;
    int resumes = 0;
  };

  // The first partition (in order) with a record to deliver, if any.
  State* Deliverable() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (auto& [partition, s] : partitions_) {
      if (s.assigned && !s.paused && s.position < static_cast<int64_t>(s.log.size())) return &s;
    }
    return nullptr;
  }

  template <typename Pred>
  void Await(Pred done) const {
    absl::MutexLock lock(&mu_, absl::Condition(&done));
  }

  mutable absl::Mutex mu_;
  std::map<Partition, State> partitions_ ABSL_GUARDED_BY(mu_);
  std::vector<std::vector<Partition>> revocations_ ABSL_GUARDED_BY(mu_);
  PartitionsFn on_revoke_ ABSL_GUARDED_BY(mu_);
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  bool paused_all_ ABSL_GUARDED_BY(mu_) = false;
  int revocations_done_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace pixq::testing
