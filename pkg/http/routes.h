#pragma once

// The route table of pixq-api: every route once, with its handler and who may call it; the guard
// each handler runs in; and the answers for requests no route takes (404) or a path's routes do
// not take with that method (405).

#include <vector>

#include <pistache/router.h>

#include "pkg/http/handlers.h"
#include "pkg/http/server.h"
#include "pkg/observability/metrics.h"
#include "pkg/observability/trace.h"

namespace pixq::http {

// Registers every route of the table, the 405s and the 404 on `router`, each handler run by a
// guard: nothing it throws escapes into Pistache, every answer it sends is counted under the
// route's template, and (open routes aside: probes, scrapes, docs) it runs in a server span that
// continues the client's traceparent, with the trace ids on its log lines. `handlers`,
// `metrics` and `tracer` must outlive the router.
void AddRoutes(Pistache::Rest::Router& router, Handlers& handlers, observability::Metrics& metrics,
               observability::Tracer& tracer);

// The table's routes, in the order they are registered.
[[nodiscard]] std::vector<RouteInfo> RouteTable();

}  // namespace pixq::http
