#include "pkg/queue/consumer.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <set>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include "pkg/errors/errors.h"
#include "pkg/observability/log.h"
#include "pkg/queue/client_internal.h"

namespace pixq::queue {
namespace {

class Rebalancer final : public RdKafka::RebalanceCb {
 public:
  using PartitionsFn = std::function<void(const std::vector<std::pair<std::string, int32_t>>&)>;

  Rebalancer(std::atomic<int>& assigned, std::atomic<bool>& joined,
             const std::atomic<bool>& paused_all, PartitionsFn on_assign, PartitionsFn on_revoke)
      : assigned_(assigned),
        joined_(joined),
        paused_all_(paused_all),
        on_assign_(std::move(on_assign)),
        on_revoke_(std::move(on_revoke)) {}

  // With the cooperative protocol (the default here) a rebalance moves only the partitions that
  // change owner: the others keep running, and their stored offsets stay stored until the next
  // commit succeeds. (With the eager protocol every partition is revoked and a commit refused
  // while the group rebalances would be lost, and those jobs run again.)
  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    const bool cooperative = consumer->rebalance_protocol() == "COOPERATIVE";
    std::vector<std::pair<std::string, int32_t>> changed;
    for (const RdKafka::TopicPartition* p : partitions) {
      changed.emplace_back(p->topic(), p->partition());
    }
    std::unique_ptr<RdKafka::Error> error;
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      if (cooperative) {
        error.reset(consumer->incremental_assign(partitions));
      } else {
        consumer->assign(partitions);
        owned_.clear();
      }
      if (paused_all_.load()) (void)consumer->pause(partitions);  // draining: kept, not read
      owned_.insert(changed.begin(), changed.end());
      joined_ = true;
    } else {
      // The owner may finish what it runs and store those offsets first; they are committed
      // when the partitions are released.
      if (on_revoke_) on_revoke_(changed);
      if (cooperative) {
        error.reset(consumer->incremental_unassign(partitions));
        for (const auto& p : changed) owned_.erase(p);
      } else {
        consumer->unassign();
        owned_.clear();
      }
    }
    if (error != nullptr) {
      observability::LogError("kafka rebalance failed", {{"error", error->str()}});
    }
    assigned_ = static_cast<int>(owned_.size());
    if (on_assign_) on_assign_({owned_.begin(), owned_.end()});
  }

 private:
  std::set<std::pair<std::string, int32_t>> owned_;  // on the polling thread only
  std::atomic<int>& assigned_;
  std::atomic<bool>& joined_;
  const std::atomic<bool>& paused_all_;
  PartitionsFn on_assign_;
  PartitionsFn on_revoke_;
};

// librdkafka's events for one consumer: statistics become lag reports, the rest goes to the log.
class ConsumerEvents final : public RdKafka::EventCb {
 public:
  ConsumerEvents(std::string topic, std::function<void(int32_t, int64_t)> on_lag)
      : topic_(std::move(topic)), on_lag_(std::move(on_lag)) {}

  void event_cb(RdKafka::Event& event) override {
    if (event.type() != RdKafka::Event::EVENT_STATS) {
      internal::SharedLogEvents().event_cb(event);
      return;
    }
    if (!on_lag_) return;
    // STATISTICS.md: topics.<name>.partitions.<id>.consumer_lag, -1 where unknown (partitions
    // this member does not own, and the internal partition -1).
    const nlohmann::json stats = nlohmann::json::parse(event.str(), nullptr, false);
    if (!stats.is_object() || !stats.contains("topics")) return;
    for (const auto& [topic, t] : stats["topics"].items()) {
      if (topic != topic_ || !t.contains("partitions")) continue;
      for (const auto& [id, p] : t["partitions"].items()) {
        const int64_t lag = p.value("consumer_lag", int64_t{-1});
        const int32_t partition = std::atoi(id.c_str());
        if (lag >= 0 && partition >= 0) on_lag_(partition, lag);
      }
    }
  }

