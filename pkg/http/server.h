#pragma once

// pixq-api's HTTP surface (Pistache): routes, request limits, problem+json errors and long-polls.
// Business logic lives in api::Service; this layer only translates HTTP to calls and back.
//
// Every handler answers: failures become application/problem+json (RFC 9457) with a stable
// `reason`; no exception leaves a handler and no request can stop the process.
//
// The pieces, one file each: routes.cc (the route table, the guard every handler runs in),
// upload_stream.cc (reading requests off the wire, bounded, an upload hashed as it arrives),
// responses.cc (reading requests and writing answers), long_poll.cc (answers sent later),
// and the handlers of each resource (handlers.h).

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

#include "pkg/api/queue.h"
#include "pkg/api/service.h"
#include "pkg/auth/auth.h"
#include "pkg/clock/clock.h"
#include "pkg/observability/metrics.h"
#include "pkg/observability/trace.h"
#include "pkg/probe/probe_server.h"
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
  // GET /v1/queue's report (api::QueueStatus::Read); unset, the route answers 503.
  std::function<absl::StatusOr<api::QueueReport>()> queue;
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

class ApiServer final {
 public:
  // `ready`: OK when this replica can serve reads and take jobs (GET /readyz). `clock` decides
  // the long-polls' deadlines and signed URLs' expiry.
  ApiServer(ServerOptions options, api::Service& service, state::JobTable& jobs,
            probe::ReadyFn ready, observability::Metrics& metrics, observability::Tracer& tracer,
            clock::Clock& clock);
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

}  // namespace pixq::http
