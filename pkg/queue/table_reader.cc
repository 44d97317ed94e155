#include "pkg/queue/table_reader.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
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

// The one-record-at-a-time reader of old: nothing stored, every record from the beginning.
class FnSink final : public TableSink {
 public:
  explicit FnSink(TableReader::ApplyFn apply) : apply_(std::move(apply)) {}
  std::vector<StoredPosition> Stored() override { return {}; }
  absl::Status Reset(std::string_view) override { return absl::OkStatus(); }
  absl::Status Apply(const std::vector<Message>& records,
                     const std::vector<StoredPosition>&) override {
    for (const Message& m : records) apply_(m);
    return absl::OkStatus();
  }

 private:
  TableReader::ApplyFn apply_;
};

void Fnv(uint64_t& h, std::string_view bytes) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ULL;
  }
}

}  // namespace

uint64_t RecordHash(const Message& m) {
  uint64_t h = 14695981039346656037ULL;
  Fnv(h, m.key);
  Fnv(h, m.value ? std::string_view("\x01", 1) : std::string_view("\x00", 1));
  if (m.value) Fnv(h, *m.value);
  return h;
}

struct TableReader::Impl {
  std::unique_ptr<TableSink> own_sink;
  TableSink* sink = nullptr;
  TableReaderOptions options;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer;
  std::vector<PartitionKey> partitions;
  absl::Time started = absl::Now();

  std::mutex mu;
  std::condition_variable applied;
  std::map<PartitionKey, int64_t> position;  // next offset applied, per partition
  std::atomic<bool> caught_up_once{false};
  std::atomic<int64_t> records_read{0};
  bool rebuilt = false;
  // The sink's error while a batch is being retried (ok otherwise): what CatchUp tells a caller
  // instead of blaming the broker, since the reader is stuck on its own store.
  absl::Status sink_failure;  // guarded by mu

  std::atomic<bool> stop{false};
  std::thread thread;

  void Run() {
    std::vector<Message> batch;
    std::map<PartitionKey, StoredPosition> moved;
    absl::Time first;
    while (!stop.load()) {
      int wait_ms = 200;
      if (!batch.empty()) {
        wait_ms = static_cast<int>(std::max<int64_t>(
            0, absl::ToInt64Milliseconds(first + options.max_batch_time - absl::Now())));
      }
      std::unique_ptr<RdKafka::Message> m(consumer->consume(wait_ms));
      std::optional<std::pair<PartitionKey, int64_t>> eof;
      if (m != nullptr && m->err() == RdKafka::ERR_NO_ERROR) {
        if (batch.empty()) first = absl::Now();
        Message message = internal::ToMessage(*m);
        moved[{message.topic, message.partition}] =
            StoredPosition{.topic = message.topic,
                           .partition = message.partition,
                           .next_offset = message.offset + 1,
                           .last_offset = message.offset,
                           .last_hash = RecordHash(message)};
        batch.push_back(std::move(message));
      } else if (m != nullptr && m->err() == RdKafka::ERR__PARTITION_EOF) {
        // The offset of an EOF event is the log end at that moment; it also steps over gaps that
        // compaction or control records leave.
        eof.emplace(PartitionKey{m->topic_name(), m->partition()}, m->offset());
      } else if (m != nullptr && m->err() != RdKafka::ERR__TIMED_OUT) {
        observability::LogWarn("kafka table read error", {{"error", m->errstr()}});
      }
      const bool full = batch.size() >= options.max_batch_records ||
                        (!batch.empty() && absl::Now() - first >= options.max_batch_time);
      // At a partition's end the batch goes at once: nothing more is coming to wait for.
      if (!batch.empty() && (full || eof || m == nullptr || m->err() == RdKafka::ERR__TIMED_OUT)) {
        Flush(batch, moved);
      }
      if (eof) Advance(eof->first, eof->second);
    }
  }

