#pragma once

// The worker's consume loop: polls pixq.jobs and its retry topic and runs up to `concurrency` +
// `ahead` jobs at once on its own threads (the pipelines themselves are bounded by the codec pool's
// slots, CodecOptions::slots), storing each partition's offset only up to its oldest unfinished job
// (OffsetTracker), so that a crash never skips a job. When partitions are taken away in a
// rebalance, and on shutdown, it stops taking work and lets the jobs in flight finish (up to the
// grace period) so that their offsets are committed and their new owner does not run them again.

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "pkg/clock/clock.h"
#include "pkg/observability/metrics.h"
#include "pkg/queue/consumer.h"
#include "pkg/worker/offsets.h"

namespace pixq::worker {

struct RunnerOptions {
  int concurrency = 1;
  // Jobs taken beyond `concurrency`. A job spends part of its time off the CPU (reading its
  // source, fsyncing its output, waiting for Kafka to acknowledge its status), and on a busy
  // machine those waits grow, since the broker waits for a core too. One more job in hand is
  // loaded and waiting for a codec slot meanwhile, so the slot never idles through them.
  int ahead = 1;
  absl::Duration grace = absl::Seconds(30);
  // Messages on this topic carry a not-before time (kNotBeforeHeader): one that arrives early is
  // deferred, its partition paused and rewound until then, so that it holds up nothing else.
  std::string retry_topic;
  // A not-before further away than this (another clock, a bad header) counts as this far.
  absl::Duration max_defer = absl::Minutes(1);
};

// What the runner does with one message: JobProcessor::Process in the worker. OK means the
// message's result is durable and its offset may be stored; an error leaves it for redelivery.
// Called on several threads at once.
using ProcessFn = std::function<absl::Status(const queue::Message&)>;

class Runner final {
 public:
  // The grace periods and retries' not-before times are read on `clock`.
  Runner(RunnerOptions options, ProcessFn process, observability::Metrics& metrics,
         clock::Clock& clock);

  // Polls `consumer` until `stopping` is set, then pauses every partition and waits up to the
  // grace for the jobs in flight, still polling now and then so that the group keeps this member
  // (and takes its commits) through a rebalance that begins meanwhile. Returns how many jobs were
  // still running when it gave up (their offsets are not stored; they are delivered again).
  int Run(queue::Consumer& consumer, const std::atomic<bool>& stopping);

  // For GroupOptions::on_revoke: waits (up to the grace) for the jobs of `partitions` that are
  // in flight, so their offsets are stored before the partitions go. Called on the polling thread.
  void OnRevoke(const std::vector<std::pair<std::string, int32_t>>& partitions);

 private:
  void Work();
  // Whether `message` (from the retry topic) may not start yet; then it has been deferred.
  bool DeferIfEarly(queue::Consumer& consumer, const queue::Message& message);
  // Resumes the deferred partitions whose time has come.
  void ResumeDue(queue::Consumer& consumer);
  // Waits until `done` holds or the grace runs out on the clock (or the drain's deadline, if
  // sooner); returns whether it held.
  bool WaitForJobs(const absl::Condition& done) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  RunnerOptions options_;
  ProcessFn process_;
  observability::Metrics& metrics_;
  clock::Clock& clock_;
  queue::Consumer* consumer_ = nullptr;

  absl::Mutex mu_;
  std::deque<queue::Message> queue_ ABSL_GUARDED_BY(mu_);
  OffsetTracker offsets_ ABSL_GUARDED_BY(mu_);
  int busy_ ABSL_GUARDED_BY(mu_) = 0;          // taken from the queue and not finished
  int64_t finished_ ABSL_GUARDED_BY(mu_) = 0;  // jobs ended, durable or not
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  // When the shutdown's grace ends (infinite until it begins): a revocation during the drain
  // waits no longer than the drain.
  absl::Time drain_deadline_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  // Retry partitions paused until a time (polling thread only).
  std::map<OffsetTracker::Partition, absl::Time> deferred_;
  // When each deferred retry (partition, offset) was first put off, to cap its wait.
  std::map<std::pair<OffsetTracker::Partition, int64_t>, absl::Time> first_deferred_;
};

}  // namespace pixq::worker
