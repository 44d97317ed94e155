#pragma once

// Reading requests and writing answers, for every handler of pixq-api: the response headers
// Pistache has no type for, JSON and problem+json (RFC 9457) answers, files, query parameters and
// request headers. Every Send* records the status it sent in the request's context (for the
// request metrics) and swallows the errors of a connection the client already closed.

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"
#include <pistache/http.h>
#include <pistache/router.h>

#include "pkg/http/request_context.h"

namespace pixq::http {

using nlohmann::json;
using Pistache::Http::ResponseWriter;
using Pistache::Rest::Request;

// Pistache writes only typed headers into responses; these carry the values Pistache has no type
// for. Headers Pistache knows (Content-Type, Location) use its own types: Pistache casts a header
// to its type by name, so a look-alike under such a name would be written through the wrong type.
#define PIXQ_RESPONSE_HEADER(Class, header_name)                    \
  class Class final : public Pistache::Http::Header::Header {       \
   public:                                                          \
    NAME(header_name)                                               \
    Class() = default;                                              \
    explicit Class(std::string value) : value_(std::move(value)) {} \
    void parse(const std::string& data) override { value_ = data; } \
    void write(std::ostream& os) const override { os << value_; }   \
                                                                    \
   private:                                                         \
    std::string value_;                                             \
  };

PIXQ_RESPONSE_HEADER(ETagHeader, "ETag")
PIXQ_RESPONSE_HEADER(CacheControlHeader, "Cache-Control")
PIXQ_RESPONSE_HEADER(RetryAfterHeader, "Retry-After")
PIXQ_RESPONSE_HEADER(WwwAuthenticateHeader, "WWW-Authenticate")
PIXQ_RESPONSE_HEADER(ContentSecurityPolicyHeader, "Content-Security-Policy")
PIXQ_RESPONSE_HEADER(ContentTypeOptionsHeader, "X-Content-Type-Options")
PIXQ_RESPONSE_HEADER(ReferrerPolicyHeader, "Referrer-Policy")

#undef PIXQ_RESPONSE_HEADER

// Sets a header of the answer, replacing any earlier value.
template <typename H>
void SetHeader(ResponseWriter& w, std::string value) {
  w.headers().remove<H>();
  w.headers().add<H>(std::move(value));
}

// The problem+json body (RFC 9457) with pixq's stable reason: type, title, status, reason, detail.
[[nodiscard]] json ProblemJson(int status, const std::string& reason, const std::string& detail);

void Send(RequestContext& ctx, ResponseWriter& w, int status, const std::string& body,
          const std::string& content_type);
void SendJson(RequestContext& ctx, ResponseWriter& w, int status, const json& body);
// The failure as problem+json, with its HTTP status (errors::HttpStatusOf); Retry-After on 429
// and 503 (errors::RetryAfterOf, else 1), WWW-Authenticate on 401; a 5xx is logged.
void SendProblem(RequestContext& ctx, ResponseWriter& w, const absl::Status& status);
// A 2xx answer without a body.
void SendEmpty(RequestContext& ctx, ResponseWriter& w, int status);
// 304 Not Modified.
void SendNotModified(RequestContext& ctx, ResponseWriter& w);

// Serves a content-addressed file: strong ETag (`etag_value` quoted), cached for a year (by the
// client alone when `private_cache`), 304 on a matching If-None-Match. The file goes out with
// sendfile, never through a string; a file no longer there answers 404 ContentGone.
void ServeImmutable(RequestContext& ctx, ResponseWriter& w,
                    const std::optional<std::string>& if_none_match, const std::string& path,
                    const std::string& etag_value, const std::string& mime, bool private_cache);

// A query parameter as sent (Pistache hands query values over undecoded).
[[nodiscard]] std::optional<std::string> QueryParam(const Request& req, const std::string& name);
// A query parameter, percent-decoded ('+' is a space, as HTML forms send it; a malformed escape
// is kept as it is).
[[nodiscard]] std::optional<std::string> DecodedParam(const Request& req, const std::string& name);
// A request header's raw value.
[[nodiscard]] std::optional<std::string> HeaderValue(const Request& req, const std::string& name);
// The request's media type, "type/subtype" in lowercase; a multipart type keeps its boundary
// (`multipart/form-data; boundary="…"`). "" without a Content-Type.
[[nodiscard]] std::string ContentTypeOf(const Pistache::Http::Request& req);

}  // namespace pixq::http
