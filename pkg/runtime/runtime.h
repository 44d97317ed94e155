#pragma once

// What both binaries do at start and stop: read the configuration from flags, the file and the
// environment; find the Kafka cluster; wait for a stop signal. Kept out of cmd/ so the binaries
// only wire, and so the start-up rules are the same for both.

#include <csignal>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "pkg/config/config.h"
#include "pkg/observability/metrics.h"
#include "pkg/observability/tracer.h"
#include "pkg/queue/message.h"

namespace pixq::runtime {

// The outcome of parsing the command line: either a configuration to run with, or an exit code
// (help printed, --print-config or --check-config done, or an error reported on stderr).
struct Startup {
  config::Config config;
  std::string subcommand;   // the one given, "" for none
  std::string config_path;  // --config (or PIXQ_CONFIG), "" for none
  bool exit = false;
  int exit_code = 0;
};

// Parses --config, --print-config and --check-config for the binary `name`, and at most one of
// `subcommands` (name, description), loads and validates the configuration (file, then PIXQ_*
// environment). A bad value is reported naming its key.
[[nodiscard]] Startup ParseCommandLine(
    const std::string& name, int argc, char** argv,
    const std::vector<std::pair<std::string, std::string>>& subcommands = {});

// The client options for the configured cluster. When kafka.bootstrap_servers is empty, reads
// kafka.bootstrap_file (written by pixq-devbroker), waiting up to `wait` for it to appear.
[[nodiscard]] absl::StatusOr<queue::ClientOptions> KafkaClient(const config::Config& config,
                                                               const std::string& client_id,
                                                               absl::Duration wait);

// The process's tracer, as config.tracing (the OTEL_* variables) says, named `service` unless
// OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES name it; exporting over OTLP/HTTP through
// pkg/fetch's PostToEndpoint when an endpoint is set; dropped spans counted in `metrics`, which
// must outlive it.
[[nodiscard]] std::unique_ptr<observability::Tracer> StartTracer(const config::Config& config,
                                                                 const std::string& service,
                                                                 observability::Metrics& metrics);

// The CPUs this process may use: the CPUs it may run on (its affinity: taskset, or a cpuset such
// as Kubernetes' static CPU manager gives a pod), or fewer when a cgroup v2 quota (cpu.max, rounded
// up) allows less: that of the process's own cgroup or of any above it (a Kubernetes CPU limit,
// systemd's CPUQuota=). At least 1.
[[nodiscard]] int CpuLimit();
// The same over a cgroup v2 file system mounted at `cgroup_root`, for a process whose
// /proc/self/cgroup reads `self_cgroup` and which may run on `cpus` CPUs (for tests).
[[nodiscard]] int CpuLimit(int cpus, const std::string& cgroup_root, std::string_view self_cgroup);

// The path of this process's executable (/proc/self/exe resolved), to start a helper of the
// same binary; "/proc/self/exe" itself when it cannot be resolved.
[[nodiscard]] std::string SelfExecutable();

// Blocks SIGINT and SIGTERM in the calling thread and every thread started after it. Call first
// in main, then WaitForStopSignal where the process should wait.
void BlockStopSignals();
// Waits for SIGINT or SIGTERM; returns the signal number.
int WaitForStopSignal();

}  // namespace pixq::runtime
