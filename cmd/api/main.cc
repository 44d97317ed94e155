// pixq-api: wiring only. Configuration → logging → volume → Kafka producer → state tables fed by
// the table reader (in the LMDB store of state.dir) → service → HTTP server; then wait for
// SIGINT/SIGTERM and stop in order.

#include <iostream>
#include <thread>

#include <unistd.h>

#include "pkg/api/admission.h"
#include "pkg/api/queue.h"
#include "pkg/api/readiness.h"
#include "pkg/api/service.h"
#include "pkg/clock/clock.h"
#include "pkg/errors/errors.h"
#include "pkg/http/server.h"
#include "pkg/observability/log.h"
#include "pkg/observability/metrics.h"
#include "pkg/queue/capacity.h"
#include "pkg/queue/group.h"
#include "pkg/queue/producer.h"
#include "pkg/queue/table_reader.h"
#include "pkg/runtime/runtime.h"
#include "pkg/state/snapshot.h"
#include "pkg/state/store.h"
#include "pkg/state/store_feed.h"
#include "pkg/state/tables.h"
#include "pkg/storage/volume.h"

namespace {

// Start-up failures are fatal and say why.
int Fail(const absl::Status& status) {
  pixq::observability::LogError("cannot start", {{"error", std::string(status.message())}});
  std::cerr << "pixq-api: " << status.message() << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace pixq;
  runtime::BlockStopSignals();
  runtime::Startup startup = runtime::ParseCommandLine("pixq-api", argc, argv);
  if (startup.exit) return startup.exit_code;
  const config::Config& cfg = startup.config;
  observability::ConfigureLogging(
      "pixq-api", observability::ParseLevel(cfg.log.level).value_or(observability::Level::kInfo));

  auto store =
      storage::VolumeStore::Open(cfg.storage.root, absl::Seconds(cfg.storage.tmp_max_age_s));
  if (!store.ok()) return Fail(store.status());
  auto client = runtime::KafkaClient(cfg, "pixq-api", absl::Seconds(30));
  if (!client.ok()) return Fail(client.status());
  const absl::Duration produce_timeout = absl::Milliseconds(cfg.kafka.produce_timeout_ms);
  auto producer = queue::KafkaProducer::Create(*client, produce_timeout);
  if (!producer.ok()) return Fail(producer.status());

  const queue::Topics topics = queue::Topics::WithPrefix(cfg.kafka.topic_prefix);
  if (absl::Status prepared =
          (*producer)->Prepare({topics.jobs, topics.job_status, topics.images}, absl::Seconds(10));
      !prepared.ok()) {
    observability::LogWarn("kafka topics not prepared; the first sends wait for their metadata",
                           {{"error", std::string(prepared.message())}});
  }
  observability::Metrics metrics{observability::MetricsRole::kApi};
  metrics.DeclareTopics({topics.jobs, topics.job_status, topics.images});
  auto tracer = runtime::StartTracer(cfg, "pixq-api", metrics);
  // Snapshots on the shared volume: a new replica starts from the newest and reads only the tail.
  const std::string snapshot_dir =
      cfg.state.snapshot_interval_s > 0 ? (*store)->root() + "/state-snapshots" : "";
  auto state_store = state::Store::Open({.dir = cfg.state.dir,
                                         .max_bytes = static_cast<uint64_t>(cfg.state.max_bytes),
                                         .snapshot_dir = snapshot_dir});
  if (!state_store.ok()) return Fail(state_store.status());
  state::JobTable jobs(**state_store);
  state::ImageTable images(**state_store);
  state::StoreFeed feed(**state_store, jobs, images, topics, [&] {
    metrics.SetTableRecords("jobs", static_cast<int64_t>(jobs.size()));
    metrics.SetTableRecords("images", static_cast<int64_t>(images.size()));
  });
  // GET /v1/queue: what finished, counted where the records are applied, and the workers' group.
  api::JobActivity activity(clock::RealClock());
  api::ActivitySink counted_feed(feed, topics.job_status, activity);
  auto group = queue::KafkaGroupReader::Create(
      *client, {.group_id = cfg.kafka.consumer_group, .topic = topics.jobs});
  if (!group.ok()) return Fail(group.status());
  api::QueueStatus queue_status(**group, activity);
  auto reader =
      queue::TableReader::Start(*client, {topics.job_status, topics.images}, counted_feed);
  if (!reader.ok()) return Fail(reader.status());
  queue::TableReader& tables = **reader;
  // Ready once the tables hold the log as of start; from then on, checked every second, so that
  // a broker outage turns /readyz false and refuses requests at once instead of each one waiting.
  api::Readiness readiness([&tables](absl::Duration timeout) { return tables.CatchUp(timeout); },
                           absl::Seconds(1), absl::Seconds(2), clock::RealClock());

  // No job is accepted that the work topics could not keep until a worker runs it: their backlog
  // against their room, read every second; the records' sizes from what this API sends.
  queue::RecordSizes record_sizes;
  queue::MeasuredProducer measured_producer(**producer, record_sizes);
  auto backlog = queue::KafkaBacklogSource::Create(
      *client,
      {.topics = {topics.jobs, topics.retry},
       .group_ids = {cfg.kafka.consumer_group, queue::RetryGroupOf(cfg.kafka.consumer_group)},
       .configured = {.bytes = cfg.kafka.partition_room_bytes,
                      .records = cfg.kafka.partition_room_records}},
      record_sizes, clock::RealClock());
  if (!backlog.ok()) return Fail(backlog.status());
  api::Admission admission(**backlog, &record_sizes, {}, metrics, clock::RealClock());

  api::Service service(
      api::ServiceOptions{.topics = topics,
                          // A little beyond librdkafka's own message timeout, so that its
                          // delivery report (success or failure) is what decides.
                          .produce_timeout = produce_timeout + absl::Seconds(1),
                          .catch_up_timeout = absl::Seconds(5),
                          .validation = {.max_steps = cfg.limits.max_steps,
                                         .max_output_dimension = cfg.limits.max_output_dimension},
                          .max_pixels = cfg.limits.max_pixels,
                          .admit = [&readiness] { return readiness.Admit(); },
                          .admit_work = [&admission] { return admission.Admit(); }},
      **store, measured_producer, jobs, images,
      [&tables](absl::Duration timeout) { return tables.CatchUp(timeout); }, metrics, *tracer,
      clock::RealClock());

  http::ApiServer server(
      http::ServerOptions{.address = cfg.http.address,
                          .port = cfg.http.port,
                          .threads = cfg.http.threads,
                          .max_body_bytes = cfg.http.max_body_bytes,
                          .max_json_bytes = cfg.limits.max_json_bytes,
                          .max_wait = absl::Seconds(cfg.http.max_wait_s),
                          .storage_root = (*store)->root(),
                          .auth = {.enabled = cfg.auth.enabled,
                                   .api_key_sha256 = cfg.auth.api_key_sha256,
                                   .signing_key = cfg.auth.signing_key,
                                   .signed_url_ttl = absl::Seconds(cfg.auth.signed_url_ttl_s)},
                          .queue = [&queue_status] { return queue_status.Read(); }},
      service, jobs, [&readiness] { return readiness.Ready(); }, metrics, *tracer,
      clock::RealClock());
  if (absl::Status started = server.Start(); !started.ok()) return Fail(started);

  std::unique_ptr<state::Snapshotter> snapshotter;
  if (!snapshot_dir.empty()) {
    snapshotter = std::make_unique<state::Snapshotter>(
        **state_store, snapshot_dir, absl::Seconds(cfg.state.snapshot_interval_s),
        [&tables] { return tables.CaughtUpOnce(); }, clock::RealClock());
  }

  readiness.Start();
  admission.Start();
  if (snapshotter) snapshotter->Start();

  observability::LogInfo("pixq-api listening", {{"address", cfg.http.address},
                                                {"port", server.port()},
                                                {"kafka", client->bootstrap_servers},
                                                {"storage_root", (*store)->root()},
                                                {"state_dir", (*state_store)->dir()}});
  const int signal = runtime::WaitForStopSignal();
  observability::LogInfo("stopping", {{"signal", signal}});
  server.Shutdown();
  if (absl::Status flushed = (*producer)->Flush(absl::Seconds(5)); !flushed.ok()) {
    observability::LogWarn("producer not flushed", {{"error", std::string(flushed.message())}});
  }
  tracer->Flush(absl::Seconds(2));
  (*state_store)->DiscardPrivate();
  // Exit without unwinding: background threads (readiness, table reader) use these locals.
  std::cout.flush();
  _exit(0);
}