  // Hands the batch to the sink until it takes it (or the reader stops), then counts it applied.
  void Flush(std::vector<Message>& batch, std::map<PartitionKey, StoredPosition>& moved) {
    std::vector<StoredPosition> positions;
    positions.reserve(moved.size());
    for (const auto& [key, p] : moved) positions.push_back(p);
    for (;;) {
      absl::Status status = sink->Apply(batch, positions);
      std::unique_lock<std::mutex> lock(mu);
      if (status.ok()) {
        if (!sink_failure.ok()) {
          observability::LogInfo("state tables: batches are stored again", {});
        }
        sink_failure = absl::OkStatus();
        break;
      }
      // Logged when it starts or changes, not every second: a full store may stay full for hours.
      if (sink_failure.ToString() != status.ToString()) {
        observability::LogError("state tables: a batch was not stored; trying again every second",
                                {{"reason", errors::ReasonOf(status)},
                                 {"error", std::string(status.message())},
                                 {"records", static_cast<int64_t>(batch.size())}});
      }
      sink_failure = status;
      applied.wait_for(lock, std::chrono::seconds(1), [this] { return stop.load(); });
      if (stop.load()) return;
    }
    records_read += static_cast<int64_t>(batch.size());
    for (const StoredPosition& p : positions) Advance({p.topic, p.partition}, p.next_offset);
    batch.clear();
    moved.clear();
  }

  void Advance(const PartitionKey& key, int64_t next) {
    {
      std::lock_guard<std::mutex> lock(mu);
      int64_t& p = position[key];
      if (next > p) p = next;
    }
    applied.notify_all();
  }

  // Whether the stored positions still describe the topics: every stored partition exists, its
  // stored offsets lie within its log, and the record at its last applied offset is the one
  // applied. Returns why not, or nullopt when they match.
  std::optional<std::string> Mismatch(const std::map<PartitionKey, StoredPosition>& stored) {
    std::map<PartitionKey, StoredPosition> to_read;
    for (const auto& [key, p] : stored) {
      if (std::find(partitions.begin(), partitions.end(), key) == partitions.end()) {
        return absl::StrCat("partition ", key.first, "/", key.second, " is gone");
      }
      int64_t low = 0;
      int64_t high = 0;
      const RdKafka::ErrorCode code = consumer->query_watermark_offsets(
          key.first, key.second, &low, &high,
          static_cast<int>(absl::ToInt64Milliseconds(options.verify_timeout)));
      if (code != RdKafka::ERR_NO_ERROR) {
        return absl::StrCat("the log of ", key.first, "/", key.second,
                            " could not be listed: ", RdKafka::err2str(code));
      }
      if (p.next_offset > high || (p.last_offset >= 0 && p.last_offset < low)) {
        return absl::StrCat(key.first, "/", key.second, ": stored offset ", p.next_offset,
                            " is outside the log [", low, ", ", high, ")");
      }
      if (p.last_offset >= 0) to_read.emplace(key, p);
    }
    if (to_read.empty()) return std::nullopt;
    std::vector<RdKafka::TopicPartition*> assignment;
    for (const auto& [key, p] : to_read) {
      assignment.push_back(RdKafka::TopicPartition::create(key.first, key.second, p.last_offset));
    }
    const RdKafka::ErrorCode code = consumer->assign(assignment);
    for (RdKafka::TopicPartition* tp : assignment) delete tp;
    if (code != RdKafka::ERR_NO_ERROR) return absl::StrCat("assign: ", RdKafka::err2str(code));
    const absl::Time deadline = absl::Now() + options.verify_timeout;
    std::optional<std::string> why;
    while (!to_read.empty() && !why) {
      const int64_t left = absl::ToInt64Milliseconds(deadline - absl::Now());
      if (left <= 0) {
        why = absl::StrCat("the last applied record of ", to_read.begin()->first.first, "/",
                           to_read.begin()->first.second, " could not be read back in time");
        break;
      }
      std::unique_ptr<RdKafka::Message> m(consumer->consume(static_cast<int>(left)));
      if (m == nullptr) continue;
      const PartitionKey key{m->topic_name(), m->partition()};
      auto it = to_read.find(key);
      if (it == to_read.end()) continue;
      if (m->err() == RdKafka::ERR__PARTITION_EOF) {
        why = absl::StrCat(key.first, "/", key.second, " ends before the last applied record");
      } else if (m->err() == RdKafka::ERR_NO_ERROR) {
        const Message message = internal::ToMessage(*m);
        if (message.offset != it->second.last_offset ||
            RecordHash(message) != it->second.last_hash) {
          why = absl::StrCat(key.first, "/", key.second, ": the record at offset ",
                             it->second.last_offset, " is not the one applied");
        }
        to_read.erase(it);
      }
    }
    (void)consumer->unassign();
    return why;
  }
};

