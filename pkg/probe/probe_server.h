#pragma once

// A worker's own small HTTP port: GET /healthz (the process answers), GET /readyz (ready to take
// jobs: in the consumer group) for Kubernetes probes, and GET /metrics for Prometheus. Pistache,
// like the API.

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"

#include "pkg/observability/metrics.h"

namespace pixq::probe {

// Readiness: OK when the process can do its work (the API: serve reads and take jobs; a worker:
// take jobs); else why not, as the problem+json of GET /readyz says.
using ReadyFn = std::function<absl::Status()>;

class ProbeServer final {
 public:
  ProbeServer(std::string address, int port, ReadyFn ready, observability::Metrics& metrics);
  ~ProbeServer();

  // Binds and serves on a background thread. Errors: "BindFailed".
  [[nodiscard]] absl::Status Start();
  [[nodiscard]] int port() const;
  void Shutdown();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace pixq::probe
