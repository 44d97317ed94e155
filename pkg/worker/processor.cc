#include "pkg/worker/processor.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

#include "pkg/crypto/hmac.h"
#include "pkg/crypto/sha256.h"
#include "pkg/errors/errors.h"
#include "pkg/imaging/sniff.h"
#include "pkg/job/ids.h"
#include "pkg/job/json.h"
#include "pkg/observability/log.h"

namespace pixq::worker {

absl::Duration RetryPolicy::BackoffAfter(int attempt) const {
  absl::Duration wait = backoff;
  for (int i = 1; i < attempt && wait < max_backoff; ++i) wait *= 2;
  return std::min(wait, max_backoff);
}

JobProcessor::JobProcessor(ProcessorOptions options, const imaging::Engine& pipeline,
                           storage::Store& store, fetch::Fetcher& fetcher,
                           queue::Producer& producer, observability::Metrics& metrics,
                           observability::Tracer& tracer, const std::atomic<bool>& give_up,
                           clock::Clock& clock)
    : options_(std::move(options)),
      pipeline_(pipeline),
      store_(store),
      fetcher_(fetcher),
      producer_(producer),
      metrics_(metrics),
      tracer_(tracer),
      give_up_(give_up),
      clock_(clock),
      statuses_(producer, options_.topics.job_status),
      images_(producer, options_.topics.images) {}

std::string JobProcessor::NowRfc3339() const {
  return job::UnixMillisToRfc3339(absl::ToUnixMillis(clock_.Now()));
}

absl::Status JobProcessor::SendUntilAcknowledged(const queue::OutgoingMessage& message) {
  absl::Duration backoff = absl::Milliseconds(100);
  while (true) {
    absl::Status sent = producer_.Send(message, options_.publish_timeout);
    if (sent.ok()) return sent;
    metrics_.CountProduceError(message.topic);
    observability::LogWarn("not published, retrying", {{"topic", message.topic},
                                                       {"job_id", message.key},
                                                       {"error", std::string(sent.message())}});
    if (give_up_.load()) {
      return errors::Make(errors::Reason::kStatusNotPublished, std::string(sent.message()));
    }
    clock_.SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(5));
  }
}

absl::StatusOr<std::string> JobProcessor::AddToCatalogue(std::string_view bytes,
                                                         const std::string& url) {
  absl::StatusOr<imaging::ImageInfo> info = imaging::SniffWithin(bytes, options_.max_pixels);
  if (!info.ok()) return info.status();
  const std::string id = crypto::Sha256Hex(bytes);
  // Known already (an upload, or an earlier download of the same bytes): the catalogue has it.
  if (store_.HasOriginal(id)) return id;
  PIXQ_RETURN_IF_ERROR(store_.PutOriginal(id, bytes));
  // The file name (and the title) is the URL's last path segment: metadata only, never a path.
  const std::string filename = state::FilenameFromUrl(fetch::RedactedUrl(url));
  const job::ImageMeta meta = state::NewImageMeta({.id = id,
                                                   .format = info->format,
                                                   .width = info->DisplayWidth(),
                                                   .height = info->DisplayHeight(),
                                                   .bytes = static_cast<int64_t>(bytes.size())},
                                                  filename, filename, clock_.Now());
  // Until this is acknowledged the image is not in the catalogue: the attempt fails, transiently.
  absl::Status sent = images_.Write(meta, options_.publish_timeout);
  if (!sent.ok()) {
    metrics_.CountProduceError(options_.topics.images);
    // Without its announcement the next download would take the file for a known image.
    (void)store_.RemoveOriginal(id);
    return errors::Make(errors::Reason::kImageNotPublished, std::string(sent.message()));
  }
  return id;
}

absl::StatusOr<JobProcessor::Source> JobProcessor::LoadSource(job::JobRecord& record) {
  Source source;
  if (record.spec.source.url.empty()) {
    absl::StatusOr<std::string> bytes = store_.ReadOriginal(record.spec.source.image_id);
    if (!bytes.ok()) return bytes.status();
    source.bytes = *std::move(bytes);
    record.status.image_id = record.spec.source.image_id;
  } else {
    absl::StatusOr<fetch::Response> response = fetcher_.Get(record.spec.source.url);
    if (!response.ok()) return response.status();
    absl::StatusOr<std::string> id = AddToCatalogue(response->body, record.spec.source.url);
    if (!id.ok()) return id.status();
    source.bytes = std::move(response->body);
    source.downloaded = true;
    record.status.image_id = *id;
  }
  record.output_key = job::OutputKey(record.status.image_id, record.spec);
  return source;
}

