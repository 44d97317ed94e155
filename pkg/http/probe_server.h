#pragma once

// A worker's own small HTTP port for Kubernetes probes: GET /healthz (the process answers) and
// GET /readyz (ready to take jobs: in the consumer group). Pistache, like the API.

#include <memory>
#include <string>

#include "absl/status/status.h"

#include "pkg/http/server.h"

namespace pixq::http {

class ProbeServer final {
 public:
  ProbeServer(std::string address, int port, ReadyFn ready);
  ~ProbeServer();

  // Binds and serves on a background thread. Errors: "BindFailed".
  [[nodiscard]] absl::Status Start();
  [[nodiscard]] int port() const;
  void Shutdown();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace pixq::http
