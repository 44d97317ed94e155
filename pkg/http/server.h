#pragma once

// pixq-api's HTTP surface (Pistache): routes, request limits, problem+json errors and long-polls.
// Business logic lives in api::Service; this layer only translates HTTP to calls and back.
//
// Every handler answers: failures become application/problem+json (RFC 9457) with a stable
// `reason`; no exception leaves a handler and no request can stop the process.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

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

// Who may call a route when auth is on (auth::AuthOptions::enabled); with auth off, anyone.
enum class RouteAccess {
  kOpen,            // no key: the probes, /metrics, the API description and its docs page
  kKey,             // an API key (Authorization: Bearer, or X-API-Key)
  kKeyOrSignature,  // an API key, or a signed URL (?expires=&signature=) that can be handed on
};

// A route pixq-api serves.
struct RouteInfo {
  std::string method;  // "GET", "POST", ...
  std::string path;    // in Pistache's syntax: "/v1/jobs/:id"
  RouteAccess access = RouteAccess::kKey;
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

  // Every route the server registers, in the order it registers them; requests matching none get
  // a problem+json 404 (RouteNotFound). The API description served at GET /openapi.json
  // (pkg/http/openapi.json) describes exactly these, with their access; tests/http checks it.
  [[nodiscard]] static std::vector<RouteInfo> RegisteredRoutes();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// A Pistache route path in OpenAPI's syntax: "/v1/jobs/:id" is "/v1/jobs/{id}".
[[nodiscard]] std::string OpenApiPath(std::string_view pistache_path);

// Parses a ?wait= value: "10s", "1500ms", "2m", or a bare number of seconds. Capped at `max`.
// Errors: "InvalidArgument" naming the parameter.
[[nodiscard]] absl::StatusOr<absl::Duration> ParseWait(std::string_view text, absl::Duration max);

}  // namespace pixq::http
