#include "pkg/http/routes.h"

#include <algorithm>
#include <exception>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

#include "pkg/errors/errors.h"
#include "pkg/http/responses.h"
#include "pkg/http/upload_stream.h"
#include "pkg/observability/log.h"

namespace pixq::http {
namespace {

using Handler = void (Handlers::*)(RequestContext&, const Request&, ResponseWriter);

struct Route {
  Pistache::Http::Method method;
  const char* path;
  Handler handler;
  RouteAccess access;
};

// Every route, each once: registered from here, and listed by RouteTable() for the test that
// holds pkg/http/openapi.json to them. Probes and scrapes are open (kubelet and Prometheus carry
// no key), and so are the API description, its page and the console's files; originals and
// outputs may be fetched with a signed URL instead of a key, so that their URL can be handed on.
const std::vector<Route>& Table() {
  using Pistache::Http::Method;
  static const std::vector<Route> kRoutes = {
      {Method::Post, "/v1/images", &Handlers::UploadImage, RouteAccess::kKey},
      {Method::Get, "/v1/images/:id", &Handlers::GetImage, RouteAccess::kKey},
      {Method::Get, "/v1/images/:id/content", &Handlers::GetImageContent,
       RouteAccess::kKeyOrSignature},
      {Method::Post, "/v1/jobs", &Handlers::CreateJob, RouteAccess::kKey},
      {Method::Get, "/v1/jobs/:id", &Handlers::GetJob, RouteAccess::kKey},
      {Method::Get, "/v1/jobs/:id/output", &Handlers::GetJobOutput, RouteAccess::kKeyOrSignature},
      {Method::Post, "/v1/jobs/:id/retry", &Handlers::RetryJob, RouteAccess::kKey},
      {Method::Post, "/v1/batches", &Handlers::CreateBatch, RouteAccess::kKey},
      {Method::Get, "/v1/batches/:id", &Handlers::GetBatch, RouteAccess::kKey},
      // The catalogue, job listings and variants.
      {Method::Get, "/v1/images", &Handlers::ListImages, RouteAccess::kKey},
      {Method::Delete, "/v1/images/:id", &Handlers::DeleteImage, RouteAccess::kKey},
      {Method::Get, "/v1/images/:id/:variant", &Handlers::GetVariant, RouteAccess::kKey},
      {Method::Get, "/v1/jobs", &Handlers::ListJobs, RouteAccess::kKey},
      {Method::Delete, "/v1/jobs/:id", &Handlers::DeleteJob, RouteAccess::kKey},
      // The workers' group, its lag and what this replica saw finish (the console's Queue page).
      {Method::Get, "/v1/queue", &Handlers::GetQueue, RouteAccess::kKey},
      // The seed services' contracts, at the root as they served them. Pistache tries fixed
      // segments before parameters (and backtracks), so "/:image_id/:variant" takes only the
      // two-segment paths no other route has; its handler answers RouteNotFound unless the
      // first segment is an image id.
      {Method::Post, "/download", &Handlers::SeedDownload, RouteAccess::kKey},
      {Method::Get, "/check/:task_id", &Handlers::SeedCheck, RouteAccess::kKey},
      {Method::Post, "/upload_file", &Handlers::SeedUploadFile, RouteAccess::kKey},
      {Method::Get, "/ping", &Handlers::Ping, RouteAccess::kOpen},
      {Method::Get, Handlers::kSeedVariantPath, &Handlers::SeedVariant, RouteAccess::kKey},
      {Method::Get, "/healthz", &Handlers::Healthz, RouteAccess::kOpen},
      {Method::Get, "/readyz", &Handlers::Readyz, RouteAccess::kOpen},
      {Method::Get, "/health", &Handlers::Health, RouteAccess::kOpen},
      {Method::Get, "/metrics", &Handlers::Metrics, RouteAccess::kOpen},
      {Method::Get, "/openapi.json", &Handlers::OpenApi, RouteAccess::kOpen},
      {Method::Get, "/docs", &Handlers::Docs, RouteAccess::kOpen},
      {Method::Get, "/docs/redoc.standalone.js", &Handlers::DocsScript, RouteAccess::kOpen},
      // The web console: its files are open; what it shows, it asks for with the key.
      {Method::Get, "/console", &Handlers::Console, RouteAccess::kOpen},
      {Method::Get, "/console/:file", &Handlers::ConsoleAsset, RouteAccess::kOpen},
  };
  return kRoutes;
}

using Body = std::function<void(Handlers&, RequestContext&, const Request&, ResponseWriter)>;

// Whether the request may go on; answers it (401/403) when not.
bool Admit(const Handlers& handlers, RouteAccess access, RequestContext& ctx, const Request& req,
           ResponseWriter& w) {
  const auth::Authenticator& auth = handlers.auth();
  if (!auth.enabled() || access == RouteAccess::kOpen) return true;
  absl::Status admitted;
  auto signature = QueryParam(req, "signature");
  if (signature && access == RouteAccess::kKeyOrSignature) {
    admitted = auth.CheckSignature(req.resource(), QueryParam(req, "expires").value_or(""),
                                   *signature, handlers.clock().Now());
  } else {
    admitted = auth.CheckKey(HeaderValue(req, "Authorization"), HeaderValue(req, "X-API-Key"));
  }
  if (admitted.ok()) return true;
  SendProblem(ctx, w, admitted);
  return false;
}

Pistache::Rest::Route::Handler Guard(Handlers& handlers, observability::Metrics& metrics,
                                     observability::Tracer& tracer, std::string route,
                                     RouteAccess access, Body body) {
  const bool traced = access != RouteAccess::kOpen;
  return [&handlers, &metrics, &tracer, body = std::move(body), route = std::move(route), access,
          traced](const Request& req, ResponseWriter w) {
    RequestContext ctx{.started = absl::Now()};
    const std::string method = Pistache::Http::methodString(req.method());
    observability::Span span;
    std::optional<observability::LogContext> log_context;
    if (traced) {
      std::optional<observability::SpanContext> parent;
      if (auto header = HeaderValue(req, "traceparent")) {
        parent = observability::ParseTraceparent(*header);
      }
      span = tracer.StartSpan(absl::StrCat(method, " ", route), observability::SpanKind::kServer,
                              parent ? &*parent : nullptr, ctx.started);
      span.SetAttribute("http.request.method", method);
      span.SetAttribute("http.route", route);
      span.SetAttribute("url.path", req.resource());
      ctx.span = &span;
      log_context.emplace(observability::Fields{{"trace_id", span.context().TraceIdHex()},
                                                {"span_id", span.context().SpanIdHex()}});
    }
    if (req.method() == Pistache::Http::Method::Post) ctx.body_digest = ReceivedDigest(w);
    try {
      if (Admit(handlers, access, ctx, req, w)) body(handlers, ctx, req, std::move(w));
    } catch (const std::exception& e) {
      observability::LogError("handler threw", {{"error", e.what()}});
      // The writer may have been moved away; nothing more can be sent then.
    }
    if (ctx.answered != 0) {
      metrics.ObserveHttpRequest(ctx.unmatched ? "unmatched" : route, method, ctx.answered,
                                 absl::ToDoubleSeconds(absl::Now() - ctx.started));
      span.SetAttribute("http.response.status_code", int64_t{ctx.answered});
      if (ctx.answered >= 500) span.SetError(absl::StrCat("answered ", ctx.answered));
    }
    return Pistache::Rest::Route::Result::Ok;
  };
}

}  // namespace

void AddRoutes(Pistache::Rest::Router& router, Handlers& handlers, observability::Metrics& metrics,
               observability::Tracer& tracer) {
  for (const Route& route : Table()) {
    router.addRoute(route.method, route.path,
                    Guard(handlers, metrics, tracer, route.path, route.access, route.handler));
  }
  // With auth on, a key is asked for before a missing route is reported.
  router.addNotFoundHandler(
      Guard(handlers, metrics, tracer, "unmatched", RouteAccess::kKey, &Handlers::NoRoute));
  // A path some route has, asked with a method it does not have: 405 with Allow, as problem+json
  // (Pistache would answer in plain text). Every method then has every path, so each finds the
  // same template for a request path as the methods that serve it.
  std::map<std::string, std::vector<Pistache::Http::Method>> allowed;
  for (const Route& route : Table()) allowed[route.path].push_back(route.method);
  using Pistache::Http::Method;
  for (const auto& [path, methods] : allowed) {
    for (Method method :
         {Method::Get, Method::Post, Method::Put, Method::Patch, Method::Delete, Method::Options}) {
      if (std::find(methods.begin(), methods.end(), method) != methods.end()) continue;
      router.addRoute(method, path,
                      Guard(handlers, metrics, tracer, path, RouteAccess::kKey,
                            [path = path, methods = methods](Handlers& self, RequestContext& ctx,
                                                             const Request& req, ResponseWriter w) {
                              self.MethodNotAllowed(ctx, req, std::move(w), path, methods);
                            }));
    }
  }
}

std::vector<RouteInfo> RouteTable() {
  std::vector<RouteInfo> routes;
  for (const Route& route : Table()) {
    routes.push_back({.method = Pistache::Http::methodString(route.method),
                      .path = route.path,
                      .access = route.access});
  }
  return routes;
}

std::string OpenApiPath(std::string_view pistache_path) {
  std::string out;
  out.reserve(pistache_path.size() + 2);
  size_t i = 0;
  while (i < pistache_path.size()) {
    const size_t end = std::min(pistache_path.find('/', i), pistache_path.size());
    const std::string_view segment = pistache_path.substr(i, end - i);
    if (!segment.empty() && segment.front() == ':') {
      absl::StrAppend(&out, "{", errors::Sv(segment.substr(1)), "}");
    } else {
      out.append(segment);
    }
    if (end < pistache_path.size()) out.push_back('/');
    i = end + 1;
  }
  return out;
}

}  // namespace pixq::http
