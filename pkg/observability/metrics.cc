#include "pkg/observability/metrics.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <mutex>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <unistd.h>

namespace pixq::observability {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

// From a millisecond to a minute: HTTP calls, single steps, whole jobs on large photographs.
const Histogram::BucketBoundaries& DurationBuckets() {
  static const Histogram::BucketBoundaries buckets = {
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  return buckets;
}

// Resident set size from /proc/self/statm (pages × page size).
double ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  long size = 0;
  long resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

}  // namespace

struct Metrics::Impl {
  explicit Impl(MetricsRole role) : role(role) {}

  // Registers a family only on the process that records it, so that each process exposes
  // exactly the families observability/README.md lists for it.
  template <typename T>
  Family<T>* For(MetricsRole only, prometheus::detail::Builder<T> builder, const char* name,
                 const char* help) {
    return role == only ? &builder.Name(name).Help(help).Register(*registry) : nullptr;
  }

  MetricsRole role;
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();

  // Both processes.
  Family<Counter>& http_requests =
      BuildCounter()
          .Name("pixq_http_requests_total")
          .Help("HTTP requests answered, by route template, method and status code")
          .Register(*registry);
  Family<Histogram>& http_duration =
      BuildHistogram()
          .Name("pixq_http_request_duration_seconds")
          .Help("Time from routing a request to its answer, by route template")
          .Register(*registry);
  Family<Counter>& produce_errors = BuildCounter()
                                        .Name("pixq_produce_errors_total")
                                        .Help("Records Kafka did not acknowledge, by topic")
                                        .Register(*registry);
  Family<Gauge>& rss = BuildGauge()
                           .Name("pixq_process_resident_memory_bytes")
                           .Help("Resident set size of the process")
                           .Register(*registry);
  Gauge& rss_gauge = rss.Add({});
  Family<Gauge>& ready = BuildGauge()
                             .Name("pixq_ready")
                             .Help("1 while the process answers /readyz with 200, else 0")
                             .Register(*registry);
  Gauge& ready_gauge = ready.Add({});
  Family<Counter>& spans_dropped =
      BuildCounter()
          .Name("pixq_trace_spans_dropped_total")
          .Help("Trace spans lost because the export queue was full or the export failed")
          .Register(*registry);
  Counter& spans_dropped_counter = spans_dropped.Add({});

  // The API.
  Family<Counter>* uploads = For(MetricsRole::kApi, BuildCounter(), "pixq_images_uploaded_total",
                                 "Uploads accepted: result=created (new bytes) or known");
  Family<Counter>* jobs_submitted =
      For(MetricsRole::kApi, BuildCounter(), "pixq_jobs_submitted_total",
          "Jobs accepted by the API, queued or answered from the cache");
  Family<Counter>* cache_hits = For(MetricsRole::kApi, BuildCounter(), "pixq_cache_hits_total",
                                    "Jobs answered from an existing output, nothing queued");
  Family<Gauge>* table_records =
      For(MetricsRole::kApi, BuildGauge(), "pixq_state_records",
          "Records held in the API's in-memory tables, by table (jobs, images)");
  Family<Counter>* upload_bytes =
      For(MetricsRole::kApi, BuildCounter(), "pixq_upload_bytes_total", "Bytes of images uploaded");
  Family<Gauge>* backlog_fraction =
      For(MetricsRole::kApi, BuildGauge(), "pixq_backlog_room_ratio",
          "Share of what a partition keeps before deleting that its unconsumed backlog takes (by "
          "bytes, records or age, the fullest), for the fullest partition of each work topic");
  Family<Gauge>* admission_refusing =
      For(MetricsRole::kApi, BuildGauge(), "pixq_admission_refusing",
          "1 while the API refuses new jobs (503 BacklogFull) because a work topic's backlog is "
          "near its room, else 0");

