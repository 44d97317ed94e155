#include "pkg/queue/dev_persistence.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include <librdkafka/rdkafka.h>

#include "pkg/devlog/data_dir.h"
#include "pkg/devlog/log_file.h"
#include "pkg/errors/errors.h"
#include "pkg/observability/log.h"

namespace pixq::queue {
namespace {

using devlog::PartitionId;
using devlog::Record;

// librdkafka's mock cluster deletes the oldest message sets of a partition beyond this
// (rd_kafka_mock_msgset_new in rdkafka_mock.c, 2.0.2; no setter).
constexpr uint64_t kMockPartitionBytes = 5u << 20;

struct RdKafkaDeleter {
  void operator()(rd_kafka_t* rk) const {
    // Neither client below is a member of a group: there is nothing to leave or commit.
    rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  }
};
using RdKafkaHandle = std::unique_ptr<rd_kafka_t, RdKafkaDeleter>;

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

absl::Status KafkaError(const std::string& what, const std::string& detail) {
  return errors::Make(errors::Reason::kKafkaClient, absl::StrCat(what, ": ", detail));
}

absl::StatusOr<RdKafkaHandle> NewClient(
    rd_kafka_type_t type, const std::string& bootstrap,
    const std::vector<std::pair<std::string, std::string>>& properties,
    void (*dr_msg_cb)(rd_kafka_t*, const rd_kafka_message_t*, void*) = nullptr,
    void* opaque = nullptr) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  std::vector<std::pair<std::string, std::string>> all = {{"bootstrap.servers", bootstrap},
                                                          {"log_level", "3"}};
  all.insert(all.end(), properties.begin(), properties.end());
  for (const auto& [name, value] : all) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), err, sizeof(err)) !=
        RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return KafkaError(name, err);
    }
  }
  if (dr_msg_cb != nullptr) rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
  rd_kafka_conf_set_opaque(conf, opaque);
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof(err));
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return KafkaError("client", err);
  }
  return RdKafkaHandle(rk);
}

struct Deliveries {
  std::atomic<int64_t> failed{0};
  std::atomic<rd_kafka_resp_err_t> first_error{RD_KAFKA_RESP_ERR_NO_ERROR};
};

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
  auto* deliveries = static_cast<Deliveries*>(opaque);
  deliveries->failed.fetch_add(1);
  rd_kafka_resp_err_t none = RD_KAFKA_RESP_ERR_NO_ERROR;
  deliveries->first_error.compare_exchange_strong(none, message->err);
}

