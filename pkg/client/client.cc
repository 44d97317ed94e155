#include "pkg/client/client.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

#include "pkg/errors/errors.h"

namespace pixq::client {
namespace {

// A path segment or query value with everything but RFC 3986's unreserved characters escaped.
std::string Escaped(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (absl::ascii_isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

// The canonical code an API status stands for, so that errors::IsRetriable and HttpStatusOf
// read a rebuilt status as the API meant it.
absl::StatusCode CodeOf(int http_status) {
  switch (http_status) {
    case 400:
    case 413:
    case 415:
      return absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 409:
      return absl::StatusCode::kAborted;
    case 422:
      return absl::StatusCode::kFailedPrecondition;
    case 429:
      return absl::StatusCode::kResourceExhausted;
    case 503:
      return absl::StatusCode::kUnavailable;
    default:
      return http_status >= 500 ? absl::StatusCode::kInternal : absl::StatusCode::kUnknown;
  }
}

absl::Status ProblemStatus(const HttpAnswer& answer) {
  const json problem = json::parse(answer.body, nullptr, /*allow_exceptions=*/false);
  std::string reason = absl::StrCat("HTTP", answer.status);
  std::string detail = answer.body.substr(0, 200);
  if (problem.is_object()) {
    if (auto it = problem.find("reason"); it != problem.end() && it->is_string()) {
      reason = it->get<std::string>();
    }
    if (auto it = problem.find("detail"); it != problem.end() && it->is_string()) {
      detail = it->get<std::string>();
    }
  }
  return errors::FromParts(CodeOf(answer.status), reason, detail);
}

}  // namespace

Client::Client(Transport& transport, clock::Clock& clock, ClientOptions options)
    : transport_(transport), clock_(clock), options_(options) {}

absl::StatusOr<HttpAnswer> Client::Call(const HttpCall& call) {
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<HttpAnswer> answer = transport_.Send(call);
    if (!answer.ok()) return answer.status();
    if (answer->status >= 200 && answer->status < 300) return answer;
    int seconds = 0;
    const bool pushed_back = (answer->status == 429 || answer->status == 503) &&
                             absl::SimpleAtoi(answer->Header("retry-after"), &seconds);
    if (!pushed_back || attempt >= options_.max_backpressure_retries) {
      return ProblemStatus(*answer);
    }
    // Nothing was accepted: the same request again once the API said it may be.
    clock_.SleepFor(absl::Seconds(std::clamp(seconds, 1, 30)));
  }
}

absl::StatusOr<json> Client::Json(const absl::StatusOr<HttpAnswer>& answer) {
  if (!answer.ok()) return answer.status();
  json body = json::parse(answer->body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    return errors::Make(errors::Reason::kInternal,
                        absl::StrCat("the API answered ", answer->status, " without JSON"));
  }
  return body;
}

absl::StatusOr<json> Client::Upload(const std::string& path, const std::string& title) {
  HttpCall call{.method = "POST", .path = "/v1/images", .upload_file = path};
  if (!title.empty()) call.fields.emplace_back("title", title);
  return Json(Call(call));
}

absl::StatusOr<bool> Client::HasImage(const std::string& id) {
  absl::StatusOr<HttpAnswer> answer = Call({.path = absl::StrCat("/v1/images/", Escaped(id))});
  if (answer.ok()) return true;
  if (errors::ReasonOf(answer.status()) == "ImageNotFound") return false;
  return answer.status();
}

absl::StatusOr<json> Client::CreateBatch(const json& body, const std::string& idempotency_key) {
  HttpCall call{.method = "POST",
                .path = "/v1/batches",
                .body = body.dump(),
                .content_type = "application/json"};
  if (!idempotency_key.empty()) call.headers.emplace_back("Idempotency-Key", idempotency_key);
  return Json(Call(call));
}

absl::StatusOr<json> Client::GetJob(const std::string& id, absl::Duration wait, bool until_done) {
  std::string path = absl::StrCat("/v1/jobs/", Escaped(id));
  if (wait > absl::ZeroDuration()) {
    absl::StrAppend(&path, "?wait=", absl::ToInt64Milliseconds(wait), "ms");
    if (until_done) absl::StrAppend(&path, "&until=done");
  }
  return Json(Call({.path = path, .timeout = wait + absl::Seconds(30)}));
}

absl::StatusOr<json> Client::AwaitEnd(const std::string& id) {
  while (true) {
    absl::StatusOr<json> job = GetJob(id, options_.poll_wait, /*until_done=*/true);
    if (!job.ok() || HasEnded(*job)) return job;
  }
}

absl::StatusOr<json> Client::Retry(const std::string& id) {
  return Json(Call({.method = "POST", .path = absl::StrCat("/v1/jobs/", Escaped(id), "/retry")}));
}

absl::StatusOr<json> Client::ListJobs(const std::string& phases, int limit,
                                      const std::string& page_token) {
  std::string path = absl::StrCat("/v1/jobs?limit=", limit);
  if (!phases.empty()) absl::StrAppend(&path, "&phase=", Escaped(phases));
  if (!page_token.empty()) {
    absl::StrAppend(&path, "&pageToken=", Escaped(page_token));
  }
  return Json(Call({.path = path}));
}

absl::Status Client::Download(const std::string& id, const std::string& file) {
  absl::StatusOr<HttpAnswer> answer =
      Call({.path = absl::StrCat("/v1/jobs/", Escaped(id), "/output"), .output_file = file});
  return answer.status();
}

std::string PhaseOf(const json& job) {
  if (!job.is_object()) return "";
  auto status = job.find("status");
  if (status == job.end() || !status->is_object()) return "";
  auto phase = status->find("phase");
  return phase != status->end() && phase->is_string() ? phase->get<std::string>() : "";
}

bool HasEnded(const json& job) {
  const std::string phase = PhaseOf(job);
  return phase == "Succeeded" || phase == "Failed";
}

}  // namespace pixq::client