  // A worker.
  Family<Counter>* jobs_completed =
      For(MetricsRole::kWorker, BuildCounter(), "pixq_jobs_completed_total",
          "Jobs finished by a worker, by result (succeeded, failed, retried), reason and output "
          "format");
  Family<Histogram>* queue_wait =
      For(MetricsRole::kWorker, BuildHistogram(), "pixq_job_queue_wait_seconds",
          "Time from a job's creation to a worker starting it");
  Family<Histogram>* stage_duration =
      For(MetricsRole::kWorker, BuildHistogram(), "pixq_job_stage_duration_seconds",
          "Time per stage of a job: fetch, decode, process, encode, store");
  Family<Histogram>* step_duration =
      For(MetricsRole::kWorker, BuildHistogram(), "pixq_job_step_duration_seconds",
          "Time per pipeline step, by op");
  Family<Counter>* bytes = For(MetricsRole::kWorker, BuildCounter(), "pixq_image_bytes_total",
                               "Image bytes a worker read (direction=in) and wrote (out)");
  Family<Gauge>* in_flight = For(MetricsRole::kWorker, BuildGauge(), "pixq_worker_jobs_in_flight",
                                 "Jobs a worker has in hand now (running, or loaded and waiting "
                                 "for a pipeline slot)");
  Family<Gauge>* consumer_lag =
      For(MetricsRole::kWorker, BuildGauge(), "pixq_consumer_lag_messages",
          "Messages behind the log end on each partition this worker owns");
  Family<Counter>* dead_lettered =
      For(MetricsRole::kWorker, BuildCounter(), "pixq_jobs_dead_lettered_total",
          "Jobs sent to the dead-letter topic after their last attempt");
  Family<Counter>* webhooks =
      For(MetricsRole::kWorker, BuildCounter(), "pixq_webhook_deliveries_total",
          "Job callbacks (callbackUrl), by result: delivered, or failed after the last attempt");
  Gauge* in_flight_gauge = in_flight ? &in_flight->Add({}) : nullptr;