// Produces every record into its partition, in order, and checks each partition's end offset.
absl::Status Reproduce(const std::string& bootstrap,
                       const std::map<PartitionId, std::vector<Record>>& partitions) {
  Deliveries deliveries;
  auto producer = NewClient(RD_KAFKA_PRODUCER, bootstrap,
                            {{"enable.idempotence", "true"},
                             {"acks", "all"},
                             {"linger.ms", "5"},
                             {"message.timeout.ms", "120000"}},
                            &OnDelivery, &deliveries);
  if (!producer.ok()) return producer.status();
  rd_kafka_t* rk = producer->get();
  for (const auto& [id, records] : partitions) {
    for (const Record& r : records) {
      while (true) {
        rd_kafka_headers_t* headers = rd_kafka_headers_new(r.headers.size());
        for (const auto& [name, value] : r.headers) {
          rd_kafka_header_add(headers, name.data(), static_cast<ssize_t>(name.size()), value.data(),
                              static_cast<ssize_t>(value.size()));
        }
        // A tombstone is a record without a value (a null payload), not an empty one.
        void* value = r.value ? const_cast<char*>(r.value->data()) : nullptr;
        const size_t value_size = r.value ? r.value->size() : 0;
        const rd_kafka_resp_err_t err = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(id.topic.c_str()), RD_KAFKA_V_PARTITION(id.partition),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(r.key.data(), r.key.size()),
            RD_KAFKA_V_VALUE(value, value_size), RD_KAFKA_V_HEADERS(headers),
            RD_KAFKA_V_TIMESTAMP(r.timestamp_ms), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;  // the record owns the headers now
        rd_kafka_headers_destroy(headers);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
          return KafkaError(absl::StrCat("restore ", id.topic, "/", id.partition),
                            rd_kafka_err2str(err));
        }
        rd_kafka_poll(rk, 100);  // the local queue is full: let deliveries drain it
      }
    }
  }
  if (rd_kafka_flush(rk, 120'000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return KafkaError("restore", "records not acknowledged within 120 s");
  }
  if (deliveries.failed.load() > 0) {
    return KafkaError(absl::StrCat("restore: ", deliveries.failed.load(), " records refused"),
                      rd_kafka_err2str(deliveries.first_error.load()));
  }
  for (const auto& [id, records] : partitions) {
    int64_t low = 0;
    int64_t high = 0;
    const rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(rk, id.topic.c_str(), id.partition, &low, &high, 10'000);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return KafkaError(absl::StrCat("end offset of ", id.topic, "/", id.partition),
                        rd_kafka_err2str(err));
    }
    if (high != static_cast<int64_t>(records.size())) {
      return KafkaError(absl::StrCat("restore ", id.topic, "/", id.partition),
                        absl::StrCat("end offset ", high, " after producing ", records.size()));
    }
    if (low > 0) {
      // Beyond its 5 MiB a partition, the mock cluster deleted the oldest as they came in. They
      // stay in this generation's log on disk, and come back at the next start if the group has
      // not moved past them; until then no consumer can read them.
      observability::LogError("the mock cluster dropped restored records beyond its size limit",
                              {{"topic", id.topic},
                               {"partition", id.partition},
                               {"records_dropped", low},
                               {"mock_limit_bytes", kMockPartitionBytes}});
    }
  }
  return absl::OkStatus();
}

Record FromMessage(const rd_kafka_message_t* m) {
  Record r;
  r.offset = m->offset;
  rd_kafka_timestamp_type_t type;
  r.timestamp_ms = rd_kafka_message_timestamp(m, &type);
  if (m->key != nullptr) r.key.assign(static_cast<const char*>(m->key), m->key_len);
  if (m->payload != nullptr) r.value.emplace(static_cast<const char*>(m->payload), m->len);
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    for (size_t i = 0;
         rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      r.headers.emplace_back(name, value ? std::string(static_cast<const char*>(value), size) : "");
    }
  }
  return r;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// How long records waited between being produced (their CreateTime) and being fsync'd here: the
// window a SIGKILL can lose. Millisecond buckets up to 10 s.
class LagHistogram {
 public:
  void Add(int64_t ms) {
    ++count_;
    max_ = std::max(max_, ms);
    ++buckets_[std::clamp<int64_t>(ms, 0, kBuckets - 1)];
  }
  int64_t Quantile(double q) const {
    const int64_t rank = static_cast<int64_t>(q * static_cast<double>(count_ - 1));
    int64_t seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
      seen += buckets_[i];
      if (seen > rank) return i;
    }
    return max_;
  }
  int64_t count() const { return count_; }
  int64_t max() const { return max_; }

 private:
  static constexpr int kBuckets = 10'001;
  std::array<int64_t, kBuckets> buckets_{};
  int64_t count_ = 0;
  int64_t max_ = 0;
};

}  // namespace

struct DevPersistence::Impl {
  PersistenceOptions options;
  RestoreReport report;
  std::unique_ptr<devlog::DataDir> data;
  std::map<PartitionId, std::unique_ptr<devlog::LogFile>> logs;
  RdKafkaHandle persister;
  std::vector<RdKafkaHandle> offsets_clients;  // one per options.groups entry
  std::atomic<bool> stop{false};
  absl::Notification stopping;
  std::thread persist_thread;
  std::thread offsets_thread;
  std::map<PartitionId, int64_t> stored_offsets;
  LagHistogram lag;
  std::vector<int64_t> unsynced_create_times;

  void PersistLoop();
  absl::Status SyncAll();
  absl::Status Append(const rd_kafka_message_t* m);
  void Drain();
  void StoreOffsets();
};

