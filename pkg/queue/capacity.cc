#include "pkg/queue/capacity.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include "pkg/errors/errors.h"
#include "pkg/observability/log.h"
#include "pkg/queue/client_internal.h"

namespace pixq::queue {
namespace {

int TimeoutMs(absl::Duration timeout) {
  return static_cast<int>(std::max<int64_t>(absl::ToInt64Milliseconds(timeout), 1));
}

// The tighter of two bounds, where 0 is none.
int64_t Tighter(int64_t a, int64_t b) {
  if (a <= 0) return b;
  if (b <= 0) return a;
  return std::min(a, b);
}

// A topic's room from its configs: retention.bytes and retention.ms where cleanup.policy deletes
// (a compacted-only topic deletes nothing by size or age; -1 is "no limit").
PartitionRoom RoomFromConfigs(const std::map<std::string, std::string>& configs) {
  PartitionRoom room;
  auto policy = configs.find("cleanup.policy");
  if (policy != configs.end()) {
    const std::vector<std::string> policies = absl::StrSplit(policy->second, ',');
    if (std::find(policies.begin(), policies.end(), "delete") == policies.end()) return room;
  }
  int64_t value = 0;
  if (auto bytes = configs.find("retention.bytes");
      bytes != configs.end() && absl::SimpleAtoi(bytes->second, &value) && value > 0) {
    room.bytes = value;
  }
  if (auto ms = configs.find("retention.ms");
      ms != configs.end() && absl::SimpleAtoi(ms->second, &value) && value > 0) {
    room.age = absl::Milliseconds(value);
  }
  return room;
}

}  // namespace

double FractionOfRoom(const PartitionBacklog& backlog) {
  double fraction = 0;
  const PartitionRoom& room = backlog.room;
  if (room.bytes > 0) {
    fraction = std::max(fraction, static_cast<double>(backlog.bytes) / room.bytes);
  }
  if (room.records > 0) {
    fraction = std::max(fraction, static_cast<double>(backlog.records) / room.records);
  }
  if (room.age < absl::InfiniteDuration() && room.age > absl::ZeroDuration()) {
    fraction = std::max(fraction, absl::FDivDuration(backlog.oldest_age, room.age));
  }
  return fraction;
}

void RecordSizes::Add(const OutgoingMessage& message) {
  int64_t bytes = kOverheadBytes + static_cast<int64_t>(message.key.size() + message.value.size());
  for (const Header& h : message.headers) {
    bytes += static_cast<int64_t>(h.key.size() + h.value.size());
  }
  absl::MutexLock lock(&mu_);
  Totals& totals = totals_[message.topic];
  ++totals.records;
  totals.bytes += bytes;
}

int64_t RecordSizes::Average(const std::string& topic, int64_t fallback) const {
  absl::MutexLock lock(&mu_);
  auto it = totals_.find(topic);
  if (it == totals_.end() || it->second.records == 0) return fallback;
  // Rounded up: an estimate of room taken should not come out low.
  return (it->second.bytes + it->second.records - 1) / it->second.records;
}

RecordSizes::Totals RecordSizes::SentTo(const std::string& topic) const {
  absl::MutexLock lock(&mu_);
  auto it = totals_.find(topic);
  return it == totals_.end() ? Totals{} : it->second;
}

absl::Status MeasuredProducer::Send(const OutgoingMessage& message, absl::Duration timeout) {
  sizes_.Add(message);
  return inner_.Send(message, timeout);
}

void MeasuredProducer::SendAsync(const OutgoingMessage& message, DeliveryCallback done) {
  sizes_.Add(message);
  inner_.SendAsync(message, std::move(done));
}

absl::Status MeasuredProducer::Flush(absl::Duration timeout) { return inner_.Flush(timeout); }

absl::Duration LogEndHistory::Observe(int64_t log_end, int64_t committed, absl::Time now) {
  if (samples_.empty() || samples_.back().log_end != log_end) samples_.push_back({log_end, now});
  // Only the latest sample at or before the committed offset bounds anything from now on.
  auto first_after =
      std::upper_bound(samples_.begin(), samples_.end(), committed,
                       [](int64_t offset, const Sample& s) { return offset < s.log_end; });
  if (first_after - samples_.begin() > 1) samples_.erase(samples_.begin(), first_after - 1);
  if (samples_.size() > kMaxSamples) {
    std::vector<Sample> kept;
    kept.reserve(samples_.size() / 2 + 2);
    for (size_t i = 0; i < samples_.size(); i += 2) kept.push_back(samples_[i]);
    if (kept.back().log_end != samples_.back().log_end) kept.push_back(samples_.back());
    samples_ = std::move(kept);
  }
  if (committed >= log_end) return absl::ZeroDuration();
  // samples_.front() is now the latest sample at or before `committed`, or, when none is, the
  // first one seen.
  return now - samples_.front().at;
}

struct KafkaBacklogSource::Impl {
  BacklogOptions options;
  const RecordSizes* sizes = nullptr;
  clock::Clock* clock = nullptr;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer;  // of group_ids[0]; also metadata, offsets
  // Per group id, the client whose committed() reads that group's offsets.
  std::map<std::string, RdKafka::KafkaConsumer*> committed_readers;
  std::vector<std::unique_ptr<RdKafka::KafkaConsumer>> other_groups;

