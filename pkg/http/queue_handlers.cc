#include "absl/status/statusor.h"

#include "pkg/api/queue.h"
#include "pkg/errors/errors.h"
#include "pkg/http/handlers.h"
#include "pkg/http/responses.h"

// GET /v1/queue: the workers' consumer group, its lag per partition of the jobs topic, and the
// jobs this replica saw finish (pkg/api/queue.h). Read from Kafka on each request; a broker that
// does not answer is a 503 with its reason.

namespace pixq::http {

void Handlers::GetQueue(RequestContext& ctx, const Request& /*req*/, ResponseWriter w) {
  if (!options_.queue) {
    SendProblem(ctx, w,
                errors::Make(errors::Reason::kBrokerUnavailable, "this server reads no queue"));
    return;
  }
  absl::StatusOr<api::QueueReport> report = options_.queue();
  if (!report.ok()) {
    SendProblem(ctx, w, report.status());
    return;
  }
  SendJson(ctx, w, 200, api::QueueJson(*report));
}

}  // namespace pixq::http
