// pixq-worker: wiring only. Configuration → logging → volume → Kafka producer → pipeline →
// processor → runner (jobs in parallel, offsets in order) → group consumer → probes; on
// SIGINT/SIGTERM pause every partition, let the jobs in flight finish within the grace period,
// commit and leave the group.
//
// `pixq-worker sweep`: read pixq.job-status, remove what outlived the retention (worker::Sweep),
// report and exit; run by a timer locally and by a CronJob in the cluster.
//
// `pixq-worker codec`: the child process the worker runs each job's pipeline in (one per job
// slot, started by isolate::CodecPool with the worker's own --config), answering on fd 3.

#include <atomic>
#include <iostream>
#include <mutex>
#include <thread>

#include <unistd.h>

#include "pkg/clock/clock.h"
#include "pkg/errors/errors.h"
#include "pkg/fetch/fetcher.h"
#include "pkg/imaging/pipeline.h"
#include "pkg/isolate/codec.h"
#include "pkg/observability/log.h"
#include "pkg/observability/metrics.h"
#include "pkg/probe/probe_server.h"
#include "pkg/queue/consumer.h"
#include "pkg/queue/consumer_set.h"
#include "pkg/queue/producer.h"
#include "pkg/queue/table_reader.h"
#include "pkg/runtime/runtime.h"
#include "pkg/state/tables.h"
#include "pkg/storage/volume.h"
#include "pkg/worker/processor.h"
#include "pkg/worker/runner.h"
#include "pkg/worker/sweeper.h"

namespace {

int Fail(const absl::Status& status) {
  pixq::observability::LogError("failed", {{"error", std::string(status.message())}});
  std::cerr << "pixq-worker: " << status.message() << "\n";
  return 1;
}

// One expiry sweep; the exit code says whether it completed.
int SweepOnce(const pixq::config::Config& cfg, pixq::storage::VolumeStore& store) {
  using namespace pixq;
  auto client = runtime::KafkaClient(cfg, "pixq-sweeper", absl::Seconds(30));
  if (!client.ok()) return Fail(client.status());
  auto producer =
      queue::KafkaProducer::Create(*client, absl::Milliseconds(cfg.kafka.produce_timeout_ms));
  if (!producer.ok()) return Fail(producer.status());
  const queue::Topics topics = queue::Topics::WithPrefix(cfg.kafka.topic_prefix);
  state::JobTable jobs;
  // Unreadable records are not ours to expire; a record the table could not store is another
  // matter: the snapshot would miss a kept job, and the outputs only it still uses would go.
  std::mutex stored_mu;
  absl::Status stored;
  auto reader = queue::TableReader::Start(
      *client, {topics.job_status}, [&jobs, &stored_mu, &stored](const queue::Message& m) {
        if (absl::Status applied = jobs.Apply(m.key, m.value); state::IsStoreFailure(applied)) {
          std::lock_guard<std::mutex> lock(stored_mu);
          stored.Update(applied);
        }
      });
  if (!reader.ok()) return Fail(reader.status());
  if (absl::Status caught_up = (*reader)->CatchUp(absl::Seconds(120)); !caught_up.ok()) {
    return Fail(caught_up);
  }
  {
    std::lock_guard<std::mutex> lock(stored_mu);
    if (!stored.ok()) return Fail(stored);  // nothing expired: the next sweep tries again
  }
  clock::Clock& system_clock = clock::RealClock();
  const absl::Time start = system_clock.Now();
  absl::StatusOr<worker::SweepReport> report = worker::Sweep(
      jobs.Snapshot(), store, **producer,
      worker::RetentionOptions{.job_records = absl::Seconds(cfg.retention.job_records_s),
                               .outputs = absl::Seconds(cfg.retention.outputs_s),
                               .topics = topics,
                               .publish_timeout = absl::Milliseconds(cfg.kafka.produce_timeout_ms)},
      start);
  const int tmp_removed = store.SweepTmp(absl::Seconds(cfg.storage.tmp_max_age_s));
  if (!report.ok()) return Fail(report.status());
  observability::LogInfo("sweep done",
                         {{"job_records", static_cast<int64_t>(jobs.size())},
                          {"job_records_expired", report->job_records_expired},
                          {"outputs_removed", report->outputs_removed},
                          {"bytes_freed", report->bytes_freed},
                          {"tmp_removed", tmp_removed},
                          {"ms", absl::ToInt64Milliseconds(system_clock.Now() - start)}});
  return 0;
}

absl::StatusOr<std::unique_ptr<pixq::fetch::Fetcher>> FetcherFrom(const pixq::config::Config& cfg) {
  absl::StatusOr<pixq::fetch::AddressPolicy> policy =
      pixq::fetch::AddressPolicy::FromStrings(cfg.fetch.allow);
  if (!policy.ok()) return policy.status();
  return std::make_unique<pixq::fetch::HttpFetcher>(
      pixq::fetch::FetchOptions{.connect_timeout = absl::Milliseconds(cfg.fetch.connect_timeout_ms),
                                .timeout = absl::Milliseconds(cfg.fetch.timeout_ms),
                                .max_bytes = cfg.fetch.max_bytes,
                                .max_redirects = cfg.fetch.max_redirects,
                                .policy = *std::move(policy),
                                .user_agent = "pixq-worker"});
}

}  // namespace