  std::map<std::string, PartitionRoom> rooms;  // per topic, configured bounds applied
  absl::Time rooms_read = absl::InfinitePast();
  bool local_broker_logged = false;
  std::map<std::pair<std::string, int32_t>, LogEndHistory> histories;

  // The topics' configs (DescribeConfigs), with the configured bounds applied.
  absl::Status ReadRooms();
  // Each topic's partitions.
  absl::StatusOr<std::vector<std::pair<std::string, int32_t>>> Partitions();
  // Offsets at `time` (-1: the log end, -2: the log start), one ListOffsets for all.
  absl::StatusOr<std::vector<int64_t>> OffsetsAt(
      const std::vector<std::pair<std::string, int32_t>>& partitions, int64_t time);
};

absl::Status KafkaBacklogSource::Impl::ReadRooms() {
  rd_kafka_t* rk = consumer->c_ptr();
  // Asked of one broker, not the controller: topic configs are answered by any broker, and the
  // local broker names no controller that librdkafka accepts (the request would wait for one
  // until it timed out) where a broker asked directly says at once that it lacks the API.
  int32_t broker_id = -1;
  {
    RdKafka::Metadata* raw = nullptr;
    const RdKafka::ErrorCode code =
        consumer->metadata(false, nullptr, &raw, TimeoutMs(options.timeout));
    std::unique_ptr<RdKafka::Metadata> metadata(raw);
    if (code != RdKafka::ERR_NO_ERROR) return internal::ToStatus(code, "metadata");
    if (metadata->brokers()->empty()) {
      return errors::Make(errors::Reason::kBrokerUnavailable, "metadata: no brokers");
    }
    broker_id = metadata->brokers()->front()->id();
  }
  std::vector<rd_kafka_ConfigResource_t*> resources;
  for (const std::string& topic : options.topics) {
    resources.push_back(rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str()));
  }
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  rd_kafka_AdminOptions_t* admin = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
  char err[256];
  rd_kafka_AdminOptions_set_request_timeout(admin, TimeoutMs(options.timeout), err, sizeof(err));
  rd_kafka_AdminOptions_set_broker(admin, broker_id, err, sizeof(err));
  rd_kafka_DescribeConfigs(rk, resources.data(), resources.size(), admin, queue);
  rd_kafka_AdminOptions_destroy(admin);
  for (rd_kafka_ConfigResource_t* r : resources) rd_kafka_ConfigResource_destroy(r);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, TimeoutMs(options.timeout * 2));
  rd_kafka_queue_destroy(queue);
  if (event == nullptr) {
    return errors::Make(errors::Reason::kProduceTimeout, "describe configs: no answer in time");
  }
  std::map<std::string, PartitionRoom> described;
  const rd_kafka_resp_err_t code = rd_kafka_event_error(event);
  if (code == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE) {
    // No broker of a real Kafka lacks DescribeConfigs (it is there since 0.11); librdkafka's mock
    // cluster has no handler for it. Its limits are fixed and known.
    if (!local_broker_logged) {
      observability::LogInfo(
          "topic room: the broker does not describe configs, so it is taken "
          "as the local broker (librdkafka's mock cluster) and its limits",
          {{"bytes", kLocalBrokerRoom.bytes}, {"records", kLocalBrokerRoom.records}});
      local_broker_logged = true;
    }
    for (const std::string& topic : options.topics) described[topic] = kLocalBrokerRoom;
  } else if (code != RD_KAFKA_RESP_ERR_NO_ERROR) {
    const std::string message =
        absl::StrCat("describe configs: ", rd_kafka_event_error_string(event));
    rd_kafka_event_destroy(event);
    return internal::ToStatus(static_cast<RdKafka::ErrorCode>(code), message);
  } else {
    const rd_kafka_DescribeConfigs_result_t* result = rd_kafka_event_DescribeConfigs_result(event);
    size_t count = 0;
    const rd_kafka_ConfigResource_t** described_resources =
        rd_kafka_DescribeConfigs_result_resources(result, &count);
    for (size_t i = 0; i < count; ++i) {
      const rd_kafka_ConfigResource_t* resource = described_resources[i];
      const std::string topic = rd_kafka_ConfigResource_name(resource);
      if (rd_kafka_resp_err_t e = rd_kafka_ConfigResource_error(resource); e) {
        rd_kafka_event_destroy(event);
        return internal::ToStatus(static_cast<RdKafka::ErrorCode>(e),
                                  absl::StrCat("describe configs of ", topic));
      }
      size_t entries = 0;
      const rd_kafka_ConfigEntry_t** configs = rd_kafka_ConfigResource_configs(resource, &entries);
      std::map<std::string, std::string> values;
      for (size_t j = 0; j < entries; ++j) {
        const char* value = rd_kafka_ConfigEntry_value(configs[j]);
        values[rd_kafka_ConfigEntry_name(configs[j])] = value != nullptr ? value : "";
      }
      described[topic] = RoomFromConfigs(values);
    }
  }
  rd_kafka_event_destroy(event);
  for (const std::string& topic : options.topics) {
    PartitionRoom room = described[topic];
    room.bytes = Tighter(room.bytes, options.configured.bytes);
    room.records = Tighter(room.records, options.configured.records);
    room.age = std::min(room.age, options.configured.age);
    if (rooms.find(topic) == rooms.end() || !(rooms[topic] == room)) {
      observability::LogInfo("topic room", {{"topic", topic},
                                            {"bytes", room.bytes},
                                            {"records", room.records},
                                            {"age", absl::FormatDuration(room.age)}});
    }
    rooms[topic] = room;
  }
  rooms_read = clock->Now();
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::pair<std::string, int32_t>>>
KafkaBacklogSource::Impl::Partitions() {
  std::vector<std::pair<std::string, int32_t>> out;
  for (const std::string& topic : options.topics) {
    std::string err;
    std::unique_ptr<RdKafka::Topic> handle(
        RdKafka::Topic::create(consumer.get(), topic, nullptr, err));
    if (handle == nullptr) return errors::Make(errors::Reason::kKafkaClient, err);
    RdKafka::Metadata* raw = nullptr;
    const RdKafka::ErrorCode code =
        consumer->metadata(false, handle.get(), &raw, TimeoutMs(options.timeout));
    std::unique_ptr<RdKafka::Metadata> metadata(raw);
    if (code != RdKafka::ERR_NO_ERROR) return internal::ToStatus(code, "metadata of " + topic);
    for (const RdKafka::TopicMetadata* t : *metadata->topics()) {
      if (t->err() != RdKafka::ERR_NO_ERROR || t->partitions()->empty()) {
        return errors::Make(errors::Reason::kUnknownTopic,
                            absl::StrCat("topic ", topic, ": ", RdKafka::err2str(t->err())));
      }
      for (const RdKafka::PartitionMetadata* p : *t->partitions()) out.emplace_back(topic, p->id());
    }
  }
  return out;
}

