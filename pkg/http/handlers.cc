#include "pkg/http/handlers.h"

#include <utility>

#include "absl/strings/str_cat.h"

#include "pkg/http/responses.h"
#include "pkg/job/json.h"

namespace pixq::http {

Handlers::Handlers(const ServerOptions& options, api::Service& service, probe::ReadyFn ready,
                   observability::Metrics& metrics, clock::Clock& clock, LongPolls& polls)
    : options_(options),
      service_(service),
      ready_(std::move(ready)),
      auth_(options.auth),
      metrics_(metrics),
      clock_(clock),
      polls_(polls) {}

json Handlers::JobJson(const job::JobRecord& record) const {
  json out = job::ToApiJson(record);
  if (auth_.signs_urls() && out.contains("status") && out["status"].contains("output") &&
      out["status"]["output"].contains("url")) {
    out["status"]["output"]["signedUrl"] =
        auth_.SignPath(out["status"]["output"]["url"].get<std::string>(), clock_.Now());
  }
  return out;
}

json Handlers::ImageJson(const job::ImageMeta& meta) const {
  json out = job::ToApiJson(meta);
  if (auth_.signs_urls() && out.contains("contentUrl")) {
    out["signedContentUrl"] = auth_.SignPath(out["contentUrl"].get<std::string>(), clock_.Now());
  }
  return out;
}

absl::StatusOr<Handlers::Claimed> Handlers::ClaimIdempotency(const Request& req,
                                                             std::string_view kind) {
  absl::StatusOr<api::Idempotency> idempotency =
      api::IdempotencyOf(kind, {.idempotency_key = HeaderValue(req, "Idempotency-Key"),
                                .authorization = HeaderValue(req, "Authorization").value_or(""),
                                .api_key = HeaderValue(req, "X-API-Key").value_or(""),
                                .content_type = ContentTypeOf(req),
                                .body = req.body()});
  if (!idempotency.ok()) return idempotency.status();
  absl::StatusOr<std::unique_ptr<api::Service::KeyGuard>> guard = service_.Claim(idempotency->key);
  if (!guard.ok()) return guard.status();
  return Claimed{.idempotency = *std::move(idempotency), .guard = *std::move(guard)};
}

absl::StatusOr<absl::Duration> Handlers::WaitOf(const Request& req, absl::Duration unset) const {
  std::optional<std::string> text = QueryParam(req, "wait");
  if (!text) return unset;
  return ParseWait(*text, options_.max_wait);
}

void Handlers::ServeStored(RequestContext& ctx, ResponseWriter& w,
                           const std::optional<std::string>& if_none_match,
                           const std::string& relative, const std::string& etag_value,
                           const std::string& mime) const {
  ServeImmutable(ctx, w, if_none_match, absl::StrCat(options_.storage_root, "/", relative),
                 etag_value, mime, /*private_cache=*/auth_.enabled());
}

}  // namespace pixq::http