  std::mutex lag_mu;
  std::map<int32_t, Gauge*> lag_gauges;
};

Metrics::Metrics(MetricsRole role) : impl_(std::make_unique<Impl>(role)) {
  // Series whose label values are known up front start at zero, so that rate() and ratios work
  // from the first scrape and a dashboard shows 0 rather than "no data".
  if (role == MetricsRole::kApi) {
    for (const char* result : {"created", "known"}) impl_->uploads->Add({{"result", result}});
    impl_->upload_bytes->Add({});
    impl_->jobs_submitted->Add({});
    impl_->cache_hits->Add({});
    for (const char* table : {"jobs", "images"}) impl_->table_records->Add({{"table", table}});
    impl_->admission_refusing->Add({});
  } else {
    impl_->queue_wait->Add({}, DurationBuckets());
    for (const char* direction : {"in", "out"}) impl_->bytes->Add({{"direction", direction}});
    impl_->dead_lettered->Add({});
    for (const char* result : {"delivered", "failed"}) impl_->webhooks->Add({{"result", result}});
  }
}

void Metrics::DeclareTopics(const std::vector<std::string>& topics) {
  for (const std::string& topic : topics) impl_->produce_errors.Add({{"topic", topic}});
}
Metrics::~Metrics() = default;

void Metrics::ObserveHttpRequest(std::string_view route, std::string_view method, int code,
                                 double seconds) {
  impl_->http_requests
      .Add({{"route", std::string(route)},
            {"method", std::string(method)},
            {"code", std::to_string(code)}})
      .Increment();
  impl_->http_duration.Add({{"route", std::string(route)}}, DurationBuckets()).Observe(seconds);
}

void Metrics::CountUpload(bool created, int64_t bytes) {
  if (impl_->role != MetricsRole::kApi) return;
  impl_->uploads->Add({{"result", created ? "created" : "known"}}).Increment();
  impl_->upload_bytes->Add({}).Increment(static_cast<double>(bytes));
}

void Metrics::CountJobSubmitted(bool cache_hit) {
  if (impl_->role != MetricsRole::kApi) return;
  impl_->jobs_submitted->Add({}).Increment();
  if (cache_hit) impl_->cache_hits->Add({}).Increment();
}

void Metrics::SetTableRecords(std::string_view table, int64_t records) {
  if (impl_->role != MetricsRole::kApi) return;
  impl_->table_records->Add({{"table", std::string(table)}}).Set(static_cast<double>(records));
}

void Metrics::SetBacklogFraction(std::string_view topic, double fraction) {
  if (impl_->role != MetricsRole::kApi) return;
  impl_->backlog_fraction->Add({{"topic", std::string(topic)}}).Set(fraction);
}

void Metrics::SetAdmissionRefusing(bool refusing) {
  if (impl_->role != MetricsRole::kApi) return;
  impl_->admission_refusing->Add({}).Set(refusing ? 1 : 0);
}

void Metrics::CountProduceError(std::string_view topic) {
  impl_->produce_errors.Add({{"topic", std::string(topic)}}).Increment();
}

void Metrics::ObserveJob(const JobObservation& job) {
  if (impl_->role != MetricsRole::kWorker) return;
  impl_->jobs_completed
      ->Add({{"result", job.result}, {"reason", job.reason}, {"format", job.format}})
      .Increment();
  impl_->queue_wait->Add({}, DurationBuckets()).Observe(job.queue_seconds);
  const std::pair<const char*, double> stages[] = {{"fetch", job.fetch_seconds},
                                                   {"decode", job.decode_seconds},
                                                   {"process", job.process_seconds},
                                                   {"encode", job.encode_seconds},
                                                   {"store", job.store_seconds}};
  for (const auto& [stage, seconds] : stages) {
    impl_->stage_duration->Add({{"stage", stage}}, DurationBuckets()).Observe(seconds);
  }
  for (const auto& [op, seconds] : job.steps) {
    impl_->step_duration->Add({{"op", op}}, DurationBuckets()).Observe(seconds);
  }
  impl_->bytes->Add({{"direction", "in"}}).Increment(static_cast<double>(job.bytes_in));
  impl_->bytes->Add({{"direction", "out"}}).Increment(static_cast<double>(job.bytes_out));
}

void Metrics::CountWebhook(bool delivered) {
  if (impl_->webhooks)
    impl_->webhooks->Add({{"result", delivered ? "delivered" : "failed"}}).Increment();
}

void Metrics::CountDeadLettered() {
  if (impl_->dead_lettered) impl_->dead_lettered->Add({}).Increment();
}

void Metrics::CountSpansDropped(int64_t spans) {
  impl_->spans_dropped_counter.Increment(static_cast<double>(spans));
}

void Metrics::SetReady(bool ready) { impl_->ready_gauge.Set(ready ? 1 : 0); }

void Metrics::AddJobsInFlight(int delta) {
  if (impl_->in_flight_gauge != nullptr) impl_->in_flight_gauge->Increment(delta);
}

void Metrics::SetConsumerLag(int32_t partition, int64_t messages) {
  if (impl_->role != MetricsRole::kWorker) return;
  std::lock_guard<std::mutex> lock(impl_->lag_mu);
  Gauge& gauge = impl_->consumer_lag->Add({{"partition", std::to_string(partition)}});
  gauge.Set(static_cast<double>(messages));
  impl_->lag_gauges[partition] = &gauge;
}

void Metrics::RetainConsumerLag(const std::vector<int32_t>& owned) {
  if (impl_->role != MetricsRole::kWorker) return;
  std::lock_guard<std::mutex> lock(impl_->lag_mu);
  for (auto it = impl_->lag_gauges.begin(); it != impl_->lag_gauges.end();) {
    if (std::find(owned.begin(), owned.end(), it->first) == owned.end()) {
      impl_->consumer_lag->Remove(it->second);
      it = impl_->lag_gauges.erase(it);
    } else {
      ++it;
    }
  }
}

std::string Metrics::Render() const {
  impl_->rss_gauge.Set(ResidentBytes());
  return prometheus::TextSerializer().Serialize(impl_->registry->Collect());
}

}  // namespace pixq::observability