std::optional<job::OutputInfo> JobProcessor::ExistingOutput(const job::JobRecord& record) {
  const std::string path =
      store_.OutputPath(record.output_key, job::FormatExtension(record.spec.output.format));
  if (!store_.Exists(path)) return std::nullopt;
  absl::StatusOr<std::string> bytes = store_.Read(path);
  if (!bytes.ok()) return std::nullopt;
  absl::StatusOr<imaging::ImageInfo> info = imaging::Sniff(*bytes);
  if (!info.ok()) return std::nullopt;  // not what it should be: made again, replacing it
  return job::OutputInfo{.path = path,
                         .format = info->format,
                         .width = info->width,
                         .height = info->height,
                         .bytes = static_cast<int64_t>(bytes->size())};
}

absl::Status JobProcessor::RunPipeline(std::string_view bytes, job::JobRecord& record,
                                       observability::JobObservation& observed,
                                       const observability::SpanContext& parent) {
  auto child = [&](const std::string& name, absl::Time start, absl::Time end) {
    tracer_.StartSpan(name, observability::SpanKind::kInternal, &parent, start).End(end);
  };
  job::JobStatus& status = record.status;
  absl::StatusOr<imaging::Result> result =
      pipeline_.Run(bytes, record.spec.steps, record.spec.output);
  if (!result.ok()) return result.status();
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
  const absl::Time store_start = clock_.Now();
  absl::StatusOr<std::string> path =
      store_.PutOutput(record.output_key, job::FormatExtension(result->format), result->bytes);
  const absl::Time store_end = clock_.Now();
  child("store", store_start, store_end);
  status.timings.store_ms = absl::ToInt64Milliseconds(store_end - store_start);
  if (!path.ok()) return path.status();
  observed.bytes_out = static_cast<int64_t>(result->bytes.size());
  status.output = job::OutputInfo{.path = *path,
                                  .format = result->format,
                                  .width = result->width,
                                  .height = result->height,
                                  .bytes = static_cast<int64_t>(result->bytes.size())};
  return absl::OkStatus();
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
  if (auto header = message.HeaderValue(kAttemptHeader)) {
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
  status.started_at = NowRfc3339();
  status.reason.clear();
  status.message.clear();
  status.output.reset();
  // How long this attempt waited: since it was queued (the message's time, which for a job retried
  // by a client or after a transient failure is the retry's), or since the job was created when
  // the broker gave no time.
  const int64_t queued =
      message.timestamp_ms > 0 ? message.timestamp_ms : job::Rfc3339ToUnixMillis(record.created_at);
  if (queued > 0) {
    status.timings.queue_ms = std::max<int64_t>(0, absl::ToUnixMillis(clock_.Now()) - queued);
  }
  // Running is informative; if it is lost, the terminal status still follows.
  statuses_.WriteAsync(record, [id](absl::Status s) {
    if (!s.ok()) {
      observability::LogWarn("running status not published",
                             {{"job_id", id}, {"error", std::string(s.message())}});
    }
  });

  const absl::Time fetch_start = clock_.Now();
  absl::StatusOr<Source> source = LoadSource(record);
  const absl::Time fetch_end = clock_.Now();
  child("fetch", fetch_start, fetch_end);
  status.timings.fetch_ms = absl::ToInt64Milliseconds(fetch_end - fetch_start);

  observability::JobObservation observed;
  absl::Status outcome = source.status();
  if (outcome.ok()) {
    observed.bytes_in = static_cast<int64_t>(source->bytes.size());
    // The output may exist already: a downloaded image whose bytes were seen before, a job the
    // API queued although its output existed (to call its callbackUrl), or a job delivered again.
    if (std::optional<job::OutputInfo> existing = ExistingOutput(record)) {
      status.cache_hit = true;
      status.output = *existing;
    } else {
      outcome = RunPipeline(source->bytes, record, observed, consume.context());
    }
  }

  // A transient failure with attempts left goes back to the queue, after a backoff.
  const bool transient = !outcome.ok() && errors::IsRetriable(outcome);
  const bool again = transient && attempt < options_.retry.max_attempts;
  if (outcome.ok()) {
    status.phase = job::Phase::kSucceeded;
    status.finished_at = NowRfc3339();
  } else {
    status.reason = errors::ReasonOf(outcome);
    status.message = std::string(outcome.message());
    consume.SetAttribute("pixq.reason", status.reason);
    consume.SetError(status.message);
  }
  if (again) {
    const absl::Duration wait = options_.retry.BackoffAfter(attempt);
    const int64_t not_before = absl::ToUnixMillis(clock_.Now() + wait);
    status.phase = job::Phase::kPending;
    status.message = absl::StrCat("attempt ", attempt, " of ", options_.retry.max_attempts,
                                  " failed (", status.message, "); the next one starts after ",
                                  job::UnixMillisToRfc3339(not_before));
    PIXQ_RETURN_IF_ERROR(SendUntilAcknowledged(
        {.topic = options_.topics.retry,
         .key = id,
         .value = job::ToJson(record).dump(),
         .headers = {{kAttemptHeader, std::to_string(attempt + 1)},
                     {kNotBeforeHeader, std::to_string(not_before)},
                     {"traceparent", observability::FormatTraceparent(consume.context())}}}));
  } else if (!outcome.ok()) {
    status.phase = job::Phase::kFailed;
    status.finished_at = NowRfc3339();
    if (transient) {
      // Out of attempts: the job, its last error and its attempts go to the dead-letter topic,
      // from where an operator can replay it once the cause is fixed.
      status.message = absl::StrCat("gave up after ", attempt, " attempts: ", status.message);
      const nlohmann::json letter = {
          {"job", job::ToJson(record)},
          {"attempts", attempt},
          {"error", {{"reason", status.reason}, {"message", std::string(outcome.message())}}},
          {"failedAt", status.finished_at}};
      PIXQ_RETURN_IF_ERROR(
          SendUntilAcknowledged({.topic = options_.topics.dlq,
                                 .key = id,
                                 .value = letter.dump(),
                                 .headers = {{kAttemptHeader, std::to_string(attempt)}}}));
      metrics_.CountDeadLettered();
    }
  }
  consume.SetAttribute("pixq.phase", std::string(job::PhaseName(status.phase)));
  observed.result = outcome.ok() ? "succeeded" : again ? "retried" : "failed";
  observed.reason = status.reason;
  observed.format = job::FormatName(record.spec.output.format);
  observed.queue_seconds = static_cast<double>(status.timings.queue_ms) / 1000;
  observed.fetch_seconds = static_cast<double>(status.timings.fetch_ms) / 1000;
  observed.decode_seconds = static_cast<double>(status.timings.decode_ms) / 1000;
  observed.process_seconds = static_cast<double>(status.timings.process_ms) / 1000;
  observed.encode_seconds = static_cast<double>(status.timings.encode_ms) / 1000;
  observed.store_seconds = static_cast<double>(status.timings.store_ms) / 1000;
  metrics_.ObserveJob(observed);
  observability::LogInfo(outcome.ok() ? "job succeeded"
                         : again      ? "job attempt failed, retrying later"
                                      : "job failed",
                         {{"phase", job::PhaseName(status.phase)},
                          {"reason", status.reason},
                          {"attempt", attempt},
                          {"duration_ms", status.timings.fetch_ms + status.timings.decode_ms +
                                              status.timings.process_ms + status.timings.encode_ms +
                                              status.timings.store_ms}});
  PIXQ_RETURN_IF_ERROR(SendUntilAcknowledged(statuses_.Record(record)));
  // The status is durable; now tell whoever asked. Before the offset is stored, so a crash here
  // means the job runs and calls again rather than not calling at all.
  if (!record.spec.callback_url.empty() && status.phase != job::Phase::kPending) {
    Notify(record, consume.context());
  }
  return absl::OkStatus();
}

void JobProcessor::Notify(const job::JobRecord& record, const observability::SpanContext& parent) {
  observability::Span span =
      tracer_.StartSpan("webhook", observability::SpanKind::kClient, &parent);
  const std::string url = fetch::RedactedUrl(record.spec.callback_url);
  span.SetAttribute("http.request.method", std::string("POST"));
  span.SetAttribute("url.full", url);
  const std::string body = job::ToApiJson(record).dump();
  const bool succeeded = record.status.phase == job::Phase::kSucceeded;
  fetch::Headers headers = {{"Content-Type", "application/json"},
                            {"X-Pixq-Job-Id", record.id},
                            {"X-Pixq-Event", succeeded ? "job.succeeded" : "job.failed"},
                            {"traceparent", observability::FormatTraceparent(span.context())}};
  if (!options_.webhook.secret.empty()) {
    headers.emplace_back("X-Pixq-Signature-256",
                         "sha256=" + crypto::HmacSha256Hex(options_.webhook.secret, body));
  }
  absl::Status last;
  absl::Duration wait = options_.webhook.backoff;
  for (int attempt = 1; attempt <= options_.webhook.max_attempts; ++attempt) {
    absl::StatusOr<fetch::Response> answer = fetcher_.Post(record.spec.callback_url, body, headers);
    if (answer.ok() || attempt == options_.webhook.max_attempts ||
        !errors::IsRetriable(answer.status()) || give_up_.load()) {
      span.SetAttribute("pixq.attempt", int64_t{attempt});  // the last one made
    }
    if (answer.ok()) {
      span.SetAttribute("http.response.status_code", int64_t{answer->status});
      metrics_.CountWebhook(true);
      observability::LogInfo("webhook delivered", {{"url", url}, {"attempt", attempt}});
      return;
    }
    last = answer.status();
    // A permanent refusal (the guard, a 4xx) will not change; a shutdown does not wait.
    if (!errors::IsRetriable(last) || give_up_.load() || attempt == options_.webhook.max_attempts) {
      break;
    }
    clock_.SleepFor(wait);
    wait *= 2;
  }
  span.SetError(std::string(last.message()));
  metrics_.CountWebhook(false);
  observability::LogWarn(
      "webhook not delivered",
      {{"url", url}, {"reason", errors::ReasonOf(last)}, {"error", std::string(last.message())}});
}

}  // namespace pixq::worker
