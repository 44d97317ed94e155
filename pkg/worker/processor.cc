#include "pkg/worker/processor.h"

#include <chrono>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

#include "pkg/errors/errors.h"
#include "pkg/job/ids.h"
#include "pkg/job/json.h"
#include "pkg/observability/log.h"

namespace pixq::worker {
namespace {

int64_t MillisSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start)
      .count();
}

}  // namespace

JobProcessor::JobProcessor(ProcessorOptions options, const imaging::Pipeline& pipeline,
                           storage::Store& store, queue::Producer& producer,
                           observability::Metrics& metrics, const std::atomic<bool>& stopping)
    : options_(std::move(options)),
      pipeline_(pipeline),
      store_(store),
      producer_(producer),
      metrics_(metrics),
      stopping_(stopping) {}

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
    if (stopping_.load()) {
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

  const auto fetch_start = std::chrono::steady_clock::now();
  absl::StatusOr<std::string> source = store_.ReadOriginal(record.spec.source.image_id);
  status.timings.fetch_ms = MillisSince(fetch_start);

  observability::JobObservation observed;
  absl::Status outcome = source.status();
  if (outcome.ok()) {
    observed.bytes_in = static_cast<int64_t>(source->size());
    absl::StatusOr<imaging::Result> result =
        pipeline_.Run(*source, record.spec.steps, record.spec.output);
    outcome = result.status();
    if (result.ok()) {
      status.timings.decode_ms = result->decode_ms;
      status.timings.process_ms = result->process_ms;
      status.timings.encode_ms = result->encode_ms;
      for (size_t i = 0; i < result->step_seconds.size() && i < record.spec.steps.size(); ++i) {
        observed.steps.emplace_back(std::string(job::OpName(record.spec.steps[i])),
                                    result->step_seconds[i]);
      }
      const auto store_start = std::chrono::steady_clock::now();
      absl::StatusOr<std::string> path =
          store_.PutOutput(record.output_key, job::FormatExtension(result->format), result->bytes);
      status.timings.store_ms = MillisSince(store_start);
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
  }
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
                         {{"job_id", id},
                          {"phase", job::PhaseName(status.phase)},
                          {"reason", status.reason},
                          {"attempt", attempt},
                          {"duration_ms", status.timings.fetch_ms + status.timings.decode_ms +
                                              status.timings.process_ms + status.timings.encode_ms +
                                              status.timings.store_ms}});
  return PublishUntilAcknowledged(id, job::ToJson(record).dump());
}

}  // namespace pixq::worker