absl::StatusOr<std::vector<int64_t>> KafkaBacklogSource::Impl::OffsetsAt(
    const std::vector<std::pair<std::string, int32_t>>& partitions, int64_t time) {
  std::vector<RdKafka::TopicPartition*> query;
  for (const auto& [topic, partition] : partitions) {
    query.push_back(RdKafka::TopicPartition::create(topic, partition, time));
  }
  absl::Status status = internal::ToStatus(
      consumer->offsetsForTimes(query, TimeoutMs(options.timeout)), "list offsets");
  std::vector<int64_t> offsets;
  for (RdKafka::TopicPartition* p : query) {
    if (status.ok() && p->err() != RdKafka::ERR_NO_ERROR) {
      status = internal::ToStatus(p->err(), "list offsets of " + p->topic());
    }
    offsets.push_back(p->offset());
    delete p;
  }
  if (!status.ok()) return status;
  return offsets;
}

absl::StatusOr<std::unique_ptr<KafkaBacklogSource>> KafkaBacklogSource::Create(
    const ClientOptions& client, BacklogOptions options, const RecordSizes& sizes,
    clock::Clock& clock) {
  auto impl = std::make_unique<Impl>();
  if (options.group_ids.size() != options.topics.size()) {
    return errors::Make(errors::Reason::kInvalidConfig,
                        "backlog: one consumer group per work topic, in the same order");
  }
  // A client per group id, to read its committed offsets (OffsetFetch). Nothing is subscribed,
  // assigned or committed under it: these clients never join their group.
  for (const std::string& group_id : options.group_ids) {
    if (impl->committed_readers.contains(group_id)) continue;
    absl::StatusOr<std::unique_ptr<RdKafka::Conf>> conf =
        internal::MakeConf(client, {{"group.id", group_id},
                                    {"enable.auto.commit", "false"},
                                    {"enable.auto.offset.store", "false"}});
    if (!conf.ok()) return conf.status();
    std::string err;
    std::unique_ptr<RdKafka::KafkaConsumer> reader(
        RdKafka::KafkaConsumer::create(conf->get(), err));
    if (reader == nullptr) {
      return errors::Make(errors::Reason::kInvalidConfig, absl::StrCat("kafka consumer: ", err));
    }
    impl->committed_readers[group_id] = reader.get();
    if (impl->consumer == nullptr) {
      impl->consumer = std::move(reader);
    } else {
      impl->other_groups.push_back(std::move(reader));
    }
  }
  impl->options = std::move(options);
  impl->sizes = &sizes;
  impl->clock = &clock;
  return std::unique_ptr<KafkaBacklogSource>(new KafkaBacklogSource(std::move(impl)));
}