absl::Status DevPersistence::Impl::Append(const rd_kafka_message_t* m) {
  const PartitionId id{.topic = rd_kafka_topic_name(m->rkt), .partition = m->partition};
  auto it = logs.find(id);
  if (it == logs.end()) return absl::OkStatus();  // not a topic this broker keeps
  Record r = FromMessage(m);
  if (r.offset > it->second->next_offset()) {
    // The mock cluster deleted these (beyond its 5 MiB per partition) before this consumer read
    // them: they are gone, and saying so is all that is left to do.
    observability::LogError("records deleted by the mock cluster before they were persisted",
                            {{"topic", id.topic},
                             {"partition", id.partition},
                             {"from_offset", it->second->next_offset()},
                             {"to_offset", r.offset}});
  }
  unsynced_create_times.push_back(r.timestamp_ms);
  return it->second->Append(r);
}

absl::Status DevPersistence::Impl::SyncAll() {
  for (auto& [id, log] : logs) {
    if (absl::Status s = log->Sync(); !s.ok()) return s;
    if (log->NeedsCompaction()) {
      const uint64_t before = log->size_bytes();
      if (absl::Status s = log->Compact(); !s.ok()) return s;
      observability::LogInfo("log compacted", {{"topic", id.topic},
                                               {"partition", id.partition},
                                               {"bytes_before", before},
                                               {"bytes_after", log->size_bytes()}});
    }
  }
  const int64_t now = NowMs();
  for (int64_t created : unsynced_create_times) lag.Add(now - created);
  unsynced_create_times.clear();
  return absl::OkStatus();
}

void DevPersistence::Impl::PersistLoop() {
  const int poll_ms =
      static_cast<int>(std::max<int64_t>(1, absl::ToInt64Milliseconds(options.fetch_wait)));
  int appended = 0;
  absl::Status failed;
  while (!stop.load() && failed.ok()) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(persister.get(), poll_ms);
    if (m == nullptr) {
      // Nothing more at hand: make what came so far durable, as one group.
      if (appended > 0) failed = SyncAll();
      appended = 0;
      continue;
    }
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      failed = Append(m);
      if (++appended >= options.sync_every && failed.ok()) {
        failed = SyncAll();
        appended = 0;
      }
    } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      observability::LogWarn("persisting consumer", {{"error", rd_kafka_message_errstr(m)}});
    }
    rd_kafka_message_destroy(m);
  }
  if (!failed.ok()) {
    // Degrade nowhere silently: without its logs the broker would acknowledge what it cannot
    // keep. Stop the process as a stop signal would; pixq-devbroker then exits non-zero.
    observability::LogError("persistence failed; stopping", {{"error", failed.ToString()}});
    if (options.on_failure) options.on_failure();
  }
}

void DevPersistence::Impl::Drain() {
  // Everything the cluster acknowledged before the stop: read up to each partition's end offset.
  std::map<PartitionId, int64_t> ends;
  for (const auto& [id, log] : logs) {
    int64_t low = 0;
    int64_t high = 0;
    if (rd_kafka_query_watermark_offsets(persister.get(), id.topic.c_str(), id.partition, &low,
                                         &high, 2'000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      ends[id] = high;
    }
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  auto behind = [&] {
    for (const auto& [id, end] : ends) {
      if (logs.at(id)->next_offset() < end) return true;
    }
    return false;
  };
  absl::Status failed;
  while (failed.ok() && behind() && absl::Now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(persister.get(), 50);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) failed = Append(m);
    rd_kafka_message_destroy(m);
  }
  if (failed.ok()) failed = SyncAll();
  if (!failed.ok() || behind()) {
    observability::LogError("not every record was persisted at stop",
                            {{"error", failed.ToString()}});
  }
}

void DevPersistence::Impl::StoreOffsets() {
  std::map<PartitionId, int64_t> committed;
  for (size_t g = 0; g < options.groups.size(); ++g) {
    const PersistenceOptions::WorkGroup& group = options.groups[g];
    PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(group.topics.size()) *
                                                         options.partitions));
    for (const std::string& topic : group.topics) {
      for (int32_t p = 0; p < options.partitions; ++p) {
        rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p);
      }
    }
    const rd_kafka_resp_err_t err = rd_kafka_committed(offsets_clients[g].get(), list.get(), 5'000);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      // Nothing stored this time: the last whole set stays.
      observability::LogWarn("committed offsets not read",
                             {{"group", group.id}, {"error", rd_kafka_err2str(err)}});
      return;
    }
    for (int i = 0; i < list->cnt; ++i) {
      const rd_kafka_topic_partition_t& tp = list->elems[i];
      // RD_KAFKA_OFFSET_INVALID: the group committed nothing there yet.
      if (tp.err == RD_KAFKA_RESP_ERR_NO_ERROR && tp.offset >= 0) {
        committed[PartitionId{.topic = tp.topic, .partition = tp.partition}] = tp.offset;
      }
    }
  }
  if (committed == stored_offsets) return;
  if (absl::Status s = data->WriteOffsets(committed); !s.ok()) {
    observability::LogWarn("committed offsets not stored", {{"error", s.ToString()}});
    return;
  }
  stored_offsets = std::move(committed);
}

