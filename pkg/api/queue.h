#pragma once

// What GET /v1/queue answers: the workers' consumer group and its lag per partition of pixq.jobs
// (from Kafka, queue::GroupReader), and what this API replica saw of jobs finishing in the status
// records its table reader applies: jobs finished per second over the last minute, failures by
// reason, and the workers named in recent records (which is how workers are known where the
// broker cannot describe the group: the local broker).
//
// The activity is counted by ActivitySink, a decorator of the table reader's sink: a record counts
// by its status.finishedAt (or startedAt, for a worker seen), so the records a replica reads again
// at start (a snapshot's tail, a rebuilt table) count only when they are recent. A job whose
// finished record is delivered twice (a worker's redelivery) counts twice.

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

#include "pkg/clock/clock.h"
#include "pkg/queue/group.h"
#include "pkg/queue/table_reader.h"

namespace pixq::api {

// A bounded window of finished jobs: per second of the last minute, the jobs that succeeded and
// those that failed, by reason; and the workers named in records of the last five minutes.
// Memory is bounded: 60 buckets of at most kMaxReasons reasons each, kMaxWorkers workers.
// Thread-safe: Note from the table reader's thread, Read from any.
class JobActivity final {
 public:
  static constexpr absl::Duration kWindow = absl::Seconds(60);
  static constexpr absl::Duration kWorkerHorizon = absl::Minutes(5);
  static constexpr size_t kMaxReasons = 32;   // per second; beyond, counted as "Other"
  static constexpr size_t kMaxWorkers = 256;  // beyond, the longest unseen is forgotten

  explicit JobActivity(clock::Clock& clock) : clock_(clock) {}

  // Notes one record of pixq.job-status (its wire-form JSON). Records that are not recent cost a
  // string search only; unreadable ones are ignored.
  void Note(std::string_view value);

  struct Worker {
    std::string name;  // worker.name, as its records carry it
    absl::Time last_seen;
    int64_t finished = 0;  // jobs it finished within the window
  };
  struct Reason {
    std::string reason;
    int64_t count = 0;
  };
  struct Summary {
    absl::Duration window = kWindow;
    int64_t succeeded = 0;
    int64_t failed = 0;
    double finished_per_second = 0;  // (succeeded + failed) over the window
    std::vector<Reason> failures;    // most first, then by name
    std::vector<Worker> workers;     // seen within kWorkerHorizon, by name
  };
  [[nodiscard]] Summary Read() const;

 private:
  struct Bucket {
    int64_t second = -1;  // Unix second this bucket holds; another means it is stale
    int64_t succeeded = 0;
    int64_t failed = 0;
    std::map<std::string, int64_t> reasons;
    std::map<std::string, int64_t> workers;  // finished per worker (bounded by kMaxWorkers)
  };
  struct Seen {
    absl::Time last_seen;
  };
  Bucket& BucketFor(int64_t second) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void See(const std::string& worker, absl::Time at) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  clock::Clock& clock_;
  mutable absl::Mutex mu_;
  std::array<Bucket, 60> buckets_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Seen> workers_ ABSL_GUARDED_BY(mu_);
};

// The table reader's sink, counting into a JobActivity the records of `status_topic` that the
// sink it wraps applied (after their batch was stored).
class ActivitySink final : public queue::TableSink {
 public:
  ActivitySink(queue::TableSink& inner, std::string status_topic, JobActivity& activity)
      : inner_(inner), status_topic_(std::move(status_topic)), activity_(activity) {}

  std::vector<queue::StoredPosition> Stored() override { return inner_.Stored(); }
  absl::Status Reset(std::string_view why) override { return inner_.Reset(why); }
  absl::Status Apply(const std::vector<queue::Message>& records,
                     const std::vector<queue::StoredPosition>& positions) override;

 private:
  queue::TableSink& inner_;
  std::string status_topic_;
  JobActivity& activity_;
};

struct QueueReport {
  queue::GroupView group;
  JobActivity::Summary activity;
};

// The report as GET /v1/queue answers it (openapi.json's Queue).
[[nodiscard]] nlohmann::json QueueJson(const QueueReport& report);

// GET /v1/queue's answer. Errors: the group reader's ("BrokerUnavailable", "UnknownTopic"; 503).
// Thread-safe.
class QueueStatus final {
 public:
  QueueStatus(queue::GroupReader& group, const JobActivity& activity)
      : group_(group), activity_(activity) {}

  [[nodiscard]] absl::StatusOr<QueueReport> Read();

 private:
  queue::GroupReader& group_;
  const JobActivity& activity_;
};

}  // namespace pixq::api
