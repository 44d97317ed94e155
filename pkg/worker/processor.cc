#include "pkg/worker/processor.h"

#include <chrono>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

#include "pkg/errors/errors.h"
#include "pkg/job/ids.h"
#include "pkg/job/json.h"
#include "pkg/observability/log.h"

namespace pixq::worker {

JobProcessor::JobProcessor(ProcessorOptions options, const imaging::Pipeline& pipeline,
                           storage::Store& store, queue::Producer& producer,
                           observability::Metrics& metrics, observability::Tracer& tracer,
                           const std::atomic<bool>& give_up)
    : options_(std::move(options)),
      pipeline_(pipeline),
      store_(store),
      producer_(producer),
      metrics_(metrics),
      tracer_(tracer),
      give_up_(give_up) {}

absl::Status JobProcessor::PublishUntilAcknowledged(const std::string& id,
                                                    const std::string& value) {
  absl::Duration backoff = absl::Milliseconds(100);
  while (true) {
    absl::Status sent = producer_.Send(
        {.topic = options_.topics.job_status, .key = id, .value = value}, options_.publish_timeout);
    if (sent.ok()) return sent;
    metrics_.CountProduceError(options_.topics.job_status);
    observability::LogWarn("status not published, retrying",
                           {{"job_id", id}, {"error", std::string(sent.message())}});
    if (give_up_.load()) {
      return errors::Unavailable("StatusNotPublished", std::string(sent.message()));
    }
    std::this_thread::sleep_for(absl::ToChronoMilliseconds(backoff));
    backoff = std::min(backoff * 2, absl::Seconds(5));
  }
}

absl::Status JobProcessor::Process(const queue::Message& message) {
  if (!message.value) return absl::OkStatus();  // a tombstone carries no work
  absl::StatusOr<job::JobRecord> parsed = job::RecordFromJson(*message.value);
  if (!parsed.ok() || !job::IsJobId(parsed->id)) {
    // Nothing can be done with it, now or later: skip it rather than block the partition.
    observability::LogError(
        "unreadable job skipped",
        {{"topic", message.topic}, {"partition", message.partition}, {"offset", message.offset}});
    return absl::OkStatus();
  }
  job::JobRecord record = *std::move(parsed);
  const std::string& id = record.id;
  job::JobStatus& status = record.status;
  int attempt = 1;
  if (auto header = message.HeaderValue("pixq-attempt")) {
    if (!absl::SimpleAtoi(*header, &attempt) || attempt < 1) attempt = 1;
  }

  // The trace the API started continues here, from the traceparent the producer sent along.
  std::optional<observability::SpanContext> parent;
  if (auto header = message.HeaderValue("traceparent")) {
    parent = observability::ParseTraceparent(*header);
  }
  observability::Span consume = tracer_.StartSpan(
      message.topic + " process", observability::SpanKind::kConsumer, parent ? &*parent : nullptr);
  consume.SetAttribute("messaging.system", std::string("kafka"));
  consume.SetAttribute("messaging.operation", std::string("process"));
  consume.SetAttribute("messaging.destination.name", message.topic);
  consume.SetAttribute("messaging.destination.partition.id", std::to_string(message.partition));
  consume.SetAttribute("messaging.kafka.message.offset", message.offset);
  consume.SetAttribute("pixq.job.id", id);
  consume.SetAttribute("pixq.attempt", int64_t{attempt});
  const observability::LogContext log_context({{"job_id", id},
                                               {"trace_id", consume.context().TraceIdHex()},
                                               {"span_id", consume.context().SpanIdHex()}});
  auto child = [&](const std::string& name, absl::Time start, absl::Time end) {
    tracer_.StartSpan(name, observability::SpanKind::kInternal, &consume.context(), start).End(end);
  };

  status.phase = job::Phase::kRunning;
  status.attempts = attempt;
  status.worker = options_.worker_name;
  status.started_at = job::NowRfc3339();
  status.reason.clear();
  status.message.clear();
  status.output.reset();
  const int64_t created = job::Rfc3339ToUnixMillis(record.created_at);
  if (created > 0) {
    status.timings.queue_ms = std::max<int64_t>(0, job::NowUnixMillis() - created);
  }
  // Running is informative; if it is lost, the terminal status still follows.
  producer_.SendAsync(
      {.topic = options_.topics.job_status, .key = id, .value = job::ToJson(record).dump()},
      [id](absl::Status s) {
        if (!s.ok()) {
          observability::LogWarn("running status not published",
                                 {{"job_id", id}, {"error", std::string(s.message())}});
        }
      });

  const absl::Time fetch_start = absl::Now();
  absl::StatusOr<std::string> source = store_.ReadOriginal(record.spec.source.image_id);
  const absl::Time fetch_end = absl::Now();
  child("fetch", fetch_start, fetch_end);
  status.timings.fetch_ms = absl::ToInt64Milliseconds(fetch_end - fetch_start);

  observability::JobObservation observed;
  absl::Status outcome = source.status();
  if (outcome.ok()) {
    observed.bytes_in = static_cast<int64_t>(source->size());
    absl::StatusOr<imaging::Result> result =
        pipeline_.Run(*source, record.spec.steps, record.spec.output);
    outcome = result.status();
    if (result.ok()) {
      child("decode", result->decode.start, result->decode.end);
      for (const imaging::Interval& step : result->steps) {
        child(step.name, step.start, step.end);
        observed.steps.emplace_back(step.name, absl::ToDoubleSeconds(step.duration()));
      }
      child("encode", result->encode.start, result->encode.end);
      status.timings.decode_ms = absl::ToInt64Milliseconds(result->decode.duration());
      status.timings.process_ms =
          result->steps.empty()
              ? 0
              : absl::ToInt64Milliseconds(result->steps.back().end - result->steps.front().start);
      status.timings.encode_ms = absl::ToInt64Milliseconds(result->encode.duration());
      const absl::Time store_start = absl::Now();
      absl::StatusOr<std::string> path =
          store_.PutOutput(record.output_key, job::FormatExtension(result->format), result->bytes);
      const absl::Time store_end = absl::Now();
      child("store", store_start, store_end);
      status.timings.store_ms = absl::ToInt64Milliseconds(store_end - store_start);
      outcome = path.status();
      if (path.ok()) {
        observed.bytes_out = static_cast<int64_t>(result->bytes.size());
        status.output = job::OutputInfo{.path = *path,
                                        .format = result->format,
                                        .width = result->width,
                                        .height = result->height,
                                        .bytes = static_cast<int64_t>(result->bytes.size())};
      }
    }
  }

  status.finished_at = job::NowRfc3339();
  if (outcome.ok()) {
    status.phase = job::Phase::kSucceeded;
  } else {
    status.phase = job::Phase::kFailed;
    status.reason = errors::ReasonOf(outcome);
    status.message = std::string(outcome.message());
    consume.SetAttribute("pixq.reason", status.reason);
    consume.SetError(status.message);
  }
  consume.SetAttribute("pixq.phase", std::string(job::PhaseName(status.phase)));
  observed.result = outcome.ok() ? "succeeded" : "failed";
  observed.reason = status.reason;
  observed.format = job::FormatName(record.spec.output.format);
  observed.queue_seconds = static_cast<double>(status.timings.queue_ms) / 1000;
  observed.fetch_seconds = static_cast<double>(status.timings.fetch_ms) / 1000;
  observed.decode_seconds = static_cast<double>(status.timings.decode_ms) / 1000;
  observed.process_seconds = static_cast<double>(status.timings.process_ms) / 1000;
  observed.encode_seconds = static_cast<double>(status.timings.encode_ms) / 1000;
  observed.store_seconds = static_cast<double>(status.timings.store_ms) / 1000;
  metrics_.ObserveJob(observed);
  observability::LogInfo(outcome.ok() ? "job succeeded" : "job failed",
                         {{"phase", job::PhaseName(status.phase)},
                          {"reason", status.reason},
                          {"attempt", attempt},
                          {"duration_ms", status.timings.fetch_ms + status.timings.decode_ms +
                                              status.timings.process_ms + status.timings.encode_ms +
                                              status.timings.store_ms}});
  return PublishUntilAcknowledged(id, job::ToJson(record).dump());
}

}  // namespace pixq::worker
