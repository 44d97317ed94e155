#include "pkg/http/responses.h"

#include <exception>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

#include "pkg/encoding/percent.h"
#include "pkg/errors/errors.h"
#include "pkg/errors/retry_after.h"
#include "pkg/observability/log.h"

namespace pixq::http {
namespace {

using Pistache::Http::Code;

const char* ReasonPhrase(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    default:
      return "Internal Server Error";
  }
}

}  // namespace

json ProblemJson(int status, const std::string& reason, const std::string& detail) {
  return {{"type", absl::StrCat("urn:pixq:problem:", reason)},
          {"title", ReasonPhrase(status)},
          {"status", status},
          {"reason", reason},
          {"detail", detail}};
}

void Send(RequestContext& ctx, ResponseWriter& w, int status, const std::string& body,
          const std::string& content_type) {
  ctx.answered = status;
  try {
    w.send(static_cast<Code>(status), body,
           Pistache::Http::Mime::MediaType::fromString(content_type));
  } catch (const std::exception& e) {
    observability::LogDebug("response not sent", {{"error", e.what()}});
  }
}

void SendJson(RequestContext& ctx, ResponseWriter& w, int status, const json& body) {
  Send(ctx, w, status, body.dump(-1, ' ', false, json::error_handler_t::replace),
       "application/json");
}

void SendProblem(RequestContext& ctx, ResponseWriter& w, const absl::Status& status) {
  const int code = errors::HttpStatusOf(status);
  const std::string reason = errors::ReasonOf(status);
  const json body = ProblemJson(code, reason, std::string(status.message()));
  if (code == 503 || code == 429) {
    // The failure's own hint where its maker knew better (a full backlog drains at the workers'
    // pace, not in a second); else 1 s.
    SetHeader<RetryAfterHeader>(w, std::to_string(errors::RetryAfterOf(status).value_or(1)));
  }
  if (code == 401) {
    SetHeader<WwwAuthenticateHeader>(w, "Bearer realm=\"pixq\"");
  }
  if (code >= 500) {
    observability::LogWarn(
        "request failed",
        {{"status", code}, {"reason", reason}, {"error", std::string(status.message())}});
  }
  Send(ctx, w, code, body.dump(-1, ' ', false, json::error_handler_t::replace),
       "application/problem+json");
}

void SendEmpty(RequestContext& ctx, ResponseWriter& w, int status) {
  ctx.answered = status;
  try {
    w.send(static_cast<Code>(status));
  } catch (const std::exception& e) {
    observability::LogDebug("response not sent", {{"error", e.what()}});
  }
}

void SendNotModified(RequestContext& ctx, ResponseWriter& w) {
  ctx.answered = 304;
  try {
    w.send(Code::Not_Modified);
  } catch (const std::exception&) {
  }
}

void ServeImmutable(RequestContext& ctx, ResponseWriter& w,
                    const std::optional<std::string>& if_none_match, const std::string& path,
                    const std::string& etag_value, const std::string& mime, bool private_cache) {
  const std::string etag = absl::StrCat("\"", etag_value, "\"");
  SetHeader<ETagHeader>(w, etag);
  // With auth on, the bytes are for key holders (or one signed URL's holder, until it expires):
  // no shared cache may keep them for others.
  SetHeader<CacheControlHeader>(w, private_cache ? "private, max-age=31536000, immutable"
                                                 : "public, max-age=31536000, immutable");
  if (if_none_match && if_none_match->find(etag) != std::string::npos) {
    SendNotModified(ctx, w);
    return;
  }
  try {
    ctx.answered = 200;
    Pistache::Http::serveFile(w, path, Pistache::Http::Mime::MediaType::fromString(mime));
  } catch (const std::exception& e) {
    // The bytes are gone (expired or deleted) although the record still names them.
    SendProblem(ctx, w, errors::Make(errors::Reason::kContentGone, "the file is no longer stored"));
  }
}

std::optional<std::string> QueryParam(const Request& req, const std::string& name) {
  return req.query().get(name);
}

std::optional<std::string> DecodedParam(const Request& req, const std::string& name) {
  std::optional<std::string> raw = QueryParam(req, name);
  if (!raw) return raw;
  return encoding::PercentDecodeQuery(*raw);
}

std::optional<std::string> HeaderValue(const Request& req, const std::string& name) {
  if (auto raw = req.headers().tryGetRaw(name)) return raw->value();
  return std::nullopt;
}

std::string ContentTypeOf(const Pistache::Http::Request& req) {
  auto typed = req.headers().tryGet<Pistache::Http::Header::ContentType>();
  if (!typed) return "";
  const Pistache::Http::Mime::MediaType& mime = typed->mime();
  std::string value = mime.toString();
  // Keep only "type/subtype"; the boundary parameter is added back where it matters.
  if (auto semi = value.find(';'); semi != std::string::npos) value.resize(semi);
  value = absl::AsciiStrToLower(absl::StripAsciiWhitespace(value));
  if (value.rfind("multipart/", 0) == 0) {
    if (auto boundary = mime.getParam("boundary")) {
      value = absl::StrCat(value, "; boundary=\"", *boundary, "\"");
    }
  }
  return value;
}

}  // namespace pixq::http
