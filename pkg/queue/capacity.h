#pragma once

// How much room pixq's work topics have, and how much of it the backlog takes: what the API's
// admission (pkg/api/admission.h) decides on, so that no job it accepted is deleted by a topic's
// retention before a worker ran it.
//
// The room of a partition is what it keeps before deleting its oldest records: a real Kafka's
// topic configs (retention.bytes, retention.ms, read with DescribeConfigs), or the local broker's
// fixed limits (librdkafka's mock cluster keeps at most 5 MiB and 100,000 message sets per
// partition, rd_kafka_mock_msgset_new in rdkafka_mock.c, no setter; it does not answer
// DescribeConfigs at all). The backlog of a partition is what the workers' group has not consumed
// yet: log end minus committed offset, in records, estimated bytes, and age.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "pkg/clock/clock.h"
#include "pkg/queue/message.h"
#include "pkg/queue/producer.h"

namespace pixq::queue {

// What one partition keeps before it deletes its oldest records. Every bound applies; 0 (or an
// infinite age) is no bound.
struct PartitionRoom {
  int64_t bytes = 0;    // retention.bytes; the local broker's 5 MiB
  int64_t records = 0;  // the local broker's 100,000 message sets (a record is at most one set)
  absl::Duration age = absl::InfiniteDuration();  // retention.ms

  friend bool operator==(const PartitionRoom&, const PartitionRoom&) = default;
};

// The local broker's limits (see above).
inline constexpr PartitionRoom kLocalBrokerRoom{
    .bytes = int64_t{5} << 20, .records = 100'000, .age = absl::InfiniteDuration()};

// The backlog of one partition of a work topic, and its room.
struct PartitionBacklog {
  std::string topic;
  int32_t partition = 0;
  int64_t log_end = 0;    // the offset the next record will get
  int64_t committed = 0;  // the group's next offset to consume; the log start when none
  int64_t records = 0;    // log_end - committed
  int64_t bytes = 0;      // records times the estimated size of one (RecordSizes)
  // At most how long the oldest unconsumed record has waited (from when the log end was first
  // seen past it); zero while nothing waits.
  absl::Duration oldest_age = absl::ZeroDuration();
  PartitionRoom room;
};

// The share of its room the backlog takes: the largest of bytes, records and age over their
// bounds; 0 when the room has none.
[[nodiscard]] double FractionOfRoom(const PartitionBacklog& backlog);

// The seam between the admission and Kafka. KafkaBacklogSource is the real one; tests pass a
// fake. Called from one thread at a time.
class BacklogSource {
 public:
  virtual ~BacklogSource() = default;
  // Every partition of the work topics as of now. Errors: the client's ("BrokerUnavailable",
  // "ProduceTimeout" for a broker that did not answer in time, "UnknownTopic").
  [[nodiscard]] virtual absl::StatusOr<std::vector<PartitionBacklog>> Read() = 0;
};

// The sizes of the records produced, per topic, to turn a backlog counted in records into bytes.
// Thread-safe.
class RecordSizes final {
 public:
  // Per record beyond key, value and headers: a record batch's header (61 bytes) and a record's
  // own framing (up to about 20), counted in full for every record as if each were a batch of
  // its own (an unbatched producer, and the local broker's "message set"): an overestimate when
  // records share a batch, which errs on the safe side.
  static constexpr int64_t kOverheadBytes = 80;

  struct Totals {
    int64_t records = 0;
    int64_t bytes = 0;  // with the overhead
  };

  void Add(const OutgoingMessage& message);
  // The mean size of the records sent to `topic` with their overhead; `fallback` before any was.
  [[nodiscard]] int64_t Average(const std::string& topic, int64_t fallback) const;
  // Everything sent to `topic` so far.
  [[nodiscard]] Totals SentTo(const std::string& topic) const;

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, Totals> totals_ ABSL_GUARDED_BY(mu_);
};

// A Producer that notes the size of every record it hands on in `sizes`.
class MeasuredProducer final : public Producer {
 public:
  MeasuredProducer(Producer& inner, RecordSizes& sizes) : inner_(inner), sizes_(sizes) {}

  absl::Status Send(const OutgoingMessage& message, absl::Duration timeout) override;
  void SendAsync(const OutgoingMessage& message, DeliveryCallback done) override;
  absl::Status Flush(absl::Duration timeout) override;

 private:
  Producer& inner_;
  RecordSizes& sizes_;
};

struct BacklogOptions {
  std::vector<std::string> topics;  // the work topics (pixq.jobs, pixq.jobs.retry)
  // The group that consumes each topic, in the order of `topics`: the workers' group on
  // pixq.jobs, RetryGroupOf's on the retry topic (queue::ConsumerSet says why they differ).
  std::vector<std::string> group_ids = {"pixq-workers"};
  // The room as configured; a bound of 0 here is read from the topic's configs (DescribeConfigs),
  // or, when the broker does not describe configs (the local broker), is kLocalBrokerRoom's.
  PartitionRoom configured;
  // What one request to the broker may take.
  absl::Duration timeout = absl::Seconds(2);
  // How often the topic configs are read again (they change rarely; the backlog every Read).
  absl::Duration room_refresh = absl::Minutes(1);
  // The size of a record of a topic nothing was sent to by this process: the first topic's
  // average (a worker's retry is the same job again), or this before anything was sent.
  int64_t fallback_record_bytes = 1024;
};

// The backlog as Kafka has it: watermarks (ListOffsets) and each group's committed offsets
// (OffsetFetch) through a consumer per group that never joins it, the room from DescribeConfigs.
class KafkaBacklogSource final : public BacklogSource {
 public:
  // Errors: "InvalidConfig" for a bad client option.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<KafkaBacklogSource>> Create(
      const ClientOptions& client, BacklogOptions options, const RecordSizes& sizes,
      clock::Clock& clock);
  ~KafkaBacklogSource() override;

  absl::StatusOr<std::vector<PartitionBacklog>> Read() override;

  struct Impl;

 private:
  explicit KafkaBacklogSource(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// How long the oldest unconsumed record of a partition has waited, without reading records: a
// bounded history of the log ends seen over time. The record at the committed offset was written
// after the latest sample whose log end was at or before it, so its age is at most the time since
// that sample. A record older than the history (seen at the first sample already) gets the time
// since the first sample: an underestimate until the history covers it. When the history is full
// every other sample goes, which only loosens the bound. Not thread-safe.
class LogEndHistory final {
 public:
  static constexpr size_t kMaxSamples = 4096;

  // Notes the log end at `now` and answers the age of the record at `committed` (zero when the
  // log end is there: nothing waits).
  absl::Duration Observe(int64_t log_end, int64_t committed, absl::Time now);

 private:
  struct Sample {
    int64_t log_end;
    absl::Time at;
  };
  std::vector<Sample> samples_;  // oldest first, log ends increasing
};

}  // namespace pixq::queue
