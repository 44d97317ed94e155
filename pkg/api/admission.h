#pragma once

// Whether new work may be accepted, so that a 202 stays a promise: a job is only accepted while
// the work topics have room to keep it until a worker runs it (see pkg/queue/capacity.h for the
// room and the backlog). Checked in the background, every `interval`, never per request.
//
// The rule: once the backlog of any one partition of a work topic takes `high_water` of that
// partition's room (by bytes, records or age, whichever is fullest), new jobs are refused with
// 503 "BacklogFull" and a Retry-After; they are accepted again once every partition is below
// `low_water` (hysteresis, so that admission does not flap at the mark). Per partition, not
// summed: jobs are spread by key, and one full partition deletes its oldest jobs however empty
// the others are. Only new work is refused: reads, deletes, uploads (they fill pixq.images, not a
// work topic) and probes are not. A failed read of the backlog keeps the last decision.
//
// Between two checks, what this replica sends counts at once (`sent`, its producer's record
// sizes): the jobs it sent to a topic since the last check are added to the topic's fullest
// partition (all of them with one partition, twice an even share with more: job ids spread
// evenly over partitions by key hash, with a margin), and a job that would take that partition
// to the high-water mark is refused until the next check reads the log again. Without this, the
// headroom above the mark would have to hold a whole interval's submissions.
//
// Retry-After: how long the fullest partitions take to drain to the low-water mark at the pace
// they drained since the last check, within [min_retry_after, max_retry_after]; the maximum while
// nothing drains (no worker runs).
//
// Thread-safe: Admit from any thread; CheckNow from one thread at a time.

#include <map>
#include <string>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "pkg/clock/clock.h"
#include "pkg/observability/metrics.h"
#include "pkg/queue/capacity.h"

namespace pixq::api {

struct AdmissionOptions {
  double high_water = 0.8;  // refuse from this share of a partition's room
  double low_water = 0.6;   // admit again once every partition is below this share
  absl::Duration interval = absl::Seconds(1);
  absl::Duration min_retry_after = absl::Seconds(1);
  absl::Duration max_retry_after = absl::Seconds(30);
};

class Admission final {
 public:
  // `source`, `sent` and `metrics` must outlive the admission; `sent` may be null (nothing
  // counted between checks).
  Admission(queue::BacklogSource& source, const queue::RecordSizes* sent, AdmissionOptions options,
            observability::Metrics& metrics, clock::Clock& clock);
  ~Admission();  // stops the background checks
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;

  // Starts checking every `interval` on a background thread.
  void Start();
  // Reads the backlog now, on the calling thread, and decides.
  void CheckNow();

  // Errors: "BacklogFull" (503, retriable) with errors::RetryAfterOf set, while refusing.
  [[nodiscard]] absl::Status Admit() const;

 private:
  using PartitionKey = std::pair<std::string, int32_t>;
  struct Seen {
    int64_t records = 0;
    absl::Time at;
  };

  // A work topic as the last check found it.
  struct TopicSeen {
    queue::PartitionBacklog fullest;
    int partitions = 0;
    queue::RecordSizes::Totals sent;  // what this replica had sent to it just before the read
  };

  queue::BacklogSource& source_;
  const queue::RecordSizes* sent_;
  AdmissionOptions options_;
  observability::Metrics& metrics_;
  clock::Clock& clock_;
  // CheckNow's thread only: the previous check's backlogs, and whether its read failed.
  std::map<PartitionKey, Seen> seen_;
  bool read_failing_ = false;

  mutable absl::Mutex mu_;
  absl::Status refusal_ ABSL_GUARDED_BY(mu_);  // OK while admitting
  std::map<std::string, TopicSeen> topics_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace pixq::api
