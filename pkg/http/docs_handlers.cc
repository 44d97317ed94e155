// What is not a resource: the API description and its page, the probes, the metrics, and the
// answers for requests no route takes.

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

#include "pkg/errors/errors.h"
#include "pkg/http/assets.h"
#include "pkg/http/handlers.h"
#include "pkg/http/responses.h"
#include "pkg/http/serve_asset.h"
#include "pkg/job/ids.h"

namespace pixq::http {
namespace {

// The /docs page may load only what pixq-api serves itself: its script, the description it
// renders, and the styles and search worker Redoc makes on the page. Nothing from elsewhere.
constexpr char kDocsContentSecurityPolicy[] =
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self' "
    "'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

}  // namespace

void Handlers::OpenApi(RequestContext& ctx, const Request& req, ResponseWriter w) {
  ServeAsset(ctx, req, w, OpenApiJson(), "application/json");
}

void Handlers::Docs(RequestContext& ctx, const Request& req, ResponseWriter w) {
  SetHeader<ContentSecurityPolicyHeader>(w, kDocsContentSecurityPolicy);
  SetHeader<ReferrerPolicyHeader>(w, "no-referrer");
  ServeAsset(ctx, req, w, DocsPage(), "text/html; charset=utf-8");
}

void Handlers::DocsScript(RequestContext& ctx, const Request& req, ResponseWriter w) {
  ServeAsset(ctx, req, w, http::DocsScript(), "text/javascript; charset=utf-8");
}

void Handlers::Healthz(RequestContext& ctx, const Request&, ResponseWriter w) {
  SendJson(ctx, w, 200, {{"status", "ok"}});
}

void Handlers::Health(RequestContext& ctx, const Request&, ResponseWriter w) {
  Send(ctx, w, 200, "OK", "text/plain");
}

void Handlers::Readyz(RequestContext& ctx, const Request&, ResponseWriter w) {
  absl::Status status = ready_();
  if (!status.ok()) {
    SendProblem(ctx, w, status);
    return;
  }
  SendJson(ctx, w, 200, {{"status", "ready"}});
}

void Handlers::Metrics(RequestContext& ctx, const Request&, ResponseWriter w) {
  metrics_.SetReady(ready_().ok());
  Send(ctx, w, 200, metrics_.Render(), "text/plain; version=0.0.4");
}

void Handlers::NoRoute(RequestContext& ctx, const Request& req, ResponseWriter w) {
  ctx.unmatched = true;
  SendProblem(
      ctx, w,
      errors::Make(errors::Reason::kRouteNotFound, absl::StrCat("no route for ", req.resource())));
}

void Handlers::MethodNotAllowed(RequestContext& ctx, const Request& req, ResponseWriter w,
                                const std::string& path,
                                const std::vector<Pistache::Http::Method>& methods) {
  // The seeds' "/:image_id/:variant" has any two segments: only an image id makes it that path.
  if (path == kSeedVariantPath && !job::IsSha256Hex(req.param(":image_id").as<std::string>())) {
    NoRoute(ctx, req, std::move(w));
    return;
  }
  w.headers().add<Pistache::Http::Header::Allow>(methods);
  std::string names;
  for (Pistache::Http::Method method : methods) {
    absl::StrAppend(&names, names.empty() ? "" : ", ", Pistache::Http::methodString(method));
  }
  SendProblem(ctx, w,
              errors::Make(errors::Reason::kMethodNotAllowed,
                           absl::StrCat(Pistache::Http::methodString(req.method()), " ",
                                        req.resource(), ": not a method of this path; ", names)));
}

}  // namespace pixq::http
