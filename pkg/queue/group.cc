#include "pkg/queue/group.h"

#include <algorithm>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include <librdkafka/rdkafkacpp.h>

#include "pkg/errors/errors.h"
#include "pkg/queue/client_internal.h"

namespace pixq::queue {
namespace {

int TimeoutMs(absl::Duration timeout) {
  return static_cast<int>(std::max<int64_t>(absl::ToInt64Milliseconds(timeout), 1));
}

// Every failure to reach Kafka is "BrokerUnavailable" here (a timed-out read is no
// "ProduceTimeout"), but for a topic that is not there.
absl::Status KafkaError(RdKafka::ErrorCode code, const std::string& what) {
  absl::Status status = internal::ToStatus(code, what);
  if (status.ok() || errors::ReasonOf(status) == "UnknownTopic") return status;
  return errors::Make(errors::Reason::kBrokerUnavailable, std::string(status.message()));
}

}  // namespace

struct KafkaGroupReader::Impl {
  GroupReaderOptions options;
  ClientOptions client;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer;
  std::mutex mu;  // one read at a time

  absl::StatusOr<std::vector<int32_t>> Partitions();
  absl::StatusOr<std::vector<int64_t>> OffsetsAt(const std::vector<int32_t>& partitions,
                                                 int64_t time);
};

absl::StatusOr<std::vector<int32_t>> KafkaGroupReader::Impl::Partitions() {
  std::string err;
  std::unique_ptr<RdKafka::Topic> handle(
      RdKafka::Topic::create(consumer.get(), options.topic, nullptr, err));
  if (handle == nullptr) return errors::Make(errors::Reason::kKafkaClient, err);
  RdKafka::Metadata* raw = nullptr;
  const RdKafka::ErrorCode code =
      consumer->metadata(false, handle.get(), &raw, TimeoutMs(options.timeout));
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  if (code != RdKafka::ERR_NO_ERROR) return KafkaError(code, "metadata of " + options.topic);
  std::vector<int32_t> out;
  for (const RdKafka::TopicMetadata* t : *metadata->topics()) {
    if (t->err() != RdKafka::ERR_NO_ERROR || t->partitions()->empty()) {
      return errors::Make(errors::Reason::kUnknownTopic,
                          absl::StrCat("topic ", options.topic, ": ", RdKafka::err2str(t->err())));
    }
    for (const RdKafka::PartitionMetadata* p : *t->partitions()) out.push_back(p->id());
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<std::vector<int64_t>> KafkaGroupReader::Impl::OffsetsAt(
    const std::vector<int32_t>& partitions, int64_t time) {
  std::vector<RdKafka::TopicPartition*> query;
  for (int32_t partition : partitions) {
    query.push_back(RdKafka::TopicPartition::create(options.topic, partition, time));
  }
  absl::Status status =
      KafkaError(consumer->offsetsForTimes(query, TimeoutMs(options.timeout)), "list offsets");
  std::vector<int64_t> offsets;
  for (RdKafka::TopicPartition* p : query) {
    if (status.ok() && p->err() != RdKafka::ERR_NO_ERROR) {
      status = KafkaError(p->err(), "list offsets of " + p->topic());
    }
    offsets.push_back(p->offset());
    delete p;
  }
  if (!status.ok()) return status;
  return offsets;
}

absl::StatusOr<std::unique_ptr<KafkaGroupReader>> KafkaGroupReader::Create(
    const ClientOptions& client, GroupReaderOptions options) {
  auto impl = std::make_unique<Impl>();
  absl::StatusOr<std::unique_ptr<RdKafka::Conf>> conf =
      internal::MakeConf(client, {{"group.id", options.group_id},
                                  {"enable.auto.commit", "false"},
                                  {"enable.auto.offset.store", "false"}});
  if (!conf.ok()) return conf.status();
  std::string err;
  impl->consumer.reset(RdKafka::KafkaConsumer::create(conf->get(), err));
  if (impl->consumer == nullptr) {
    return errors::Make(errors::Reason::kInvalidConfig, absl::StrCat("kafka consumer: ", err));
  }
  impl->options = std::move(options);
  impl->client = client;
  return std::unique_ptr<KafkaGroupReader>(new KafkaGroupReader(std::move(impl)));
}

KafkaGroupReader::KafkaGroupReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

KafkaGroupReader::~KafkaGroupReader() { impl_->consumer->close(); }

absl::StatusOr<GroupView> KafkaGroupReader::Read() {
  Impl& impl = *impl_;
  std::lock_guard<std::mutex> lock(impl.mu);
  GroupView view{.group_id = impl.options.group_id, .topic = impl.options.topic};
  absl::StatusOr<std::vector<int32_t>> partitions = impl.Partitions();
  if (!partitions.ok()) return partitions.status();
  absl::StatusOr<std::vector<int64_t>> ends = impl.OffsetsAt(*partitions, -1);
  if (!ends.ok()) return ends.status();
  absl::StatusOr<std::vector<int64_t>> starts = impl.OffsetsAt(*partitions, -2);
  if (!starts.ok()) return starts.status();
  std::vector<RdKafka::TopicPartition*> committed;
  for (int32_t partition : *partitions) {
    committed.push_back(RdKafka::TopicPartition::create(impl.options.topic, partition));
  }
  absl::Status status =
      KafkaError(impl.consumer->committed(committed, TimeoutMs(impl.options.timeout)),
                 "committed offsets of " + impl.options.group_id);
  for (size_t i = 0; i < committed.size(); ++i) {
    RdKafka::TopicPartition* p = committed[i];
    if (status.ok() && p->err() != RdKafka::ERR_NO_ERROR) {
      status = KafkaError(p->err(), "committed offset of " + p->topic());
    }
    PartitionLag lag{.partition = p->partition(), .log_end = (*ends)[i]};
    lag.committed = p->offset() >= 0 ? p->offset() : -1;
    // Without a commit everything from the log start waits; a commit behind the log start means
    // records were deleted unconsumed, and only what is left waits.
    lag.lag = std::max<int64_t>(lag.log_end - std::max(lag.committed, (*starts)[i]), 0);
    view.partitions.push_back(lag);
    delete p;
  }
  if (!status.ok()) return status;
  // The group's members are not asked for. librdkafka 2.0.2 (Debian 12's) aborts the process in
  // DescribeConsumerGroups against the local broker, which lacks DescribeGroups (rdkafka_queue.h:
  // "rd_kafka_enq_once_del_source_return: Assertion `eonce->refcnt > 0' failed", seen with
  // pixq-api under ASan's slower timing; the optimised build wedged the client instead), and no
  // request may take pixq-api down. The workers are known from their status records instead
  // (pkg/api/queue.h). Ask again with a librdkafka that has the fix.
  view.members_unknown_why =
      "not asked: librdkafka 2.0.2 can abort the process when it describes a consumer group";
  return view;
}

}  // namespace pixq::queue
