// The variants of an image: GET /v1/images/{id}/{variant} (and the seeds' /{image_id}/{variant},
// seed_handlers.cc): the stored bytes, or the job that makes them, waited for.

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

#include "pkg/api/variants.h"
#include "pkg/errors/errors.h"
#include "pkg/http/handlers.h"
#include "pkg/http/responses.h"
#include "pkg/job/json.h"

namespace pixq::http {
namespace {

// How long a variant waits for its job when the request does not say (capped by max_wait).
constexpr absl::Duration kDefaultVariantWait = absl::Seconds(10);

}  // namespace

void Handlers::GetVariant(RequestContext& ctx, const Request& req, ResponseWriter w) {
  ServeVariant(ctx, req, std::move(w), req.param(":id").as<std::string>(),
               req.param(":variant").as<std::string>(), "/v1/images/:id/:variant");
}

// The variant's bytes when stored; otherwise its job (made, or found made: the output key is the
// same), waited for up to ?wait=: 200 with the bytes once it Succeeded, 422 JobFailed when it
// failed, else 202 with the job and its Location.
void Handlers::ServeVariant(RequestContext& ctx, const Request& req, ResponseWriter w,
                            const std::string& image_id, const std::string& name,
                            const char* route) {
  absl::StatusOr<api::VariantRequest> request = api::ParseVariant(
      name, QueryParam(req, "width"), QueryParam(req, "height"), service_.options().validation);
  if (!request.ok()) {
    SendProblem(ctx, w, request.status());
    return;
  }
  absl::StatusOr<absl::Duration> wait =
      WaitOf(req, std::min(kDefaultVariantWait, options_.max_wait));
  if (!wait.ok()) {
    SendProblem(ctx, w, wait.status());
    return;
  }
  absl::StatusOr<api::Variant> variant = service_.ResolveVariant(image_id, *request);
  if (!variant.ok()) {
    SendProblem(ctx, w, variant.status());
    return;
  }
  const std::string mime = job::FormatMimeType(variant->spec.output.format);
  const std::optional<std::string> if_none_match = HeaderValue(req, "If-None-Match");
  if (variant->stored) {
    ServeStored(ctx, w, if_none_match, variant->output_path, variant->output_key, mime);
    return;
  }
  absl::StatusOr<job::JobRecord> record = service_.CreateJob(variant->spec, ctx.parent());
  if (!record.ok()) {
    SendProblem(ctx, w, record.status());
    return;
  }
  auto answer = [this, created = *record, path = variant->output_path, key = variant->output_key,
                 mime, if_none_match](RequestContext& answering, ResponseWriter& out,
                                      const job::JobRecord& now) {
    const job::JobRecord& job = now.id.empty() ? created : now;
    if (job.status.phase == job::Phase::kSucceeded) {
      ServeStored(answering, out, if_none_match, path, key, mime);
    } else if (job.status.phase == job::Phase::kFailed) {
      SendProblem(answering, out,
                  errors::Make(errors::Reason::kJobFailed,
                               absl::StrCat("the job ", job.id, " that makes this variant failed: ",
                                            job.status.reason)));
    } else {
      out.headers().add<Pistache::Http::Header::Location>(absl::StrCat("/v1/jobs/", job.id));
      SendJson(answering, out, 202, JobJson(job));
    }
  };
  if (job::IsTerminal(record->status.phase) || *wait <= absl::ZeroDuration()) {
    answer(ctx, w, *record);
    return;
  }
  polls_.Wait(ctx, std::move(w), *record, *wait, LongPolls::WakeOn::kEnd, std::move(answer), route);
}

}  // namespace pixq::http