int main(int argc, char** argv) {
  using namespace pixq;
  runtime::Startup startup = runtime::ParseCommandLine(
      "pixq-worker", argc, argv,
      {{"sweep", "remove job records and outputs older than the retention, then exit"},
       {"codec", "run jobs' pipelines for a worker on fd 3 (started by the worker itself)"}});
  if (startup.exit) return startup.exit_code;
  const config::Config& cfg = startup.config;
  const bool sweep = startup.subcommand == "sweep";
  const bool codec = startup.subcommand == "codec";
  observability::ConfigureLogging(
      sweep ? "pixq-sweeper" : (codec ? "pixq-codec" : "pixq-worker"),
      observability::ParseLevel(cfg.log.level).value_or(observability::Level::kInfo));

  const imaging::Pipeline pipeline(
      imaging::Limits{.max_pixels = cfg.limits.max_pixels,
                      .max_output_dimension = cfg.limits.max_output_dimension});
  const int cpus = runtime::CpuLimit();
  const int concurrency = cfg.worker.concurrency > 0 ? cfg.worker.concurrency : cpus;
  imaging::SetOpenCvThreads(cpus / concurrency);
  if (codec) return isolate::ServeCodec(isolate::kCodecFd, pipeline);

  auto store =
      storage::VolumeStore::Open(cfg.storage.root, absl::Seconds(cfg.storage.tmp_max_age_s));
  if (!store.ok()) return Fail(store.status());
  // A sweep can be cut short at any point and run again, so SIGTERM simply ends it.
  if (sweep) return SweepOnce(cfg, **store);
  // The worker instead finishes its jobs on SIGTERM: the stop signals are blocked before any
  // thread starts, and waited for by one thread below.
  runtime::BlockStopSignals();
  auto client = runtime::KafkaClient(cfg, "pixq-worker-" + cfg.worker.name, absl::Seconds(30));
  if (!client.ok()) return Fail(client.status());
  auto producer =
      queue::KafkaProducer::Create(*client, absl::Milliseconds(cfg.kafka.produce_timeout_ms));
  if (!producer.ok()) return Fail(producer.status());

  const queue::Topics topics = queue::Topics::WithPrefix(cfg.kafka.topic_prefix);
  if (absl::Status prepared = (*producer)->Prepare(
          {topics.job_status, topics.images, topics.retry, topics.dlq}, absl::Seconds(10));
      !prepared.ok()) {
    observability::LogWarn("kafka topics not prepared; the first sends wait for their metadata",
                           {{"error", std::string(prepared.message())}});
  }
  const std::string name = cfg.worker.name;
  observability::Metrics metrics{observability::MetricsRole::kWorker};
  metrics.DeclareTopics({topics.job_status, topics.images, topics.retry, topics.dlq});
  auto tracer = runtime::StartTracer(cfg, "pixq-worker", metrics);

  // Each job's pipeline runs in a child process of this binary, killed when a stage runs over.
  std::vector<std::string> codec_command = {runtime::SelfExecutable(), "codec"};
  if (!startup.config_path.empty()) {
    codec_command.insert(codec_command.end(), {"--config", startup.config_path});
  }
  clock::Clock& system_clock = clock::RealClock();
  const isolate::CodecPool codecs(
      isolate::CodecOptions{.command = std::move(codec_command),
                            .executable = "/proc/self/exe",
                            .slots = concurrency,
                            .limits = {.decode = absl::Milliseconds(cfg.limits.decode_timeout_ms),
                                       .process = absl::Milliseconds(cfg.limits.process_timeout_ms),
                                       .encode = absl::Milliseconds(cfg.limits.encode_timeout_ms)}},
      system_clock);
  if (absl::Status started = codecs.Start(); !started.ok()) return Fail(started);
  std::atomic<bool> stopping{false};  // SIGTERM: stop taking work
  std::atomic<bool> give_up{false};   // the grace is over: stop retrying status publishes
  auto fetcher = FetcherFrom(cfg);
  if (!fetcher.ok()) return Fail(fetcher.status());
  const worker::RetryPolicy retry{.max_attempts = cfg.retry.max_attempts,
                                  .backoff = absl::Milliseconds(cfg.retry.backoff_ms),
                                  .max_backoff = absl::Milliseconds(cfg.retry.max_backoff_ms)};
  worker::JobProcessor processor(
      worker::ProcessorOptions{.topics = topics,
                               .worker_name = name,
                               .publish_timeout = absl::Milliseconds(cfg.kafka.produce_timeout_ms),
                               .retry = retry,
                               .max_pixels = cfg.limits.max_pixels,
                               .webhook = {.secret = cfg.webhook.secret,
                                           .max_attempts = cfg.webhook.max_attempts,
                                           .backoff = absl::Milliseconds(cfg.webhook.backoff_ms)}},
      codecs, **store, **fetcher, **producer, metrics, *tracer, give_up, system_clock);
  worker::Runner runner(
      worker::RunnerOptions{.concurrency = concurrency,
                            .grace = absl::Seconds(cfg.worker.shutdown_grace_s),
                            .retry_topic = topics.retry,
                            .max_defer = retry.max_backoff},
      [&processor](const queue::Message& m) { return processor.Process(m); }, metrics,
      system_clock);

  // One group per topic (queue::ConsumerSet says why): pixq.jobs in `kafka.consumer_group`, its
  // retry topic in the same name + ".retry".
  // No polling while a revocation waits for its partitions' jobs: the group must wait that long
  // plus the longest job, or it drops this member and its last commit is refused. (A shutdown's
  // drain polls; worker::Runner::Run says why.) A job's pipeline is
  // bounded by the codec's stage limits (with a few minutes for reading and storing); it may also
  // spend its callback's attempts (each up to fetch.timeout_ms, with the backoff between them)
  // and its download.
  const absl::Duration max_poll_interval =
      absl::Seconds(cfg.worker.shutdown_grace_s) + absl::Minutes(5) +
      absl::Milliseconds(cfg.limits.decode_timeout_ms) +
      absl::Milliseconds(cfg.limits.process_timeout_ms) +
      absl::Milliseconds(cfg.limits.encode_timeout_ms) +
      absl::Milliseconds(cfg.fetch.timeout_ms) * (cfg.webhook.max_attempts + 1) +
      absl::Milliseconds(cfg.webhook.backoff_ms) * ((1 << cfg.webhook.max_attempts) - 1);
  const auto log_assigned = [name](const std::string& topic,
                                   const std::vector<std::pair<std::string, int32_t>>& owned) {
    std::vector<int32_t> ids;
    for (const auto& [owned_topic, partition] : owned) ids.push_back(partition);
    observability::LogInfo("partitions assigned",
                           {{"worker", name}, {"topic", topic}, {"partitions", ids}});
    return ids;
  };
  const auto on_revoke = [&runner](const std::vector<std::pair<std::string, int32_t>>& revoked) {
    runner.OnRevoke(revoked);
  };
  auto jobs_consumer = queue::GroupConsumer::Create(
      *client, queue::GroupOptions{
                   .group_id = cfg.kafka.consumer_group,
                   .topics = {topics.jobs},
                   .session_timeout = absl::Milliseconds(cfg.kafka.session_timeout_ms),
                   .max_poll_interval = max_poll_interval,
                   .on_assign =
                       [&](const std::vector<std::pair<std::string, int32_t>>& owned) {
                         // The work's lag is what the autoscaler and the dashboards read.
                         metrics.RetainConsumerLag(log_assigned(topics.jobs, owned));
                       },
                   .on_revoke = on_revoke,
                   .on_lag = [&metrics](int32_t partition,
                                        int64_t lag) { metrics.SetConsumerLag(partition, lag); },
               });
  if (!jobs_consumer.ok()) return Fail(jobs_consumer.status());
  auto retry_consumer = queue::GroupConsumer::Create(
      *client, queue::GroupOptions{
                   .group_id = queue::RetryGroupOf(cfg.kafka.consumer_group),
                   .topics = {topics.retry},
                   .session_timeout = absl::Milliseconds(cfg.kafka.session_timeout_ms),
                   .max_poll_interval = max_poll_interval,
                   .on_assign =
                       [&](const std::vector<std::pair<std::string, int32_t>>& owned) {
                         log_assigned(topics.retry, owned);
                       },
                   .on_revoke = on_revoke,
               });
  if (!retry_consumer.ok()) return Fail(retry_consumer.status());
  queue::ConsumerSet consumers({{.consumer = jobs_consumer->get(), .topics = {topics.jobs}},
                                {.consumer = retry_consumer->get(), .topics = {topics.retry}}});

  probe::ProbeServer probes(
      cfg.worker.address, cfg.worker.port,
      [&jobs_consumer, &retry_consumer, &stopping]() {
        if (stopping.load())
          return errors::Make(errors::Reason::kStopping, "the worker is stopping");
        if (!(*jobs_consumer)->Joined() || !(*retry_consumer)->Joined()) {
          return errors::Make(errors::Reason::kNotReady, "not yet a member of the consumer groups");
        }
        return absl::OkStatus();
      },
      metrics);
  if (absl::Status started = probes.Start(); !started.ok()) return Fail(started);

  std::thread signals([&stopping] {
    const int signal = runtime::WaitForStopSignal();
    observability::LogInfo("stopping", {{"signal", signal}});
    stopping = true;
  });
  signals.detach();

  observability::LogInfo("pixq-worker started", {{"worker", name},
                                                 {"probe_port", probes.port()},
                                                 {"group", cfg.kafka.consumer_group},
                                                 {"concurrency", concurrency},
                                                 {"kafka", client->bootstrap_servers},
                                                 {"storage_root", (*store)->root()}});
  const int abandoned = runner.Run(consumers, stopping);
  give_up = true;
  if (abandoned > 0) {
    observability::LogWarn("jobs still running after the grace period; they will run again",
                           {{"jobs", abandoned}});
  }
  (*jobs_consumer)->Close();
  (*retry_consumer)->Close();
  probes.Shutdown();
  if (absl::Status flushed = (*producer)->Flush(absl::Seconds(5)); !flushed.ok()) {
    observability::LogWarn("producer not flushed", {{"error", std::string(flushed.message())}});
  }
  tracer->Flush(absl::Seconds(2));
  observability::LogInfo("pixq-worker stopped", {{"worker", name}});
  std::cout.flush();
  _exit(0);
}
