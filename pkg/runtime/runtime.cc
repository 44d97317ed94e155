#include "pkg/runtime/runtime.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include <CLI/CLI.hpp>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include "pkg/errors/errors.h"
#include "pkg/fetch/endpoint.h"
#include "pkg/observability/log.h"
#include "pkg/observability/otlp_exporter.h"

namespace pixq::runtime {
namespace {

sigset_t StopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

Startup ParseCommandLine(const std::string& name, int argc, char** argv,
                         const std::vector<std::pair<std::string, std::string>>& subcommands) {
  Startup startup;
  CLI::App app{name};
  app.require_subcommand(0, 1);
  for (const auto& [command, description] : subcommands) {
    // The binary's own options may also follow the subcommand.
    app.add_subcommand(command, description)->fallthrough();
  }
  std::string config_path;
  bool print_config = false;
  bool check_config = false;
  app.add_option("--config", config_path, "YAML configuration file (PIXQ_<SECTION>_<KEY> wins)")
      ->envname("PIXQ_CONFIG");
  app.add_flag("--print-config", print_config,
               "print the effective configuration (secrets redacted) and exit");
  app.add_flag("--check-config", check_config, "validate the configuration and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    startup.exit = true;
    startup.exit_code = app.exit(e);
    return startup;
  }
  absl::StatusOr<config::Config> loaded = config::Load(config_path, config::ProcessEnvironment());
  if (!loaded.ok()) {
    std::cerr << name << ": invalid configuration: " << loaded.status().message() << "\n";
    startup.exit = true;
    startup.exit_code = 2;
    return startup;
  }
  startup.config = *std::move(loaded);
  startup.config_path = config_path;
  for (const CLI::App* command : app.get_subcommands()) startup.subcommand = command->get_name();
  if (print_config) {
    std::cout << config::Render(startup.config);
    startup.exit = true;
  } else if (check_config) {
    std::cout << name << ": configuration is valid\n";
    startup.exit = true;
  }
  return startup;
}

std::unique_ptr<observability::Tracer> StartTracer(const config::Config& config,
                                                   const std::string& service,
                                                   observability::Metrics& metrics) {
  observability::TracingOptions options = config.tracing;
  if (options.service_name.empty()) options.service_name = service;
  std::unique_ptr<observability::SpanExporter> exporter =
      options.traces_url.empty()
          ? nullptr
          : observability::MakeOtlpHttpExporter(options, fetch::PostToEndpoint);
  auto tracer = std::make_unique<observability::Tracer>(options, std::move(exporter));
  tracer->OnDrop([&metrics](int64_t spans) { metrics.CountSpansDropped(spans); });
  observability::LogInfo("tracing", {{"enabled", options.enabled},
                                     {"service_name", options.service_name},
                                     {"traces_url", options.traces_url}});
  return tracer;
}

absl::StatusOr<queue::ClientOptions> KafkaClient(const config::Config& config,
                                                 const std::string& client_id,
                                                 absl::Duration wait) {
  queue::ClientOptions options;
  options.client_id = client_id;
  options.properties = config.kafka.properties;
  options.bootstrap_servers = config.kafka.bootstrap_servers;
  if (!options.bootstrap_servers.empty()) return options;
  const absl::Time deadline = absl::Now() + wait;
  while (true) {
    std::ifstream in(config.kafka.bootstrap_file);
    std::string line;
    if (in && std::getline(in, line)) {
      options.bootstrap_servers = std::string(absl::StripAsciiWhitespace(line));
      if (!options.bootstrap_servers.empty()) return options;
    }
    if (absl::Now() >= deadline) {
      return errors::Make(errors::Reason::kInvalidConfig,
                          absl::StrCat("kafka.bootstrap_servers is empty and kafka.bootstrap_file ",
                                       config.kafka.bootstrap_file,
                                       " does not name a broker (is pixq-devbroker running?)"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

std::string SelfExecutable() {
  std::string path(4096, '\0');
  const ssize_t n = readlink("/proc/self/exe", path.data(), path.size());
  if (n <= 0 || static_cast<size_t>(n) >= path.size()) return "/proc/self/exe";
  path.resize(static_cast<size_t>(n));
  return path;
}

void BlockStopSignals() {
  sigset_t set = StopSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int WaitForStopSignal() {
  sigset_t set = StopSignals();
  int signal = 0;
  sigwait(&set, &signal);
  return signal;
}

int CpuLimit(int cpus, const std::string& cgroup_root, std::string_view self_cgroup) {
  cpus = std::max(1, cpus);
  // cgroup v2's line is "0::<path>", the path relative to the mount (just "/" inside a container
  // with a cgroup namespace of its own).
  std::string path;
  std::istringstream lines{std::string(self_cgroup)};
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("0::")) path = line.substr(3);
  }
  int limit = cpus;
  std::filesystem::path group = std::filesystem::path(path).relative_path();
  while (true) {
    std::ifstream in(std::filesystem::path(cgroup_root) / group / "cpu.max");
    std::string quota;
    int64_t period = 0;
    int64_t q = 0;
    if ((in >> quota >> period) && quota != "max" && period > 0 && absl::SimpleAtoi(quota, &q) &&
        q > 0) {
      limit = std::min<int64_t>(limit, (q + period - 1) / period);
    }
    if (group.empty()) break;
    group = group.parent_path();
  }
  return std::max(1, limit);
}

int CpuLimit() {
  int cpus = static_cast<int>(std::thread::hardware_concurrency());
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) cpus = CPU_COUNT(&set);
  std::ifstream in("/proc/self/cgroup");
  std::stringstream self;
  self << in.rdbuf();
  return CpuLimit(cpus, "/sys/fs/cgroup", self.str());
}

}  // namespace pixq::runtime
