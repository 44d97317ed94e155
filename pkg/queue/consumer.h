#pragma once

// Consuming the work topics as a member of a consumer group, at least once.
//
// Offsets are stored by the application, never automatically: call StoreOffset(message) only once
// the message's result is durable. Stored offsets are committed in the background and on Close.
// A message whose offset was not stored before a crash or a rebalance is delivered again, to this
// or another member, so handlers must be idempotent.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "pkg/queue/message.h"

namespace pixq::queue {

struct GroupOptions {
  std::string group_id = "pixq-workers";
  std::vector<std::string> topics;
  absl::Duration session_timeout = absl::Seconds(6);
  // The longest the application may go without polling (librdkafka's max.poll.interval.ms) before
  // it is dropped from the group: longer than any job, and than a drain on shutdown or revocation.
  absl::Duration max_poll_interval = absl::Minutes(5);
  // Called (on the polling thread) after each rebalance with the partitions now owned.
  std::function<void(const std::vector<std::pair<std::string, int32_t>>&)> on_assign;
  // Called (on the polling thread) when partitions are taken away, before they are released:
  // offsets stored until it returns are committed for them.
  std::function<void(const std::vector<std::pair<std::string, int32_t>>&)> on_revoke;
  // Called every `stats_interval` (on a librdkafka thread) with the lag, in messages, of each
  // partition of the first topic that this member owns. Not called when unset.
  std::function<void(int32_t partition, int64_t lag)> on_lag;
  absl::Duration stats_interval = absl::Seconds(5);
};

// What worker::Runner needs of a group consumer: the seam between it and Kafka. GroupConsumer is
// the real one; tests/fakes/fake_consumer.h is an in-process one with assignments, revocations,
// pauses and stored offsets that a test drives.
//
// Revocations are reported from inside Poll, on the polling thread, before the partitions go
// (GroupOptions::on_revoke for the real one): offsets stored until the callback returns count.
class Consumer {
 public:
  virtual ~Consumer() = default;

  // The next record, or nullopt when none arrived within `timeout`. Not thread-safe: one poller.
  [[nodiscard]] virtual std::optional<Message> Poll(absl::Duration timeout) = 0;

  // Stores `next` (the offset of the next record to consume) for the partition. Thread-safe.
  // Errors: "OffsetNotStored" (typically: the partition is no longer ours).
  [[nodiscard]] virtual absl::Status StoreOffset(const std::string& topic, int32_t partition,
                                                 int64_t next) = 0;
  // Marks `message` as done: its offset + 1 will be committed for its partition.
  [[nodiscard]] absl::Status StoreOffset(const Message& message) {
    return StoreOffset(message.topic, message.partition, message.offset + 1);
  }

  // Stops fetching from `message`'s partition and rewinds it to `message`, which (with those
  // after it) is delivered again after Resume. For work that may not start yet (a retry before
  // its time) without holding up other partitions. Polling thread only.
  // Errors: the client's (internal::ToStatus; "BrokerUnavailable" for most) when the partition
  // cannot be paused or rewound (no longer ours).
  [[nodiscard]] virtual absl::Status Defer(const Message& message) = 0;
  // Fetches from the partition again. Polling thread only.
  virtual void Resume(const std::string& topic, int32_t partition) = 0;

  // Stops fetching from every partition, those owned now and those the group gives this member
  // later, for good: Poll then only answers the group (rebalances, commits) and returns nothing
  // it had not fetched already. For a drain, which must keep polling or the group drops this
  // member and refuses its last commits. Polling thread only.
  virtual void PauseAll() = 0;
};

class GroupConsumer final : public Consumer {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<GroupConsumer>> Create(
      const ClientOptions& client, GroupOptions group);
  ~GroupConsumer() override;

  [[nodiscard]] std::optional<Message> Poll(absl::Duration timeout) override;
  using Consumer::StoreOffset;
  [[nodiscard]] absl::Status StoreOffset(const std::string& topic, int32_t partition,
                                         int64_t next) override;
  [[nodiscard]] absl::Status Defer(const Message& message) override;
  void Resume(const std::string& topic, int32_t partition) override;
  void PauseAll() override;

  // Commits what was stored and leaves the group. Idempotent; the destructor calls it.
  void Close();

  // How many partitions this member owns now.
  [[nodiscard]] int AssignedPartitions() const;

  // Whether the group has given this member an assignment (possibly empty) at least once: it is
  // a member and will be handed work when there is some. Thread-safe.
  [[nodiscard]] bool Joined() const;

  struct Impl;

 private:
  explicit GroupConsumer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pixq::queue
