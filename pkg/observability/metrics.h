#pragma once

// pixq's Prometheus metrics: every family created once, here, and passed by reference to whoever
// records (STYLE rule 14). Names are pixq_<noun>_<unit|total>; label values are bounded (route
// templates, methods, status codes, ops, formats, results, reasons, stages, partitions), never an
// id. observability/README.md lists every family; a test holds the two together.
//
// prometheus-cpp stays inside this library. Thread-safe.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pixq::observability {

// What a worker reports about one finished job.
struct JobObservation {
  std::string result;  // "succeeded" | "failed" | "retried" (failed transiently, tried again)
  std::string reason;  // empty when succeeded
  std::string format;  // output format
  double queue_seconds = 0;
  double fetch_seconds = 0;
  double decode_seconds = 0;
  double process_seconds = 0;
  double encode_seconds = 0;
  double store_seconds = 0;
  std::vector<std::pair<std::string, double>> steps;  // (op, seconds) in order
  int64_t bytes_in = 0;
  int64_t bytes_out = 0;
};

// Which process records: each registers only its own families (plus the shared HTTP, produce
// and RSS families), and the recording calls of the other role do nothing.
enum class MetricsRole { kApi, kWorker };

class Metrics final {
 public:
  explicit Metrics(MetricsRole role);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // HTTP, on the API and on a worker's probe port. `route` is the route template.
  void ObserveHttpRequest(std::string_view route, std::string_view method, int code,
                          double seconds);

  // API.
  void CountUpload(bool created, int64_t bytes);
  void CountJobSubmitted(bool cache_hit);
  void SetTableRecords(std::string_view table, int64_t records);
  // The share of its room (pkg/queue/capacity.h) the backlog of a work topic's fullest partition
  // takes, and whether the admission refuses new jobs for it (pkg/api/admission.h).
  void SetBacklogFraction(std::string_view topic, double fraction);
  void SetAdmissionRefusing(bool refusing);

  // Both. DeclareTopics starts the produce-error series of the topics a process writes at zero.
  void DeclareTopics(const std::vector<std::string>& topics);
  void CountProduceError(std::string_view topic);
  void CountSpansDropped(int64_t spans);
  // Whether /readyz answers 200; set just before each scrape.
  void SetReady(bool ready);

  // Worker.
  void ObserveJob(const JobObservation& job);
  void AddJobsInFlight(int delta);
  void CountDeadLettered();
  void CountWebhook(bool delivered);
  void SetConsumerLag(int32_t partition, int64_t messages);
  // Drops the lag of partitions no longer owned (after a rebalance), so they are not reported
  // twice, by two workers.
  void RetainConsumerLag(const std::vector<int32_t>& owned);

  // The Prometheus text exposition of every family, with the process's RSS refreshed first.
  [[nodiscard]] std::string Render() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace pixq::observability