absl::StatusOr<std::unique_ptr<DevPersistence>> DevPersistence::Start(
    const std::string& bootstrap_servers, PersistenceOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  const PersistenceOptions& o = impl->options;
  auto data = devlog::DataDir::Open(o.data_dir);
  if (!data.ok()) return data.status();
  impl->data = std::make_unique<devlog::DataDir>(*std::move(data));
  auto stored = impl->data->Load();
  if (!stored.ok()) return stored.status();
  auto committed = impl->data->ReadOffsets();
  if (!committed.ok()) return committed.status();

  std::set<std::string> group_topics;
  for (const PersistenceOptions::WorkGroup& group : o.groups) {
    group_topics.insert(group.topics.begin(), group.topics.end());
  }
  std::map<PartitionId, std::vector<Record>> kept;
  for (const std::string& topic : o.topics) {
    for (int32_t p = 0; p < o.partitions; ++p) kept[PartitionId{topic, p}];
  }
  RestoreReport& report = impl->report;
  for (auto& [id, partition] : *stored) {
    if (partition.dropped_bytes > 0) {
      observability::LogWarn("torn tail truncated", {{"topic", id.topic},
                                                     {"partition", id.partition},
                                                     {"bytes_dropped", partition.dropped_bytes},
                                                     {"records_kept", partition.records.size()}});
      report.torn_bytes_dropped += partition.dropped_bytes;
    }
    auto target = kept.find(id);
    if (target == kept.end()) {
      if (partition.records.empty()) continue;
      return errors::Make(
          errors::Reason::kInvalidConfig,
          absl::StrCat(o.data_dir, " holds ", partition.records.size(), " records of ", id.topic,
                       "/", id.partition, ", which this broker does not have (--partitions ",
                       o.partitions, ", --topic-prefix)"));
    }
    std::vector<Record>& out = target->second;
    if (o.compacted.contains(id.topic)) {
      out = devlog::LatestPerKey(partition.records);
      report.records_compacted_away += static_cast<int64_t>(partition.records.size() - out.size());
    } else {
      auto c = committed->find(id);
      const int64_t done = group_topics.contains(id.topic) && c != committed->end() ? c->second : 0;
      for (Record& r : partition.records) {
        if (r.offset >= done) {
          out.push_back(std::move(r));
        } else {
          ++report.records_already_consumed;
        }
      }
    }
    // A fresh cluster numbers each partition from 0.
    uint64_t bytes = 0;
    for (size_t i = 0; i < out.size(); ++i) {
      out[i].offset = static_cast<int64_t>(i);
      bytes += out[i].key.size() + (out[i].value ? out[i].value->size() : 0);
    }
    report.records_restored += static_cast<int64_t>(out.size());
    if (bytes > kMockPartitionBytes) {
      observability::LogWarn("restored partition is larger than the mock cluster keeps",
                             {{"topic", id.topic},
                              {"partition", id.partition},
                              {"bytes", bytes},
                              {"mock_limit_bytes", kMockPartitionBytes}});
    }
  }
  if (absl::Status s = impl->data->StartGeneration(kept); !s.ok()) return s;
  report.generation = impl->data->generation();
  if (absl::Status s = Reproduce(bootstrap_servers, kept); !s.ok()) return s;

  for (const auto& [id, records] : kept) {
    auto log = devlog::LogFile::Open(impl->data->LogPath(id),
                                     devlog::LogOptions{.compacted = o.compacted.contains(id.topic),
                                                        .compact_min_bytes = o.compact_min_bytes});
    if (!log.ok()) return log.status();
    (void)(*log)->TakeRecordsReadAtOpen();
    impl->logs[id] = *std::move(log);
  }

  auto persister = NewClient(
      RD_KAFKA_CONSUMER, bootstrap_servers,
      {{"group.id", "pixq-devbroker-persister"},  // required; nothing is joined or committed
       {"enable.auto.commit", "false"},
       {"enable.auto.offset.store", "false"},
       {"enable.partition.eof", "false"},
       // Should the mock cluster delete records before they are read, carry on from the oldest
       // left (and log the gap) rather than jump to the end.
       {"auto.offset.reset", "earliest"},
       // The mock cluster answers a fetch with nothing new only after this wait, and a record
       // produced meanwhile waits for that answer: it bounds how long a record is acknowledged
       // and not yet on disk.
       {"fetch.wait.max.ms", std::to_string(absl::ToInt64Milliseconds(o.fetch_wait))},
       {"fetch.error.backoff.ms", "50"}});
  if (!persister.ok()) return persister.status();
  impl->persister = *std::move(persister);
  rd_kafka_poll_set_consumer(impl->persister.get());
  PartitionList assignment(rd_kafka_topic_partition_list_new(static_cast<int>(kept.size())));
  for (const auto& [id, records] : kept) {
    rd_kafka_topic_partition_list_add(assignment.get(), id.topic.c_str(), id.partition)->offset =
        static_cast<int64_t>(records.size());  // after what was restored: not written twice
  }
  if (rd_kafka_resp_err_t err = rd_kafka_assign(impl->persister.get(), assignment.get());
      err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return KafkaError("assign the persisting consumer", rd_kafka_err2str(err));
  }

  for (const PersistenceOptions::WorkGroup& group : o.groups) {
    auto offsets_client = NewClient(RD_KAFKA_CONSUMER, bootstrap_servers,
                                    {{"group.id", group.id}, {"enable.auto.commit", "false"}});
    if (!offsets_client.ok()) return offsets_client.status();
    impl->offsets_clients.push_back(*std::move(offsets_client));
  }

  Impl* raw = impl.get();
  raw->persist_thread = std::thread([raw] { raw->PersistLoop(); });
  if (!raw->offsets_clients.empty()) {
    raw->offsets_thread = std::thread([raw] {
      while (!raw->stopping.WaitForNotificationWithTimeout(raw->options.offsets_interval)) {
        raw->StoreOffsets();
      }
    });
  }
  observability::LogInfo("restored", {{"data_dir", o.data_dir},
                                      {"generation", report.generation},
                                      {"records_restored", report.records_restored},
                                      {"records_already_consumed", report.records_already_consumed},
                                      {"records_compacted_away", report.records_compacted_away},
                                      {"torn_bytes_dropped", report.torn_bytes_dropped}});
  return std::unique_ptr<DevPersistence>(new DevPersistence(std::move(impl)));
}

DevPersistence::DevPersistence(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

DevPersistence::~DevPersistence() {
  impl_->stop.store(true);
  impl_->stopping.Notify();
  if (impl_->persist_thread.joinable()) impl_->persist_thread.join();
  if (impl_->offsets_thread.joinable()) impl_->offsets_thread.join();
  impl_->Drain();
  if (!impl_->offsets_clients.empty()) impl_->StoreOffsets();
  observability::LogInfo("persistence stopped", {{"records_synced", impl_->lag.count()},
                                                 {"persist_lag_p50_ms", impl_->lag.Quantile(0.5)},
                                                 {"persist_lag_p99_ms", impl_->lag.Quantile(0.99)},
                                                 {"persist_lag_max_ms", impl_->lag.max()}});
}

const RestoreReport& DevPersistence::restored() const { return impl_->report; }

}  // namespace pixq::queue
