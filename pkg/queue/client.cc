#include <string>

#include "absl/strings/str_cat.h"

#include "pkg/errors/errors.h"
#include "pkg/observability/log.h"
#include "pkg/queue/client_internal.h"
#include "pkg/queue/message.h"

namespace pixq::queue {

std::optional<std::string> Message::HeaderValue(const std::string& name) const {
  for (const Header& h : headers) {
    if (h.key == name) return h.value;
  }
  return std::nullopt;
}

Topics Topics::WithPrefix(const std::string& prefix) {
  return Topics{.jobs = prefix + "jobs",
                .retry = prefix + "jobs.retry",
                .dlq = prefix + "jobs.dlq",
                .job_status = prefix + "job-status",
                .images = prefix + "images"};
}

std::vector<std::string> Topics::All() const { return {jobs, retry, dlq, job_status, images}; }

std::string RetryGroupOf(const std::string& work_group) { return work_group + ".retry"; }

namespace internal {

void LogEvents::event_cb(RdKafka::Event& event) {
  using observability::Level;
  switch (event.type()) {
    case RdKafka::Event::EVENT_ERROR:
      // Transport errors are expected while a broker restarts; librdkafka retries on its own.
      observability::Log(event.fatal() ? Level::kError : Level::kWarn, "kafka error",
                         {{"error", RdKafka::err2str(event.err())}, {"detail", event.str()}});
      break;
    case RdKafka::Event::EVENT_LOG: {
      // Errors also arrive as EVENT_ERROR (logged above); the log lines say the same at more
      // length, so only the gravest are kept above debug.
      const Level level = event.severity() <= RdKafka::Event::EVENT_SEVERITY_CRITICAL
                              ? Level::kError
                              : Level::kDebug;
      observability::Log(level, "kafka log", {{"facility", event.fac()}, {"detail", event.str()}});
      break;
    }
    default:
      break;
  }
}

LogEvents& SharedLogEvents() {
  static LogEvents events;
  return events;
}

absl::Status Set(RdKafka::Conf& conf, const std::string& key, const std::string& value) {
  std::string err;
  if (conf.set(key, value, err) != RdKafka::Conf::CONF_OK) {
    return errors::Make(errors::Reason::kInvalidConfig,
                        absl::StrCat("kafka property ", key, ": ", err));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<RdKafka::Conf>> MakeConf(
    const ClientOptions& options, const std::map<std::string, std::string>& extra) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  if (options.bootstrap_servers.empty()) {
    return errors::Make(errors::Reason::kInvalidConfig, "kafka.bootstrap_servers: is empty");
  }
  PIXQ_RETURN_IF_ERROR(Set(*conf, "bootstrap.servers", options.bootstrap_servers));
  PIXQ_RETURN_IF_ERROR(Set(*conf, "client.id", options.client_id));
  // Requests are small and several share a connection (a producer's five in flight; a
  // consumer's fetch, heartbeat and commit): with Nagle's algorithm a request waits for the
  // acknowledgement of the one before, which delayed ACKs can hold back for 40 ms.
  PIXQ_RETURN_IF_ERROR(Set(*conf, "socket.nagle.disable", "true"));
  std::string err;
  if (conf->set("event_cb", static_cast<RdKafka::EventCb*>(&SharedLogEvents()), err) !=
      RdKafka::Conf::CONF_OK) {
    return errors::Make(errors::Reason::kKafkaClient, err);
  }
  for (const auto& [key, value] : extra) PIXQ_RETURN_IF_ERROR(Set(*conf, key, value));
  for (const auto& [key, value] : options.properties) PIXQ_RETURN_IF_ERROR(Set(*conf, key, value));
  return conf;
}

absl::StatusOr<std::unique_ptr<RdKafka::Conf>> MakeConsumerConf(
    const ClientOptions& options, std::map<std::string, std::string> extra) {
  // How long a broker may hold a fetch that finds nothing new. A real Kafka answers a fetch as
  // soon as fetch.min.bytes (1) arrived, so there this only sets how often an idle consumer asks
  // again: 1000 / kFetchWaitMaxMs requests a second to each broker it fetches from. librdkafka's
  // mock cluster (pixq-devbroker) never answers early: an empty fetch waits out the whole time
  // (rd_kafka_mock_handle_Fetch), and a job crosses two of them (the worker's fetch of the jobs,
  // the API's fetch of its status); responses behind it on the connection (the table reader's
  // ListOffsets when it catches up) wait too. With librdkafka's 500 ms that was most of a job's
  // latency at light load (issue 16: 820 ms p50 for a 64 ms pipeline). librdkafka backs off
  // only after errors (fetch.error.backoff.ms), not after a fetch that reached the partition's
  // end, so this alone sets the pace. What the empty fetches cost an idle system, and the
  // latency either way, is measured by bench/system/run.sh (bench/results/pickup.md); with a
  // real Kafka, kafka.properties may raise it (fetch.wait.max.ms=500) at no cost in latency.
  extra.try_emplace("fetch.wait.max.ms", std::to_string(kFetchWaitMaxMs));
  return MakeConf(options, extra);
}

Message ToMessage(RdKafka::Message& m) {
  Message out;
  out.topic = m.topic_name();
  out.partition = m.partition();
  out.offset = m.offset();
  out.timestamp_ms = m.timestamp().timestamp;
  if (m.key() != nullptr) out.key = *m.key();
  if (m.payload() != nullptr) {
    out.value.emplace(static_cast<const char*>(m.payload()), m.len());
  }
  if (const RdKafka::Headers* headers = m.headers()) {
    for (const RdKafka::Headers::Header& h : headers->get_all()) {
      out.headers.push_back(
          {h.key(), h.value() != nullptr ? std::string(h.value_string(), h.value_size()) : ""});
    }
  }
  return out;
}

absl::Status ToStatus(RdKafka::ErrorCode code, const std::string& what) {
  if (code == RdKafka::ERR_NO_ERROR) return absl::OkStatus();
  const std::string message = absl::StrCat(what, ": ", RdKafka::err2str(code));
  switch (code) {
    case RdKafka::ERR__MSG_TIMED_OUT:
    case RdKafka::ERR__TIMED_OUT:
    case RdKafka::ERR_REQUEST_TIMED_OUT:
      return errors::Make(errors::Reason::kProduceTimeout, message);
    case RdKafka::ERR__QUEUE_FULL:
      return errors::Make(errors::Reason::kQueueFull, message);
    case RdKafka::ERR__UNKNOWN_TOPIC:
    case RdKafka::ERR_UNKNOWN_TOPIC_OR_PART:
      return errors::Make(errors::Reason::kUnknownTopic, message);
    default:
      return errors::Make(errors::Reason::kBrokerUnavailable, message);
  }
}

}  // namespace internal
}  // namespace pixq::queue
