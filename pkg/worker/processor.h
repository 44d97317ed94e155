#pragma once

// What a worker does with one job from pixq.jobs: publish Running, load the source, run the
// pipeline, store the output atomically under its output key, publish Succeeded or Failed.
//
// At-least-once: Process returns OK only once the terminal status is acknowledged by Kafka, and
// only then may the caller store the message's offset. A job delivered twice (after a crash or a
// rebalance) is run again and writes the same bytes to the same path, so running twice is safe.
//
// Thread-safe: Process runs on several threads at once for different messages (worker::Runner).

#include <atomic>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

#include "pkg/imaging/pipeline.h"
#include "pkg/observability/metrics.h"
#include "pkg/observability/trace.h"
#include "pkg/queue/message.h"
#include "pkg/queue/producer.h"
#include "pkg/storage/store.h"

namespace pixq::worker {

struct ProcessorOptions {
  queue::Topics topics = queue::Topics::WithPrefix("pixq.");
  std::string worker_name = "worker";
  absl::Duration publish_timeout = absl::Seconds(5);
};

class JobProcessor final {
 public:
  // `give_up` is read while retrying a status publish: once set (the worker's shutdown grace is
  // over), Process returns an error instead (the offset stays unstored; the job runs again later).
  JobProcessor(ProcessorOptions options, const imaging::Pipeline& pipeline, storage::Store& store,
               queue::Producer& producer, observability::Metrics& metrics,
               observability::Tracer& tracer, const std::atomic<bool>& give_up);

  // Errors: "StatusNotPublished" (retriable) when the terminal status could not be made durable.
  // A job that fails (bad image, missing original) is not an error here: it is published Failed.
  [[nodiscard]] absl::Status Process(const queue::Message& message);

 private:
  absl::Status PublishUntilAcknowledged(const std::string& id, const std::string& value);

  ProcessorOptions options_;
  const imaging::Pipeline& pipeline_;
  storage::Store& store_;
  queue::Producer& producer_;
  observability::Metrics& metrics_;
  observability::Tracer& tracer_;
  const std::atomic<bool>& give_up_;
};

}  // namespace pixq::worker
