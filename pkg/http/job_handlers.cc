// The jobs: POST /v1/jobs (answered from Kafka's acknowledgement), GET /v1/jobs/{id} with its
// long-poll, its output, its retry, the listing, DELETE.

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

#include "pkg/api/listing.h"
#include "pkg/errors/errors.h"
#include "pkg/http/handlers.h"
#include "pkg/http/responses.h"
#include "pkg/job/document.h"
#include "pkg/job/json.h"

namespace pixq::http {

absl::StatusOr<Handlers::json> Handlers::RequestDocument(const Request& req) const {
  const std::string& body = req.body();
  if (static_cast<int64_t>(body.size()) > options_.max_json_bytes) {
    return errors::Make(
        errors::Reason::kPayloadTooLarge,
        absl::StrCat("job specs are limited to ", options_.max_json_bytes, " bytes"));
  }
  std::optional<job::BodyFormat> format = job::BodyFormatOf(ContentTypeOf(req));
  if (!format) {
    return errors::Make(errors::Reason::kUnsupportedMediaType,
                        "send the job as application/json or application/yaml");
  }
  return job::ParseDocument(body, *format);
}

void Handlers::CreateJob(RequestContext& ctx, const Request& req, ResponseWriter w) {
  absl::StatusOr<json> doc = RequestDocument(req);
  if (!doc.ok()) {
    SendProblem(ctx, w, doc.status());
    return;
  }
  absl::StatusOr<job::JobSpec> spec = job::JobSpecFromJson(*doc, service_.options().validation);
  if (!spec.ok()) {
    SendProblem(ctx, w, spec.status());
    return;
  }
  absl::StatusOr<Claimed> claim = ClaimIdempotency(req, "job");
  if (!claim.ok()) {
    SendProblem(ctx, w, claim.status());
    return;
  }
  const auto& [key, hash] = claim->idempotency;
  if (!key.empty()) {
    // The same request again: the same answer, with the job as it is now.
    absl::StatusOr<std::optional<job::JobRecord>> earlier = service_.FindIdempotent(key, hash);
    if (!earlier.ok()) {
      SendProblem(ctx, w, earlier.status());
      return;
    }
    if (*earlier) {
      w.headers().add<Pistache::Http::Header::Location>(absl::StrCat("/v1/jobs/", (*earlier)->id));
      SendJson(ctx, w, (*earlier)->status.cache_hit ? 201 : 202, JobJson(**earlier));
      return;
    }
  }
  // Answered from Kafka's acknowledgement of the job, so no HTTP thread waits for the broker:
  // submissions in flight are bounded by connections, not by http.threads.
  std::optional<observability::SpanContext> parent;
  if (ctx.parent() != nullptr) parent = *ctx.parent();
  std::shared_ptr<Reply> later = polls_.AnswerLater(ctx, w, "/v1/jobs", "POST");
  if (!later) return;
  std::shared_ptr<api::Service::KeyGuard> guard = std::move(claim->guard);  // until answered
  service_.CreateJobAsync(*std::move(spec), parent ? &*parent : nullptr,
                          api::CreateOptions{.idempotency_key = key, .request_hash = hash},
                          [this, later, guard](absl::StatusOr<job::JobRecord> record) {
                            absl::StatusOr<json> body = json();
                            try {
                              if (record.ok()) {
                                later->writer->headers().add<Pistache::Http::Header::Location>(
                                    absl::StrCat("/v1/jobs/", record->id));
                                body = JobJson(*record);
                              } else {
                                body = record.status();
                              }
                            } catch (const std::exception& e) {
                              body = errors::Make(errors::Reason::kInternal, e.what());
                            }
                            // A cache hit is born Succeeded: created and complete (201);
                            // otherwise accepted (202).
                            polls_.AnswerNow(*later, body,
                                             record.ok() && record->status.cache_hit ? 201 : 202);
                          });
}

void Handlers::GetJob(RequestContext& ctx, const Request& req, ResponseWriter w) {
  const std::string id = req.param(":id").as<std::string>();
  absl::StatusOr<absl::Duration> wait = WaitOf(req, absl::ZeroDuration());
  if (!wait.ok()) {
    SendProblem(ctx, w, wait.status());
    return;
  }
  absl::StatusOr<LongPolls::WakeOn> wake = LongPolls::WakeOn::kChange;
  if (std::optional<std::string> until = QueryParam(req, "until")) wake = ParseUntil(*until);
  if (!wake.ok()) {
    SendProblem(ctx, w, wake.status());
    return;
  }
  absl::StatusOr<job::JobRecord> record = service_.GetJob(id);
  if (!record.ok()) {
    SendProblem(ctx, w, record.status());
    return;
  }
  if (*wait <= absl::ZeroDuration() || job::IsTerminal(record->status.phase)) {
    SendJson(ctx, w, 200, JobJson(*record));
    return;
  }
  // Answered at the job's next change (?until=done: its end), or at the deadline with what is
  // known then (200 all the same: the phase says whether it ended).
  polls_.Wait(
      ctx, std::move(w), *record, *wait, *wake,
      [this](RequestContext& later, ResponseWriter& out, const job::JobRecord& now) {
        if (now.id.empty()) {
          SendProblem(later, out,
                      errors::Make(errors::Reason::kJobNotFound, "the job was deleted"));
        } else {
          SendJson(later, out, 200, JobJson(now));
        }
      },
      "/v1/jobs/:id");
}

void Handlers::GetJobOutput(RequestContext& ctx, const Request& req, ResponseWriter w) {
  absl::StatusOr<job::JobRecord> record = service_.GetJob(req.param(":id").as<std::string>());
  if (!record.ok()) {
    SendProblem(ctx, w, record.status());
    return;
  }
  const job::JobStatus& status = record->status;
  if (status.phase == job::Phase::kFailed) {
    SendProblem(
        ctx, w,
        errors::Make(errors::Reason::kJobFailed, absl::StrCat("the job failed: ", status.reason)));
    return;
  }
  if (status.phase != job::Phase::kSucceeded || !status.output) {
    SendProblem(ctx, w,
                errors::Make(errors::Reason::kOutputNotReady,
                             absl::StrCat("the job is ", job::PhaseName(status.phase),
                                          "; poll it with ?wait=")));
    return;
  }
  ServeStored(ctx, w, HeaderValue(req, "If-None-Match"), status.output->path, record->output_key,
              job::FormatMimeType(status.output->format));
}

void Handlers::RetryJob(RequestContext& ctx, const Request& req, ResponseWriter w) {
  const std::string id = req.param(":id").as<std::string>();
  // Scoped to the job as well as the caller: the same key may retry two jobs.
  absl::StatusOr<Claimed> claim = ClaimIdempotency(req, absl::StrCat("retry:", id));
  if (!claim.ok()) {
    SendProblem(ctx, w, claim.status());
    return;
  }
  const auto& [key, hash] = claim->idempotency;
  // Kafka acknowledges a retry (rare, like a delete) while this thread waits.
  absl::StatusOr<job::JobRecord> record = service_.RetryJob(
      id, ctx.parent(), api::CreateOptions{.idempotency_key = key, .request_hash = hash});
  if (!record.ok()) {
    SendProblem(ctx, w, record.status());
    return;
  }
  w.headers().add<Pistache::Http::Header::Location>(absl::StrCat("/v1/jobs/", record->id));
  SendJson(ctx, w, 202, JobJson(*record));
}

void Handlers::ListJobs(RequestContext& ctx, const Request& req, ResponseWriter w) {
  absl::StatusOr<int> limit = api::ParseLimit(QueryParam(req, "limit"));
  if (!limit.ok()) {
    SendProblem(ctx, w, limit.status());
    return;
  }
  absl::StatusOr<std::vector<job::Phase>> phases = api::ParsePhases(DecodedParam(req, "phase"));
  if (!phases.ok()) {
    SendProblem(ctx, w, phases.status());
    return;
  }
  absl::StatusOr<std::string> image = api::ParseImageFilter(DecodedParam(req, "image"));
  if (!image.ok()) {
    SendProblem(ctx, w, image.status());
    return;
  }
  absl::StatusOr<std::optional<state::Order>> order = api::ParseOrder(DecodedParam(req, "order"));
  if (!order.ok()) {
    SendProblem(ctx, w, order.status());
    return;
  }
  absl::StatusOr<api::JobPage> page =
      service_.ListJobs({.phases = *std::move(phases),
                         .image_id = *std::move(image),
                         .order = *order,
                         .limit = *limit,
                         .page_token = DecodedParam(req, "pageToken").value_or("")});
  if (!page.ok()) {
    SendProblem(ctx, w, page.status());
    return;
  }
  SendJson(ctx, w, 200,
           Page(*page, [this](const job::JobRecord& record) { return JobJson(record); }));
}

void Handlers::DeleteJob(RequestContext& ctx, const Request& req, ResponseWriter w) {
  if (absl::Status deleted = service_.DeleteJob(req.param(":id").as<std::string>());
      !deleted.ok()) {
    SendProblem(ctx, w, deleted);
    return;
  }
  SendEmpty(ctx, w, 204);
}

}  // namespace pixq::http
