#pragma once

// What a consumer group is doing on a topic, as Kafka has it: per partition of the topic the
// group's committed offset against the log end (OffsetFetch, ListOffsets). Read on request, for
// GET /v1/queue; the API's admission reads the backlog on its own (capacity.h).
//
// Its members (DescribeConsumerGroups) are not asked for: librdkafka 2.0.2 can abort the process
// doing so (group.cc says more), so a read says the members are unknown, and why. GroupView keeps
// their fields for a librdkafka that has the fix.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "pkg/queue/message.h"

namespace pixq::queue {

struct GroupMember {
  std::string client_id;            // a worker's is "pixq-worker-<worker.name>"
  std::string member_id;            // the broker's name for this membership
  std::string host;                 // as the broker saw the connection, e.g. "/10.0.0.7"
  std::vector<int32_t> partitions;  // of the topic read, ascending
};

struct PartitionLag {
  int32_t partition = 0;
  int64_t committed = -1;  // the group's next offset to consume; -1 when it committed none
  int64_t log_end = 0;     // the high watermark: the offset the next record will get
  // Records not consumed yet: log end minus committed (minus the log start without a commit).
  int64_t lag = 0;
};

struct GroupView {
  std::string group_id;
  std::string topic;
  // Whether the broker described the group; when not (always, for now: group.cc), `members` is
  // empty and `members_unknown_why` says why.
  bool members_known = false;
  std::string members_unknown_why;
  std::string state;  // "Stable", "PreparingRebalance", "Empty", ... ("" when unknown)
  std::vector<GroupMember> members;
  std::vector<PartitionLag> partitions;  // every partition of the topic, by number
};

// The seam between the API and Kafka; tests pass a fake. Thread-safe.
class GroupReader {
 public:
  virtual ~GroupReader() = default;
  // Errors: "BrokerUnavailable" (503) when Kafka did not answer the metadata or offsets in time or
  // refused them; "UnknownTopic" (503) when the topic does not exist.
  [[nodiscard]] virtual absl::StatusOr<GroupView> Read() = 0;
};

struct GroupReaderOptions {
  std::string group_id = "pixq-workers";
  std::string topic = "pixq.jobs";
  absl::Duration timeout = absl::Seconds(2);  // each request to the broker
};

// Reads through a consumer of the group that never joins it (nothing subscribed or committed).
// Calls are serialised.
class KafkaGroupReader final : public GroupReader {
 public:
  // Errors: "InvalidConfig" for a bad client option.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<KafkaGroupReader>> Create(
      const ClientOptions& client, GroupReaderOptions options);
  ~KafkaGroupReader() override;

  absl::StatusOr<GroupView> Read() override;

  struct Impl;

 private:
  explicit KafkaGroupReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pixq::queue
