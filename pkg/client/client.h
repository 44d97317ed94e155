#pragma once

// pixq-api's routes as calls: upload, create a batch, read, wait for and retry a job, list jobs,
// download an output. Answers are the API's JSON as it is (nlohmann::json); failures are
// statuses whose reason is the API's problem `reason` (e.g. "UnsupportedMediaType") with its
// `detail` as the message, or the transport's ("EndpointUnreachable", "StorageError").
//
// Backpressure is honoured: a 429 or 503 with Retry-After is sent again after that many seconds
// (at most 30 a time, on the injected clock), up to `max_backpressure_retries` times.
//
// Thread-safety: as the Transport's; the Client keeps no state between calls.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

#include "pkg/client/transport.h"
#include "pkg/clock/clock.h"

namespace pixq::client {

using nlohmann::json;

struct ClientOptions {
  int max_backpressure_retries = 10;
  // Each long-poll's ?wait= (the API caps it at its http.max_wait_s).
  absl::Duration poll_wait = absl::Seconds(30);
};

class Client final {
 public:
  Client(Transport& transport, clock::Clock& clock, ClientOptions options = {});

  // POST /v1/images with the file streamed as multipart, titled `title` (may be ""). The image's
  // JSON (its "id" among it).
  [[nodiscard]] absl::StatusOr<json> Upload(const std::string& path, const std::string& title);
  // GET /v1/images/{id}: whether the API has the image. Errors: any answer but 200 and 404.
  [[nodiscard]] absl::StatusOr<bool> HasImage(const std::string& id);
  // POST /v1/batches with `body` and an Idempotency-Key ("" for none). The batch's JSON
  // (status.jobIds in the request's order).
  [[nodiscard]] absl::StatusOr<json> CreateBatch(const json& body,
                                                 const std::string& idempotency_key);
  // GET /v1/jobs/{id}, at once (`wait` zero) or as a long-poll until its next change or, with
  // `until_done`, its end.
  [[nodiscard]] absl::StatusOr<json> GetJob(const std::string& id, absl::Duration wait,
                                            bool until_done);
  // Long-polls until the job is Succeeded or Failed and returns it then.
  [[nodiscard]] absl::StatusOr<json> AwaitEnd(const std::string& id);
  // POST /v1/jobs/{id}/retry. The job's JSON (the new attempt).
  [[nodiscard]] absl::StatusOr<json> Retry(const std::string& id);
  // GET /v1/jobs: one page, phases comma-separated ("" for all), `page_token` "" for the first.
  [[nodiscard]] absl::StatusOr<json> ListJobs(const std::string& phases, int limit,
                                              const std::string& page_token);
  // GET /v1/jobs/{id}/output into `file` (written whole or not at all). Errors: the API's
  // (OutputNotReady, JobFailed, …), the transport's.
  [[nodiscard]] absl::Status Download(const std::string& id, const std::string& file);

 private:
  // Sends `call`, again after Retry-After under backpressure; an answer outside 2xx becomes a
  // status from its problem body.
  absl::StatusOr<HttpAnswer> Call(const HttpCall& call);
  static absl::StatusOr<json> Json(const absl::StatusOr<HttpAnswer>& answer);

  Transport& transport_;
  clock::Clock& clock_;
  ClientOptions options_;
};

// The phase of a job's JSON ("Pending", …), "" if absent.
[[nodiscard]] std::string PhaseOf(const json& job);
// Whether that phase is Succeeded or Failed.
[[nodiscard]] bool HasEnded(const json& job);

}  // namespace pixq::client