 private:
  std::string topic_;
  std::function<void(int32_t, int64_t)> on_lag_;
};

// Commits that fail are logged with their partitions and offsets: the jobs behind them will run
// again on the partitions' next owner (idempotently), and the log says why. This covers the
// background commits and the last one, made by close() at shutdown.
class CommitLog final : public RdKafka::OffsetCommitCb {
 public:
  void offset_commit_cb(RdKafka::ErrorCode err,
                        std::vector<RdKafka::TopicPartition*>& offsets) override {
    if (err == RdKafka::ERR__NO_OFFSET) return;  // nothing was stored since the last commit
    std::string failed;
    for (const RdKafka::TopicPartition* p : offsets) {
      if (err == RdKafka::ERR_NO_ERROR && p->err() == RdKafka::ERR_NO_ERROR) continue;
      absl::StrAppend(&failed, failed.empty() ? "" : " ", p->topic(), "/", p->partition(), "@",
                      p->offset());
    }
    if (failed.empty()) return;
    observability::LogWarn("kafka offset commit failed; those jobs may run again",
                           {{"error", RdKafka::err2str(err)}, {"offsets", failed}});
  }
};

// Commits the stored offsets and waits up to `timeout` for the coordinator's answer; returns
// the first error (a partition's own, or the request's) with the offsets it concerns.
std::pair<rd_kafka_resp_err_t, std::string> CommitStored(RdKafka::KafkaConsumer& consumer,
                                                         absl::Duration timeout) {
  rd_kafka_t* rk = consumer.c_ptr();
  rd_kafka_queue_t* replies = rd_kafka_queue_new(rk);
  rd_kafka_resp_err_t err = rd_kafka_commit_queue(rk, nullptr, replies, nullptr, nullptr);
  std::string offsets_text;
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_event_t* reply = rd_kafka_queue_poll(
        replies, static_cast<int>(std::max<int64_t>(absl::ToInt64Milliseconds(timeout), 1)));
    if (reply == nullptr) {
      err = RD_KAFKA_RESP_ERR__TIMED_OUT;
    } else {
      err = rd_kafka_event_error(reply);
      if (const rd_kafka_topic_partition_list_t* offsets =
              rd_kafka_event_topic_partition_list(reply)) {
        for (int i = 0; i < offsets->cnt; ++i) {
          const rd_kafka_topic_partition_t& p = offsets->elems[i];
          absl::StrAppend(&offsets_text, offsets_text.empty() ? "" : " ", p.topic, "/", p.partition,
                          "@", p.offset);
          if (err == RD_KAFKA_RESP_ERR_NO_ERROR) err = p.err;
        }
      }
      rd_kafka_event_destroy(reply);
    }
  }
  rd_kafka_queue_destroy(replies);
  return {err, offsets_text};
}

// Pauses every partition this member owns, so that polling only serves the group.
void PauseOwned(RdKafka::KafkaConsumer& consumer) {
  std::vector<RdKafka::TopicPartition*> owned;
  if (consumer.assignment(owned) == RdKafka::ERR_NO_ERROR && !owned.empty()) {
    (void)consumer.pause(owned);
  }
  RdKafka::TopicPartition::destroy(owned);
}

// The last commit, made before leaving the group. close() commits the stored offsets too, as it
// unassigns, but only once and with the generation it has: a rebalance still going on when this
// member closes (another member joining or leaving, a metadata change; or one it could not
// answer, because it did not poll) has that commit refused (REBALANCE_IN_PROGRESS, then
// ILLEGAL_GENERATION), and every job finished since the last background commit would run again
// on the next owner. So: pause the partitions, and until the commit is accepted or `timeout`
// passes, poll to let this member rejoin the new generation (it keeps its partitions under the
// cooperative protocol). A message polled meanwhile is dropped: its offset is not stored, so the
// next owner runs it.
// Real time: this bounds a shutdown, it decides nothing else.
void CommitBeforeLeaving(RdKafka::KafkaConsumer& consumer, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  PauseOwned(consumer);
  while (true) {
    const auto [err, offsets] = CommitStored(consumer, deadline - absl::Now());
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR__NO_OFFSET) return;
    const bool rejoining = err == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS ||
                           err == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION;
    if (!rejoining || absl::Now() >= deadline) {
      observability::LogWarn("kafka offset commit failed; those jobs may run again",
                             {{"error", rd_kafka_err2str(err)}, {"offsets", offsets}});
      return;
    }
    for (int i = 0; i < 5; ++i) std::unique_ptr<RdKafka::Message>(consumer.consume(100));
    PauseOwned(consumer);  // partitions the rebalance gave this member meanwhile
  }
}

}  // namespace