absl::StatusOr<std::unique_ptr<TableReader>> TableReader::Start(const ClientOptions& client,
                                                                std::vector<std::string> topics,
                                                                ApplyFn apply) {
  auto sink = std::make_unique<FnSink>(std::move(apply));
  TableSink& raw = *sink;
  absl::StatusOr<std::unique_ptr<TableReader>> reader =
      Start(client, std::move(topics), raw, TableReaderOptions{.max_batch_records = 1});
  if (reader.ok()) (*reader)->impl_->own_sink = std::move(sink);
  return reader;
}

absl::StatusOr<std::unique_ptr<TableReader>> TableReader::Start(const ClientOptions& client,
                                                                std::vector<std::string> topics,
                                                                TableSink& sink,
                                                                TableReaderOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->sink = &sink;
  impl->options = options;
  absl::BitGen gen;
  // A group id is required by the consumer API, but nothing is subscribed or committed under it:
  // partitions are assigned by hand, from the stored positions or the beginning.
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

  for (const std::string& topic : topics) {
    std::unique_ptr<RdKafka::Topic> handle(
        RdKafka::Topic::create(impl->consumer.get(), topic, nullptr, err));
    RdKafka::Metadata* raw = nullptr;
    const RdKafka::ErrorCode code = impl->consumer->metadata(false, handle.get(), &raw, 10000);
    std::unique_ptr<RdKafka::Metadata> metadata(raw);
    if (code != RdKafka::ERR_NO_ERROR) return internal::ToStatus(code, "metadata of " + topic);
    for (const RdKafka::TopicMetadata* t : *metadata->topics()) {
      if (t->err() != RdKafka::ERR_NO_ERROR || t->partitions()->empty()) {
        return errors::Make(errors::Reason::kUnknownTopic,
                            absl::StrCat("topic ", topic, ": ", RdKafka::err2str(t->err())));
      }
      for (const RdKafka::PartitionMetadata* p : *t->partitions()) {
        impl->partitions.emplace_back(topic, p->id());
      }
    }
  }

  std::map<PartitionKey, StoredPosition> stored;
  for (StoredPosition& p : sink.Stored()) {
    PartitionKey key{p.topic, p.partition};
    stored.emplace(std::move(key), std::move(p));
  }
  if (!stored.empty()) {
    if (std::optional<std::string> why = impl->Mismatch(stored)) {
      observability::LogWarn("state tables do not match the topics; reading them again",
                             {{"reason", *why}});
      if (absl::Status reset = sink.Reset(*why); !reset.ok()) return reset;
      stored.clear();
      impl->rebuilt = true;
    }
  }
  std::vector<RdKafka::TopicPartition*> assignment;
  int64_t resumed = 0;
  for (const PartitionKey& key : impl->partitions) {
    auto it = stored.find(key);
    const int64_t next = it == stored.end() ? 0 : it->second.next_offset;
    if (it != stored.end()) ++resumed;
    assignment.push_back(RdKafka::TopicPartition::create(
        key.first, key.second, it == stored.end() ? RdKafka::Topic::OFFSET_BEGINNING : next));
    impl->position[key] = next;
  }
  if (resumed > 0) {
    observability::LogInfo("state tables resume from their stored offsets",
                           {{"partitions", resumed}});
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
  impl_->applied.notify_all();
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
    // The reader is stuck on its own store (full, failing): that is the answer, not the broker.
    if (!impl_->sink_failure.ok()) return impl_->sink_failure;
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
  if (!impl_->caught_up_once.exchange(true)) {
    // The figures a restart is judged by: how long it took, and how much it read again.
    observability::LogInfo("state tables caught up",
                           {{"records_read", impl_->records_read.load()},
                            {"rebuilt", impl_->rebuilt},
                            {"ms", absl::ToInt64Milliseconds(absl::Now() - impl_->started)}});
  }
  return absl::OkStatus();
}

bool TableReader::CaughtUpOnce() const { return impl_->caught_up_once.load(); }

int64_t TableReader::RecordsRead() const { return impl_->records_read.load(); }

bool TableReader::Rebuilt() const { return impl_->rebuilt; }

}  // namespace pixq::queue
