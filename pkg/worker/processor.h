#pragma once

// What a worker does with one job from pixq.jobs (or pixq.jobs.retry): publish Running, load the
// source (an uploaded image, or a URL downloaded behind the SSRF guard, which then becomes an
// image in the catalogue), run the pipeline unless the output exists already (a cache hit), store
// the output atomically under its output key, publish Succeeded or Failed.
//
// Failures: a permanent one fails the job at once. A transient one (errors::IsRetriable: the
// origin timed out or answered 503, the volume is full) sends the job to pixq.jobs.retry with the
// next attempt number and a not-before time, and publishes Pending with the attempt count and the
// last error; after RetryPolicy::max_attempts the job goes to pixq.jobs.dlq and is Failed.
//
// At-least-once: Process returns OK only once the terminal status is acknowledged by Kafka, and
// only then may the caller store the message's offset. A job delivered twice (after a crash or a
// rebalance) is run again and writes the same bytes to the same path, so running twice is safe.
//
// Thread-safe: Process runs on several threads at once for different messages (worker::Runner).

#include <atomic>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

#include "pkg/clock/clock.h"
#include "pkg/fetch/fetcher.h"
#include "pkg/imaging/pipeline.h"
#include "pkg/job/spec.h"
#include "pkg/observability/metrics.h"
#include "pkg/observability/trace.h"
#include "pkg/queue/message.h"
#include "pkg/queue/producer.h"
#include "pkg/state/image_records.h"
#include "pkg/state/status_writer.h"
#include "pkg/storage/store.h"

namespace pixq::worker {

// When a job that failed with a transient error (errors::IsRetriable) is tried again: attempt n
// waits backoff × 2^(n-1), at most max_backoff; after max_attempts it fails for good.
struct RetryPolicy {
  int max_attempts = 5;
  absl::Duration backoff = absl::Seconds(1);
  absl::Duration max_backoff = absl::Minutes(1);

  // How long to wait after attempt `attempt` (1-based) failed.
  [[nodiscard]] absl::Duration BackoffAfter(int attempt) const;
};

// Calls to a job's callbackUrl when it ends: the job's JSON (as GET /v1/jobs/{id} shows it),
// POSTed with X-Pixq-Signature-256: sha256=<HMAC-SHA256 of the body under `secret`> (omitted when
// `secret` is empty), X-Pixq-Job-Id and X-Pixq-Event: job.succeeded | job.failed; tried
// `max_attempts` times, waiting `backoff` doubling between them. A job delivered again (after a
// crash) calls again: receivers should be idempotent on the job id.
struct WebhookOptions {
  std::string secret;
  int max_attempts = 3;
  absl::Duration backoff = absl::Seconds(1);
};

struct ProcessorOptions {
  queue::Topics topics = queue::Topics::WithPrefix("pixq.");
  std::string worker_name = "worker";
  absl::Duration publish_timeout = absl::Seconds(5);
  RetryPolicy retry;
  // A downloaded image larger than this (width × height, from its header) is refused before it
  // is stored: "ImageTooLarge", as for an upload.
  int64_t max_pixels = 100'000'000;
  WebhookOptions webhook;
};

// The headers of a job message (on pixq.jobs and pixq.jobs.retry).
inline constexpr char kAttemptHeader[] = "pixq-attempt";       // 1-based, decimal
inline constexpr char kNotBeforeHeader[] = "pixq-not-before";  // epoch milliseconds

class JobProcessor final {
 public:
  // `give_up` is read while retrying a status publish: once set (the worker's shutdown grace is
  // over), Process returns an error instead (the offset stays unstored; the job runs again later).
  // `clock` gives the statuses' times, a retry's not-before, the stage timings, and the waits
  // between attempts to publish or to call a callback.
  JobProcessor(ProcessorOptions options, const imaging::Engine& pipeline, storage::Store& store,
               fetch::Fetcher& fetcher, queue::Producer& producer, observability::Metrics& metrics,
               observability::Tracer& tracer, const std::atomic<bool>& give_up,
               clock::Clock& clock);

  // Errors: "StatusNotPublished" (retriable) when the outcome (the terminal status, or the retry
  // or dead letter and its status) could not be made durable. A job that fails (bad image,
  // missing original) is not an error here: it is published Failed.
  [[nodiscard]] absl::Status Process(const queue::Message& message);

 private:
  struct Source {
    std::string bytes;
    bool downloaded = false;
  };
  // The source's bytes; sets the record's image id and output key.
  absl::StatusOr<Source> LoadSource(job::JobRecord& record);
  // Stores a downloaded image and announces it on pixq.images, unless it is known already.
  absl::StatusOr<std::string> AddToCatalogue(std::string_view bytes, const std::string& url);
  // Decodes, runs the steps, encodes and stores; fills the record's output and timings.
  absl::Status RunPipeline(std::string_view bytes, job::JobRecord& record,
                           observability::JobObservation& observed,
                           const observability::SpanContext& parent);
  // The output that exists already under the record's output key, if any.
  std::optional<job::OutputInfo> ExistingOutput(const job::JobRecord& record);
  // POSTs the finished job to its callbackUrl (a "webhook" span under `parent`).
  void Notify(const job::JobRecord& record, const observability::SpanContext& parent);
  // Sends `message` until Kafka acknowledges it, or until told to give up.
  absl::Status SendUntilAcknowledged(const queue::OutgoingMessage& message);
  // The clock's time as the records write it (RFC 3339, milliseconds).
  std::string NowRfc3339() const;

  ProcessorOptions options_;
  const imaging::Engine& pipeline_;
  storage::Store& store_;
  fetch::Fetcher& fetcher_;
  queue::Producer& producer_;
  observability::Metrics& metrics_;
  observability::Tracer& tracer_;
  const std::atomic<bool>& give_up_;
  clock::Clock& clock_;
  state::StatusWriter statuses_;
  state::ImageWriter images_;
};

}  // namespace pixq::worker
