#include "pkg/queue/producer.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include <librdkafka/rdkafkacpp.h>

#include "pkg/errors/errors.h"
#include "pkg/observability/log.h"
#include "pkg/queue/client_internal.h"

namespace pixq::queue {
namespace {

// Owns the callback of one record until librdkafka reports its delivery.
struct Pending {
  Producer::DeliveryCallback done;
};

class DeliveryReports final : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    std::unique_ptr<Pending> pending(static_cast<Pending*>(message.msg_opaque()));
    if (pending == nullptr) return;
    // This runs inside librdkafka's poll, C code an exception must not cross (it would end the
    // process): a callback that throws is logged, and the producer carries on.
    try {
      pending->done(internal::ToStatus(message.err(), "produce to " + message.topic_name()));
    } catch (const std::exception& e) {
      observability::LogError("delivery callback failed",
                              {{"topic", message.topic_name()}, {"error", e.what()}});
    } catch (...) {
      observability::LogError("delivery callback failed",
                              {{"topic", message.topic_name()}, {"error", "unknown exception"}});
    }
  }
};

}  // namespace

struct KafkaProducer::Impl {
  DeliveryReports reports;
  std::unique_ptr<RdKafka::Producer> producer;
  // Handles of the prepared topics, kept (and released before the producer) so that librdkafka
  // keeps their metadata.
  std::vector<std::unique_ptr<RdKafka::Topic>> topics;
  std::atomic<bool> stop{false};
  std::thread poller;
};

absl::StatusOr<std::unique_ptr<KafkaProducer>> KafkaProducer::Create(
    const ClientOptions& options, absl::Duration message_timeout) {
  auto impl = std::make_unique<Impl>();
  absl::StatusOr<std::unique_ptr<RdKafka::Conf>> conf = internal::MakeConf(
      options, {{"enable.idempotence", "true"},
                {"acks", "all"},
                // No linger: records that arrive while earlier ones are in flight batch anyway
                // (up to five requests in flight), and an idle producer sends at once. With 2 ms,
                // each acknowledged round trip (a submission waits for two) took at least that.
                {"linger.ms", "0"},
                {"message.timeout.ms", std::to_string(absl::ToInt64Milliseconds(message_timeout))},
                // Keep retrying a broker that went away rather than failing fast; the record's own
                // timeout bounds the wait.
                {"reconnect.backoff.max.ms", "1000"}});
  if (!conf.ok()) return conf.status();
  std::string err;
  if ((*conf)->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(&impl->reports), err) !=
      RdKafka::Conf::CONF_OK) {
    return errors::Make(errors::Reason::kKafkaClient, err);
  }
  impl->producer.reset(RdKafka::Producer::create(conf->get(), err));
  if (impl->producer == nullptr) {
    return errors::Make(errors::Reason::kInvalidConfig, absl::StrCat("kafka producer: ", err));
  }
  Impl* raw = impl.get();
  impl->poller = std::thread([raw] {
    while (!raw->stop.load()) raw->producer->poll(100);
  });
  return std::unique_ptr<KafkaProducer>(new KafkaProducer(std::move(impl)));
}

KafkaProducer::KafkaProducer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

KafkaProducer::~KafkaProducer() {
  // Give records in flight a moment to be acknowledged; a process that stops loses no
  // acknowledged record either way, and unacknowledged ones were never reported as accepted.
  impl_->producer->flush(2000);
  impl_->stop = true;
  impl_->poller.join();
  impl_->producer->poll(0);
  // Fail the callbacks of anything still queued, so no caller waits forever.
  impl_->producer->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
  impl_->producer->poll(0);
}

void KafkaProducer::SendAsync(const OutgoingMessage& message, DeliveryCallback done) {
  auto pending = std::make_unique<Pending>(Pending{std::move(done)});
  RdKafka::Headers* headers = nullptr;
  if (!message.headers.empty()) {
    headers = RdKafka::Headers::create();
    for (const Header& h : message.headers) headers->add(h.key, h.value);
  }
  const RdKafka::ErrorCode code = impl_->producer->produce(
      message.topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
      message.tombstone ? nullptr : const_cast<char*>(message.value.data()),
      message.tombstone ? 0 : message.value.size(), message.key.data(), message.key.size(),
      /*timestamp=*/0, headers, pending.get());
  if (code != RdKafka::ERR_NO_ERROR) {
    delete headers;  // ownership passes to librdkafka only on success
    pending->done(internal::ToStatus(code, "produce to " + message.topic));
    return;
  }
  pending.release();  // owned by the delivery report now
}

absl::Status KafkaProducer::Send(const OutgoingMessage& message, absl::Duration timeout) {
  auto promise = std::make_shared<std::promise<absl::Status>>();
  std::future<absl::Status> result = promise->get_future();
  SendAsync(message, [promise](absl::Status status) { promise->set_value(std::move(status)); });
  if (result.wait_for(absl::ToChronoMilliseconds(timeout)) != std::future_status::ready) {
    return errors::Make(errors::Reason::kProduceTimeout,
                        absl::StrCat("no acknowledgement from Kafka for ", message.topic,
                                     " within ", absl::FormatDuration(timeout)));
  }
  return result.get();
}

absl::Status KafkaProducer::Prepare(const std::vector<std::string>& topics,
                                    absl::Duration timeout) {
  // A produce by topic name creates librdkafka's topic without asking for its leaders (the
  // periodic scan does, up to a second later); a topic handle asks at once, and the metadata
  // request below waits for the answer. Without it the first job after a start waited for two
  // such scans (its Pending record, then the job) before a worker could see it (issue 16).
  for (const std::string& name : topics) {
    std::string err;
    std::unique_ptr<RdKafka::Topic> topic(
        RdKafka::Topic::create(impl_->producer.get(), name, nullptr, err));
    if (topic == nullptr) {
      return errors::Make(errors::Reason::kKafkaClient, absl::StrCat("topic ", name, ": ", err));
    }
    RdKafka::Metadata* raw = nullptr;
    const RdKafka::ErrorCode code = impl_->producer->metadata(
        false, topic.get(), &raw,
        static_cast<int>(std::max<int64_t>(absl::ToInt64Milliseconds(timeout), 1)));
    std::unique_ptr<RdKafka::Metadata> metadata(raw);
    if (code != RdKafka::ERR_NO_ERROR) return internal::ToStatus(code, "metadata of " + name);
    impl_->topics.push_back(std::move(topic));
  }
  return absl::OkStatus();
}

absl::Status KafkaProducer::Flush(absl::Duration timeout) {
  return internal::ToStatus(
      impl_->producer->flush(static_cast<int>(absl::ToInt64Milliseconds(timeout))), "flush");
}

}  // namespace pixq::queue
