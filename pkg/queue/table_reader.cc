#include "pkg/queue/table_reader.h"

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include <librdkafka/rdkafkacpp.h>

#include "pkg/errors/errors.h"
#include "pkg/observability/log.h"
#include "pkg/queue/client_internal.h"

namespace pixq::queue {
namespace {

using PartitionKey = std::pair<std::string, int32_t>;

}  // namespace

struct TableReader::Impl {
  ApplyFn apply;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer;
  std::vector<PartitionKey> partitions;

  std::mutex mu;
  std::condition_variable applied;
  std::map<PartitionKey, int64_t> position;  // next offset to apply, per partition
  std::atomic<bool> caught_up_once{false};

  std::atomic<bool> stop{false};
  std::thread thread;

  void Run() {
    while (!stop.load()) {
      std::unique_ptr<RdKafka::Message> m(consumer->consume(200));
      if (m == nullptr) continue;
      if (m->err() == RdKafka::ERR_NO_ERROR) {
        apply(internal::ToMessage(*m));
        Advance({m->topic_name(), m->partition()}, m->offset() + 1);
      } else if (m->err() == RdKafka::ERR__PARTITION_EOF) {
        // The offset of an EOF event is the log end at that moment; it also steps over gaps that
        // compaction or control records leave.
        Advance({m->topic_name(), m->partition()}, m->offset());
      } else if (m->err() != RdKafka::ERR__TIMED_OUT) {
        observability::LogWarn("kafka table read error", {{"error", m->errstr()}});
      }
    }
  }

  void Advance(const PartitionKey& key, int64_t next) {
    {
      std::lock_guard<std::mutex> lock(mu);
      int64_t& p = position[key];
      if (next > p) p = next;
    }
    applied.notify_all();
  }
};

absl::StatusOr<std::unique_ptr<TableReader>> TableReader::Start(const ClientOptions& client,
                                                                std::vector<std::string> topics,
                                                                ApplyFn apply) {
  auto impl = std::make_unique<Impl>();
  impl->apply = std::move(apply);
  absl::BitGen gen;
  // A group id is required by the consumer API, but nothing is subscribed or committed under it:
  // partitions are assigned by hand and always read from the beginning.
  absl::StatusOr<std::unique_ptr<RdKafka::Conf>> conf = internal::MakeConsumerConf(
      client, {{"group.id", absl::StrCat("pixq-table-", absl::Uniform<uint64_t>(gen))},
               {"enable.auto.commit", "false"},
               {"enable.partition.eof", "true"},
               {"auto.offset.reset", "earliest"}});
  if (!conf.ok()) return conf.status();
  std::string err;
  impl->consumer.reset(RdKafka::KafkaConsumer::create(conf->get(), err));
  if (impl->consumer == nullptr) {
    return errors::Make(errors::Reason::kInvalidConfig, absl::StrCat("kafka consumer: ", err));
  }

  std::vector<RdKafka::TopicPartition*> assignment;
  for (const std::string& topic : topics) {
    std::unique_ptr<RdKafka::Topic> handle(
        RdKafka::Topic::create(impl->consumer.get(), topic, nullptr, err));
    RdKafka::Metadata* raw = nullptr;
    const RdKafka::ErrorCode code = impl->consumer->metadata(false, handle.get(), &raw, 10000);
    std::unique_ptr<RdKafka::Metadata> metadata(raw);
    if (code != RdKafka::ERR_NO_ERROR) return internal::ToStatus(code, "metadata of " + topic);
    for (const RdKafka::TopicMetadata* t : *metadata->topics()) {
      if (t->err() != RdKafka::ERR_NO_ERROR || t->partitions()->empty()) {
        for (RdKafka::TopicPartition* p : assignment) delete p;
        return errors::Make(errors::Reason::kUnknownTopic,
                            absl::StrCat("topic ", topic, ": ", RdKafka::err2str(t->err())));
      }
      for (const RdKafka::PartitionMetadata* p : *t->partitions()) {
        assignment.push_back(
            RdKafka::TopicPartition::create(topic, p->id(), RdKafka::Topic::OFFSET_BEGINNING));
        impl->partitions.emplace_back(topic, p->id());
        impl->position[{topic, p->id()}] = 0;
      }
    }
  }
  const RdKafka::ErrorCode code = impl->consumer->assign(assignment);
  for (RdKafka::TopicPartition* p : assignment) delete p;
  if (code != RdKafka::ERR_NO_ERROR) return internal::ToStatus(code, "assign");

  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->Run(); });
  return std::unique_ptr<TableReader>(new TableReader(std::move(impl)));
}

TableReader::TableReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

TableReader::~TableReader() {
  impl_->stop = true;
  impl_->thread.join();
  impl_->consumer->close();
}

absl::Status TableReader::CatchUp(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  // Ask for every partition's log end at once (ListOffsets with timestamp -1 = latest).
  std::vector<RdKafka::TopicPartition*> ends;
  for (const auto& [topic, partition] : impl_->partitions) {
    ends.push_back(RdKafka::TopicPartition::create(topic, partition, -1));
  }
  const RdKafka::ErrorCode code = impl_->consumer->offsetsForTimes(
      ends, static_cast<int>(std::max<int64_t>(absl::ToInt64Milliseconds(timeout), 1)));
  std::map<PartitionKey, int64_t> targets;
  absl::Status status = internal::ToStatus(code, "list offsets");
  for (RdKafka::TopicPartition* p : ends) {
    if (status.ok() && p->err() != RdKafka::ERR_NO_ERROR) {
      status = internal::ToStatus(p->err(), "list offsets of " + p->topic());
    }
    targets[{p->topic(), p->partition()}] = p->offset();
    delete p;
  }
  if (!status.ok()) {
    return errors::Make(errors::Reason::kBrokerUnavailable, std::string(status.message()));
  }
  std::unique_lock<std::mutex> lock(impl_->mu);
  const auto applied = [&] {
    int64_t total = 0;
    for (const auto& [key, end] : targets) total += impl_->position[key];
    return total;
  };
  const int64_t before = applied();
  const bool done = impl_->applied.wait_until(lock, absl::ToChronoTime(deadline), [&] {
    for (const auto& [key, end] : targets) {
      if (impl_->position[key] < end) return false;
    }
    return true;
  });
  if (!done) {
    // Behind and not a record further: the reader cannot fetch. The log ends came back, but from
    // a request answered just before the broker went away (seen when an outage began between the
    // two), and the broker is what a caller must be told about.
    if (applied() == before) {
      return errors::Make(errors::Reason::kBrokerUnavailable,
                          "the state tables read nothing from Kafka while behind its log end");
    }
    return errors::Make(errors::Reason::kCatchUpTimeout,
                        "the state tables did not reach the log end in time");
  }
  impl_->caught_up_once = true;
  return absl::OkStatus();
}

bool TableReader::CaughtUpOnce() const { return impl_->caught_up_once.load(); }

}  // namespace pixq::queue
