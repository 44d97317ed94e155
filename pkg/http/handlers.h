#pragma once

// pixq-api's handlers: each turns one route's request into calls of api::Service and the result
// into its answer. One file of definitions per resource (image_handlers.cc, job_handlers.cc,
// batch_handlers.cc, variant_handlers.cc, seed_handlers.cc, docs_handlers.cc for the API
// description, probes and metrics, console_handlers.cc for the web console); routes.cc maps routes
// to them and runs each in its guard.
//
// Every handler gets the request's context (request_context.h), answers through responses.h, and
// never throws on purpose (the guard catches what escapes).

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include <pistache/http.h>
#include <pistache/router.h>

#include "pkg/api/idempotency.h"
#include "pkg/api/service.h"
#include "pkg/auth/auth.h"
#include "pkg/clock/clock.h"
#include "pkg/http/long_poll.h"
#include "pkg/http/request_context.h"
#include "pkg/http/server.h"
#include "pkg/job/spec.h"
#include "pkg/observability/metrics.h"

namespace pixq::http {

class Handlers final {
 public:
  using Request = Pistache::Rest::Request;
  using ResponseWriter = Pistache::Http::ResponseWriter;
  using json = nlohmann::json;

  Handlers(const ServerOptions& options, api::Service& service, probe::ReadyFn ready,
           observability::Metrics& metrics, clock::Clock& clock, LongPolls& polls);

  const auth::Authenticator& auth() const { return auth_; }
  clock::Clock& clock() const { return clock_; }

  // The seeds' variant route: any two segments no other route has.
  static constexpr char kSeedVariantPath[] = "/:image_id/:variant";

  // --- images (image_handlers.cc) ---
  void UploadImage(RequestContext& ctx, const Request& req, ResponseWriter w);
  void GetImage(RequestContext& ctx, const Request& req, ResponseWriter w);
  void GetImageContent(RequestContext& ctx, const Request& req, ResponseWriter w);
  void ListImages(RequestContext& ctx, const Request& req, ResponseWriter w);
  void DeleteImage(RequestContext& ctx, const Request& req, ResponseWriter w);

  // --- jobs (job_handlers.cc) ---
  void CreateJob(RequestContext& ctx, const Request& req, ResponseWriter w);
  void GetJob(RequestContext& ctx, const Request& req, ResponseWriter w);
  void GetJobOutput(RequestContext& ctx, const Request& req, ResponseWriter w);
  void RetryJob(RequestContext& ctx, const Request& req, ResponseWriter w);
  void ListJobs(RequestContext& ctx, const Request& req, ResponseWriter w);
  void DeleteJob(RequestContext& ctx, const Request& req, ResponseWriter w);

  // --- batches (batch_handlers.cc) ---
  void CreateBatch(RequestContext& ctx, const Request& req, ResponseWriter w);
  void GetBatch(RequestContext& ctx, const Request& req, ResponseWriter w);

  // --- variants (variant_handlers.cc) ---
  void GetVariant(RequestContext& ctx, const Request& req, ResponseWriter w);

  // --- the seed services' contracts (seed_handlers.cc) ---
  void SeedDownload(RequestContext& ctx, const Request& req, ResponseWriter w);
  void SeedCheck(RequestContext& ctx, const Request& req, ResponseWriter w);
  void SeedUploadFile(RequestContext& ctx, const Request& req, ResponseWriter w);
  void Ping(RequestContext& ctx, const Request& req, ResponseWriter w);
  void SeedVariant(RequestContext& ctx, const Request& req, ResponseWriter w);

  // --- the API description, probes, metrics, and requests no route takes (docs_handlers.cc) ---
  void OpenApi(RequestContext& ctx, const Request& req, ResponseWriter w);
  void Docs(RequestContext& ctx, const Request& req, ResponseWriter w);
  void DocsScript(RequestContext& ctx, const Request& req, ResponseWriter w);
  // --- the workers' queue (queue_handlers.cc) ---
  void GetQueue(RequestContext& ctx, const Request& req, ResponseWriter w);

  // --- the web console (console_handlers.cc) ---
  void Console(RequestContext& ctx, const Request& req, ResponseWriter w);
  void ConsoleAsset(RequestContext& ctx, const Request& req, ResponseWriter w);
  void Healthz(RequestContext& ctx, const Request& req, ResponseWriter w);
  void Health(RequestContext& ctx, const Request& req, ResponseWriter w);
  void Readyz(RequestContext& ctx, const Request& req, ResponseWriter w);
  void Metrics(RequestContext& ctx, const Request& req, ResponseWriter w);
  void NoRoute(RequestContext& ctx, const Request& req, ResponseWriter w);
  // A path some route has, with a method none of its routes has: 405 with Allow.
  void MethodNotAllowed(RequestContext& ctx, const Request& req, ResponseWriter w,
                        const std::string& path,
                        const std::vector<Pistache::Http::Method>& methods);

 private:
  // A job as the API shows it; with a signing key, its output also gets a signed URL.
  json JobJson(const job::JobRecord& record) const;
  // An image as the API shows it; with a signing key, its content also gets a signed URL.
  json ImageJson(const job::ImageMeta& meta) const;
  // A page of a listing (api::ImagePage, api::JobPage): its items as `to_json` shows each, and
  // the token of the next page (null on the last).
  template <typename Listing, typename ToJson>
  static json Page(const Listing& page, ToJson to_json) {
    json items = json::array();
    for (const auto& item : page.items) items.push_back(to_json(item));
    return {{"items", std::move(items)},
            {"nextPageToken",
             page.next_page_token.empty() ? json(nullptr) : json(page.next_page_token)}};
  }
  // An upload as POST /v1/images and POST /upload_file take it (image_handlers.cc).
  absl::StatusOr<api::UploadResult> Upload(const RequestContext& ctx, const Request& req);
  // A JSON or YAML request body as a JSON document, within the JSON size limit (job_handlers.cc).
  absl::StatusOr<json> RequestDocument(const Request& req) const;
  // The request's Idempotency-Key for `kind` (api/idempotency.h), from its headers and body,
  // claimed for this request (api::Service::Claim) while `guard` lives. Errors: those of both.
  struct Claimed {
    api::Idempotency idempotency;
    std::unique_ptr<api::Service::KeyGuard> guard;  // null without a key
  };
  absl::StatusOr<Claimed> ClaimIdempotency(const Request& req, std::string_view kind);
  // The request's ?wait= (long_poll.h's ParseWait, capped at max_wait), or `unset` without one.
  absl::StatusOr<absl::Duration> WaitOf(const Request& req, absl::Duration unset) const;
  // A content-addressed file (an original, an output), cached as auth allows.
  void ServeStored(RequestContext& ctx, ResponseWriter& w,
                   const std::optional<std::string>& if_none_match, const std::string& relative,
                   const std::string& etag_value, const std::string& mime) const;
  // A variant of an image for the two routes that serve them (variant_handlers.cc).
  void ServeVariant(RequestContext& ctx, const Request& req, ResponseWriter w,
                    const std::string& image_id, const std::string& name, const char* route);

  const ServerOptions& options_;
  api::Service& service_;
  probe::ReadyFn ready_;
  auth::Authenticator auth_;
  observability::Metrics& metrics_;
  clock::Clock& clock_;
  LongPolls& polls_;
};

}  // namespace pixq::http