struct GroupConsumer::Impl {
  std::atomic<int> assigned{0};
  std::atomic<bool> joined{false};
  std::atomic<bool> paused_all{false};
  std::unique_ptr<Rebalancer> rebalancer;
  std::unique_ptr<ConsumerEvents> events;
  CommitLog commit_log;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer;
  std::once_flag closed;
};

absl::StatusOr<std::unique_ptr<GroupConsumer>> GroupConsumer::Create(const ClientOptions& client,
                                                                     GroupOptions group) {
  auto impl = std::make_unique<Impl>();
  const int64_t session_ms = absl::ToInt64Milliseconds(group.session_timeout);
  absl::StatusOr<std::unique_ptr<RdKafka::Conf>> conf = internal::MakeConsumerConf(
      client,
      {{"group.id", group.group_id},
       // Offsets are stored by the application once a result is durable, and committed
       // in the background from there.
       {"enable.auto.commit", "true"},
       {"enable.auto.offset.store", "false"},
       {"auto.commit.interval.ms", "1000"},
       {"auto.offset.reset", "earliest"},
       {"partition.assignment.strategy", "cooperative-sticky"},
       {"session.timeout.ms", std::to_string(session_ms)},
       {"max.poll.interval.ms",
        std::to_string(std::clamp<int64_t>(absl::ToInt64Milliseconds(group.max_poll_interval),
                                           session_ms, 86'400'000))},
       {"heartbeat.interval.ms", std::to_string(std::max<int64_t>(session_ms / 3, 100))},
       // Statistics (with each partition's consumer_lag) only when someone reads them.
       {"statistics.interval.ms",
        group.on_lag ? std::to_string(absl::ToInt64Milliseconds(group.stats_interval)) : "0"}});
  if (!conf.ok()) return conf.status();
  impl->events = std::make_unique<ConsumerEvents>(
      group.topics.empty() ? std::string() : group.topics.front(), std::move(group.on_lag));
  impl->rebalancer =
      std::make_unique<Rebalancer>(impl->assigned, impl->joined, impl->paused_all,
                                   std::move(group.on_assign), std::move(group.on_revoke));
  std::string err;
  if ((*conf)->set("event_cb", static_cast<RdKafka::EventCb*>(impl->events.get()), err) !=
      RdKafka::Conf::CONF_OK) {
    return errors::Make(errors::Reason::kKafkaClient, err);
  }
  if ((*conf)->set("offset_commit_cb", static_cast<RdKafka::OffsetCommitCb*>(&impl->commit_log),
                   err) != RdKafka::Conf::CONF_OK) {
    return errors::Make(errors::Reason::kKafkaClient, err);
  }
  if ((*conf)->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(impl->rebalancer.get()),
                   err) != RdKafka::Conf::CONF_OK) {
    return errors::Make(errors::Reason::kKafkaClient, err);
  }
  impl->consumer.reset(RdKafka::KafkaConsumer::create(conf->get(), err));
  if (impl->consumer == nullptr) {
    return errors::Make(errors::Reason::kInvalidConfig, absl::StrCat("kafka consumer: ", err));
  }
  if (RdKafka::ErrorCode code = impl->consumer->subscribe(group.topics);
      code != RdKafka::ERR_NO_ERROR) {
    return internal::ToStatus(code, "subscribe");
  }
  return std::unique_ptr<GroupConsumer>(new GroupConsumer(std::move(impl)));
}

