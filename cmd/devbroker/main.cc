// pixq-devbroker: the local Kafka. Starts librdkafka's mock cluster on loopback, creates pixq's
// topics, prints the bootstrap address and writes it to a file the other processes read, then
// runs until SIGINT or SIGTERM. Its topics are kept under --data-dir and restored at the next
// start, before the bootstrap file says it is ready (pkg/queue/dev_persistence.h).
//
// SIGUSR1 takes the brokers down (connections dropped and refused, data kept) and SIGUSR2 brings
// them back: a broker outage for the reliability tests, as clients of a real cluster see one.

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "absl/time/time.h"
#include <CLI/CLI.hpp>
#include <unistd.h>

#include "pkg/observability/log.h"
#include "pkg/queue/dev_broker.h"
#include "pkg/queue/dev_persistence.h"
#include "pkg/queue/message.h"

namespace {

// Writes `text` to `path` through a temporary file and a rename, so readers never see half of it.
bool WriteFileAtomically(const std::string& path, const std::string& text) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path target(path);
  if (target.has_parent_path()) fs::create_directories(target.parent_path(), ec);
  const fs::path tmp = target.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text << "\n";
    if (!out.flush()) return false;
  }
  fs::rename(tmp, target, ec);
  return !ec;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"pixq-devbroker: librdkafka's mock cluster as a local Kafka for pixq"};
  int partitions = 4;
  int brokers = 1;
  std::string prefix = "pixq.";
  std::string bootstrap_file = "var/pixq/kafka.bootstrap";
  std::string data_dir;
  std::string consumer_group = "pixq-workers";
  int offsets_interval_ms = 200;
  int fetch_wait_ms = 10;
  app.add_option("--partitions", partitions, "partitions per topic (bounds the worker count)")
      ->check(CLI::Range(1, 256));
  app.add_option("--brokers", brokers, "number of mock brokers")->check(CLI::Range(1, 5));
  app.add_option("--topic-prefix", prefix, "prefix of pixq's topic names");
  app.add_option("--bootstrap-file", bootstrap_file, "where to write the bootstrap address");
  app.add_option("--data-dir", data_dir,
                 "where the topics are kept (default: broker/ beside the bootstrap file)");
  app.add_option("--consumer-group", consumer_group,
                 "the workers' group (its retry group is this + .retry): their committed offsets "
                 "say which jobs have run");
  app.add_option("--offsets-interval-ms", offsets_interval_ms,
                 "how often the workers' committed offsets are stored")
      ->check(CLI::Range(10, 60'000));
  app.add_option("--fetch-wait-ms", fetch_wait_ms,
                 "the persisting consumer's fetch.wait.max.ms: bounds how long an acknowledged "
                 "record is not yet on disk")
      ->check(CLI::Range(1, 1'000));
  CLI11_PARSE(app, argc, argv);
  if (data_dir.empty()) {
    data_dir = (std::filesystem::path(bootstrap_file).parent_path() / "broker").string();
  }

  pixq::observability::ConfigureLogging("pixq-devbroker", pixq::observability::Level::kInfo);

  // Block the stop signals before any thread starts, so only sigwait below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGUSR1);
  sigaddset(&stop_signals, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto broker = pixq::queue::DevBroker::Start(brokers);
  if (!broker.ok()) {
    std::cerr << "pixq-devbroker: " << broker.status() << "\n";
    return 1;
  }
  for (const std::string& topic : pixq::queue::Topics::WithPrefix(prefix).All()) {
    if (auto status = (*broker)->CreateTopic(topic, partitions); !status.ok()) {
      std::cerr << "pixq-devbroker: " << status << "\n";
      return 1;
    }
  }
  const std::string bootstrap = (*broker)->BootstrapServers();
  // Restored before the bootstrap file exists: the other processes start on the whole data. A
  // killed broker left its old address there; nobody may read it while this one restores.
  std::error_code stale;
  std::filesystem::remove(bootstrap_file, stale);
  const pixq::queue::Topics topics = pixq::queue::Topics::WithPrefix(prefix);
  std::atomic<bool> persistence_failed{false};
  auto persistence = pixq::queue::DevPersistence::Start(
      bootstrap, pixq::queue::PersistenceOptions{
                     .data_dir = data_dir,
                     .topics = topics.All(),
                     .compacted = {topics.job_status, topics.images},
                     .partitions = partitions,
                     .groups = {{consumer_group, {topics.jobs}},
                                {pixq::queue::RetryGroupOf(consumer_group), {topics.retry}}},
                     .offsets_interval = absl::Milliseconds(offsets_interval_ms),
                     .fetch_wait = absl::Milliseconds(fetch_wait_ms),
                     .on_failure = [&persistence_failed] {
                       persistence_failed.store(true);
                       kill(getpid(), SIGTERM);
                     }});
  if (!persistence.ok()) {
    std::cerr << "pixq-devbroker: " << persistence.status() << "\n";
    return 1;
  }
  if (!WriteFileAtomically(bootstrap_file, bootstrap)) {
    std::cerr << "pixq-devbroker: cannot write " << bootstrap_file << "\n";
    return 1;
  }
  pixq::observability::LogInfo("kafka mock cluster ready", {{"bootstrap_servers", bootstrap},
                                                            {"bootstrap_file", bootstrap_file},
                                                            {"data_dir", data_dir},
                                                            {"partitions", partitions},
                                                            {"topic_prefix", prefix}});

  int signal = 0;
  while (sigwait(&stop_signals, &signal) == 0 && (signal == SIGUSR1 || signal == SIGUSR2)) {
    const bool up = signal == SIGUSR2;
    if (auto status = (*broker)->SetAllBrokersUp(up); !status.ok()) {
      pixq::observability::LogWarn("outage not simulated",
                                   {{"error", std::string(status.message())}});
    } else {
      pixq::observability::LogInfo(up ? "brokers up" : "brokers down", {});
    }
  }
  pixq::observability::LogInfo("stopping", {{"signal", signal}});
  std::error_code ec;
  std::filesystem::remove(bootstrap_file, ec);  // a stale address would mislead the next start
  persistence->reset();  // drains what the cluster holds to disk, stores the committed offsets
  return persistence_failed.load() ? 1 : 0;
}