KafkaBacklogSource::KafkaBacklogSource(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

KafkaBacklogSource::~KafkaBacklogSource() {
  for (auto& reader : impl_->other_groups) reader->close();
  impl_->consumer->close();
}

absl::StatusOr<std::vector<PartitionBacklog>> KafkaBacklogSource::Read() {
  Impl& impl = *impl_;
  const absl::Time now = impl.clock->Now();
  if (now - impl.rooms_read >= impl.options.room_refresh) {
    absl::Status read = impl.ReadRooms();
    // A room read once stays good while the broker cannot be asked again.
    if (!read.ok() && impl.rooms.empty()) return read;
    if (!read.ok()) {
      observability::LogWarn("topic room not refreshed", {{"error", std::string(read.message())}});
    }
  }
  absl::StatusOr<std::vector<std::pair<std::string, int32_t>>> partitions = impl.Partitions();
  if (!partitions.ok()) return partitions.status();
  absl::StatusOr<std::vector<int64_t>> ends = impl.OffsetsAt(*partitions, -1);
  if (!ends.ok()) return ends.status();
  absl::StatusOr<std::vector<int64_t>> starts = impl.OffsetsAt(*partitions, -2);
  if (!starts.ok()) return starts.status();

  // Each partition's committed offset, read from its topic's group.
  std::vector<RdKafka::TopicPartition*> committed;
  for (const auto& [topic, partition] : *partitions) {
    committed.push_back(RdKafka::TopicPartition::create(topic, partition));
  }
  absl::Status status;
  for (const auto& [group_id, reader] : impl.committed_readers) {
    std::vector<RdKafka::TopicPartition*> mine;
    for (RdKafka::TopicPartition* p : committed) {
      const auto& topics = impl.options.topics;
      const size_t t = std::find(topics.begin(), topics.end(), p->topic()) - topics.begin();
      if (t < topics.size() && impl.options.group_ids[t] == group_id) mine.push_back(p);
    }
    if (mine.empty() || !status.ok()) continue;
    status = internal::ToStatus(reader->committed(mine, TimeoutMs(impl.options.timeout)),
                                "committed offsets of " + group_id);
  }
  std::vector<PartitionBacklog> out;
  for (size_t i = 0; i < committed.size(); ++i) {
    RdKafka::TopicPartition* p = committed[i];
    if (status.ok() && p->err() != RdKafka::ERR_NO_ERROR) {
      status = internal::ToStatus(p->err(), "committed offset of " + p->topic());
    }
    PartitionBacklog backlog{.topic = p->topic(), .partition = p->partition()};
    backlog.log_end = (*ends)[i];
    // No commit yet (a new group, or nothing consumed): everything from the log start waits. A
    // commit behind the log start means records were deleted unconsumed; what is left waits.
    backlog.committed = std::max(p->offset() >= 0 ? p->offset() : (*starts)[i], (*starts)[i]);
    backlog.records = std::max<int64_t>(backlog.log_end - backlog.committed, 0);
    // The workers' retries are the same jobs again: sized like the first topic's records.
    const int64_t record_bytes = impl.sizes->Average(
        backlog.topic,
        impl.sizes->Average(impl.options.topics.front(), impl.options.fallback_record_bytes));
    backlog.bytes = backlog.records * record_bytes;
    backlog.oldest_age = impl.histories[{backlog.topic, backlog.partition}].Observe(
        backlog.log_end, backlog.committed, now);
    backlog.room = impl.rooms[backlog.topic];
    out.push_back(std::move(backlog));
    delete p;
  }
  if (!status.ok()) return status;
  return out;
}

}  // namespace pixq::queue
