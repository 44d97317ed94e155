// The seed services' contracts, at the root as they served them (api/seed.h): the Flask/Celery
// downloader's POST /download and GET /check/{task_id}, the prog-image service's POST
// /upload_file and GET /{image_id}/{variant}, and GET /ping.

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

#include "pkg/api/seed.h"
#include "pkg/errors/errors.h"
#include "pkg/http/handlers.h"
#include "pkg/http/responses.h"
#include "pkg/job/ids.h"

namespace pixq::http {

void Handlers::SeedDownload(RequestContext& ctx, const Request& req, ResponseWriter w) {
  const std::string& body = req.body();
  if (static_cast<int64_t>(body.size()) > options_.max_json_bytes) {
    SendProblem(
        ctx, w,
        errors::Make(errors::Reason::kPayloadTooLarge,
                     absl::StrCat("requests are limited to ", options_.max_json_bytes, " bytes")));
    return;
  }
  const std::string content_type = ContentTypeOf(req);
  if (!content_type.empty() && content_type != "application/json") {
    SendProblem(ctx, w,
                errors::Make(errors::Reason::kUnsupportedMediaType,
                             "send the request as application/json"));
    return;
  }
  absl::StatusOr<job::JobSpec> spec = api::DownloadSpec(body, service_.options().validation);
  if (!spec.ok()) {
    SendProblem(ctx, w, spec.status());
    return;
  }
  absl::StatusOr<job::JobRecord> record = service_.CreateJob(*std::move(spec), ctx.parent());
  if (!record.ok()) {
    SendProblem(ctx, w, record.status());
    return;
  }
  w.headers().add<Pistache::Http::Header::Location>(absl::StrCat("/check/", record->id));
  // 200, as the Flask service answered: its clients read task_id and poll /check.
  SendJson(ctx, w, 200, {{"task_id", record->id}});
}

void Handlers::SeedCheck(RequestContext& ctx, const Request& req, ResponseWriter w) {
  absl::StatusOr<job::JobRecord> record = service_.GetJob(req.param(":task_id").as<std::string>());
  if (!record.ok()) {
    SendProblem(ctx, w, record.status());
    return;
  }
  json out = api::CeleryTaskJson(*record);
  if (auth_.signs_urls() && out["result"].is_object() && out["result"].contains("url")) {
    out["result"]["signed_url"] =
        auth_.SignPath(out["result"]["url"].get<std::string>(), clock_.Now());
  }
  SendJson(ctx, w, 200, out);
}

void Handlers::SeedUploadFile(RequestContext& ctx, const Request& req, ResponseWriter w) {
  absl::StatusOr<api::UploadResult> result = Upload(ctx, req);
  if (!result.ok()) {
    SendProblem(ctx, w, result.status());
    return;
  }
  // 200 whether new or known, as the prog-image service answered.
  SendJson(ctx, w, 200, {{"image_id", result->meta.id}});
}

void Handlers::Ping(RequestContext& ctx, const Request&, ResponseWriter w) {
  Send(ctx, w, 200, "pong", "text/plain");
}

void Handlers::SeedVariant(RequestContext& ctx, const Request& req, ResponseWriter w) {
  const std::string image_id = req.param(":image_id").as<std::string>();
  // Any two segments no other route has end here: only an image id makes them this route.
  if (!job::IsSha256Hex(image_id)) {
    NoRoute(ctx, req, std::move(w));
    return;
  }
  ServeVariant(ctx, req, std::move(w), image_id, req.param(":variant").as<std::string>(),
               kSeedVariantPath);
}

}  // namespace pixq::http
