// The batches: POST /v1/batches and GET /v1/batches/{id} (api/batches.h).

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

#include "pkg/api/batches.h"
#include "pkg/http/handlers.h"
#include "pkg/http/responses.h"

namespace pixq::http {

void Handlers::CreateBatch(RequestContext& ctx, const Request& req, ResponseWriter w) {
  absl::StatusOr<json> doc = RequestDocument(req);
  if (!doc.ok()) {
    SendProblem(ctx, w, doc.status());
    return;
  }
  absl::StatusOr<std::vector<job::JobSpec>> specs =
      api::BatchSpecs(*doc, service_.options().validation);
  if (!specs.ok()) {
    SendProblem(ctx, w, specs.status());
    return;
  }
  absl::StatusOr<Claimed> claim = ClaimIdempotency(req, "batch");
  if (!claim.ok()) {
    SendProblem(ctx, w, claim.status());
    return;
  }
  const auto& [key, hash] = claim->idempotency;
  absl::StatusOr<api::BatchResult> batch =
      service_.CreateBatch(*std::move(specs), ctx.parent(), key, hash);
  if (!batch.ok()) {
    SendProblem(ctx, w, batch.status());
    return;
  }
  w.headers().add<Pistache::Http::Header::Location>(absl::StrCat("/v1/batches/", batch->id));
  SendJson(ctx, w, 202, api::BatchJson(batch->id, batch->jobs));
}

void Handlers::GetBatch(RequestContext& ctx, const Request& req, ResponseWriter w) {
  const std::string id = req.param(":id").as<std::string>();
  absl::StatusOr<std::vector<job::JobRecord>> jobs = service_.GetBatch(id);
  if (!jobs.ok()) {
    SendProblem(ctx, w, jobs.status());
    return;
  }
  SendJson(ctx, w, 200, api::BatchJson(id, *jobs));
}

}  // namespace pixq::http
