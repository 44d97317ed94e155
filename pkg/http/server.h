#pragma once

// pixq-api's HTTP surface (Pistache): routes, request limits, problem+json errors and long-polls.
// Business logic lives in api::Service; this layer only translates HTTP to calls and back.
//
// Every handler answers: failures become application/problem+json (RFC 9457) with a stable
// `reason`; no exception leaves a handler and no request can stop the process.

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

#include "pkg/api/service.h"
#include "pkg/auth/auth.h"
#include "pkg/observability/metrics.h"
#include "pkg/observability/trace.h"
#include "pkg/state/tables.h"

namespace pixq::http {

struct ServerOptions {
  std::string address = "0.0.0.0";
  int port = 8080;  // 0 picks a free port (tests)
  int threads = 4;
  int64_t max_body_bytes = 50 << 20;            // uploads; enforced while reading
  int64_t max_json_bytes = 1 << 20;             // job specs
  absl::Duration max_wait = absl::Seconds(60);  // ceiling of ?wait=
  std::string storage_root;  // files are served from here (relative paths from the store)
  // API keys on every route but the probes and /metrics; signed URLs for outputs and originals.
  auth::AuthOptions auth;
};

// Readiness: OK when this replica can serve reads and take jobs.
using ReadyFn = std::function<absl::Status()>;

class ApiServer final {
 public:
  ApiServer(ServerOptions options, api::Service& service, state::JobTable& jobs, ReadyFn ready,
            observability::Metrics& metrics, observability::Tracer& tracer);
  ~ApiServer();

  // Binds and serves on background threads. Errors: "BindFailed".
  [[nodiscard]] absl::Status Start();
  // The port actually bound (after Start).
  [[nodiscard]] int port() const;
  // Stops accepting, answers the long-polls in flight with the current state, and stops.
  void Shutdown();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Parses a ?wait= value: "10s", "1500ms", "2m", or a bare number of seconds. Capped at `max`.
// Errors: "InvalidArgument" naming the parameter.
[[nodiscard]] absl::StatusOr<absl::Duration> ParseWait(std::string_view text, absl::Duration max);

}  // namespace pixq::http