GroupConsumer::GroupConsumer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

GroupConsumer::~GroupConsumer() { Close(); }

std::optional<Message> GroupConsumer::Poll(absl::Duration timeout) {
  std::unique_ptr<RdKafka::Message> m(
      impl_->consumer->consume(static_cast<int>(absl::ToInt64Milliseconds(timeout))));
  if (m == nullptr) return std::nullopt;
  switch (m->err()) {
    case RdKafka::ERR_NO_ERROR:
      return internal::ToMessage(*m);
    case RdKafka::ERR__TIMED_OUT:
    case RdKafka::ERR__PARTITION_EOF:
      return std::nullopt;
    default:
      observability::LogWarn("kafka consume error", {{"error", m->errstr()}});
      return std::nullopt;
  }
}

absl::Status GroupConsumer::StoreOffset(const std::string& topic, int32_t partition, int64_t next) {
  std::unique_ptr<RdKafka::TopicPartition> tp(
      RdKafka::TopicPartition::create(topic, partition, next));
  std::vector<RdKafka::TopicPartition*> offsets = {tp.get()};
  RdKafka::ErrorCode code = impl_->consumer->offsets_store(offsets);
  if (code == RdKafka::ERR_NO_ERROR) code = tp->err();
  if (code != RdKafka::ERR_NO_ERROR) {
    // Typically the partition was revoked meanwhile: its new owner will see the message again.
    return errors::Make(errors::Reason::kOffsetNotStored,
                        absl::StrCat("store offset ", topic, "/", partition, "@", next, ": ",
                                     RdKafka::err2str(code)));
  }
  return absl::OkStatus();
}

absl::Status GroupConsumer::Defer(const Message& message) {
  std::unique_ptr<RdKafka::TopicPartition> tp(
      RdKafka::TopicPartition::create(message.topic, message.partition, message.offset));
  std::vector<RdKafka::TopicPartition*> partitions = {tp.get()};
  if (RdKafka::ErrorCode code = impl_->consumer->pause(partitions); code != RdKafka::ERR_NO_ERROR) {
    return internal::ToStatus(code, "pause");
  }
  // Paused first, so nothing more is fetched; the seek then drops what was fetched already.
  if (RdKafka::ErrorCode code = impl_->consumer->seek(*tp, 5000); code != RdKafka::ERR_NO_ERROR) {
    (void)impl_->consumer->resume(partitions);
    return internal::ToStatus(code, "seek");
  }
  return absl::OkStatus();
}

void GroupConsumer::Resume(const std::string& topic, int32_t partition) {
  std::unique_ptr<RdKafka::TopicPartition> tp(RdKafka::TopicPartition::create(topic, partition));
  std::vector<RdKafka::TopicPartition*> partitions = {tp.get()};
  if (RdKafka::ErrorCode code = impl_->consumer->resume(partitions);
      code != RdKafka::ERR_NO_ERROR) {
    observability::LogWarn(
        "kafka resume failed",
        {{"topic", topic}, {"partition", partition}, {"error", RdKafka::err2str(code)}});
  }
}

void GroupConsumer::PauseAll() {
  impl_->paused_all = true;
  PauseOwned(*impl_->consumer);
}

void GroupConsumer::Close() {
  std::call_once(impl_->closed, [this] {
    // The last commit first (CommitBeforeLeaving says why close()'s own is not enough); close()
    // then leaves the group, so the partitions move to the other members at once instead of
    // after the session timeout.
    // Short: the chart gives a worker 15 s beyond its grace to stop, and it closes two consumers.
    CommitBeforeLeaving(*impl_->consumer, absl::Seconds(4));
    impl_->consumer->close();
    impl_->assigned = 0;
    impl_->joined = false;
  });
}

int GroupConsumer::AssignedPartitions() const { return impl_->assigned.load(); }

bool GroupConsumer::Joined() const { return impl_->joined.load(); }

}  // namespace pixq::queue
