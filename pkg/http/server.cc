#include "pkg/http/server.h"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <queue>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/peer.h>
#include <pistache/router.h>
#include <sys/socket.h>

#include "pkg/api/listing.h"
#include "pkg/api/seed.h"
#include "pkg/api/variants.h"
#include "pkg/crypto/sha256.h"
#include "pkg/errors/errors.h"
#include "pkg/http/assets.h"
#include "pkg/http/multipart.h"
#include "pkg/job/document.h"
#include "pkg/job/ids.h"
#include "pkg/job/json.h"
#include "pkg/observability/log.h"

namespace pixq::http {
namespace {

using nlohmann::json;
using Pistache::Http::Code;
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

template <typename H>
void SetHeader(ResponseWriter& w, std::string value) {
  w.headers().remove<H>();
  w.headers().add<H>(std::move(value));
}

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

// The status of the answer the handler running on this thread sent, for the request metrics;
// 0 while it has sent none (a long-poll answers later, from another thread).
thread_local int t_answered = 0;
// The server span of the request the handler running on this thread serves; null if none. A
// handler that answers later (a long-poll) moves the span along with its writer.
thread_local observability::Span* t_span = nullptr;
// Set by a handler that found its route did not apply after all (the seeds' "/:image_id/:variant"
// on a path that is no image's): the request is counted as "unmatched", as it would have been.
thread_local bool t_unmatched = false;
// When the request the handler running on this thread serves began (for an answer sent later).
thread_local absl::Time t_started;
// Sends, swallowing the errors of a connection the client already closed.
void Send(ResponseWriter& w, int status, const std::string& body, const std::string& content_type) {
  t_answered = status;
  try {
    w.send(static_cast<Code>(status), body,
           Pistache::Http::Mime::MediaType::fromString(content_type));
  } catch (const std::exception& e) {
    observability::LogDebug("response not sent", {{"error", e.what()}});
  }
}

void SendJson(ResponseWriter& w, int status, const json& body) {
  Send(w, status, body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

// RFC 9457 problem details with pixq's stable reason.
void SendProblem(ResponseWriter& w, const absl::Status& status) {
  const int code = errors::HttpStatusOf(status);
  const std::string reason = errors::ReasonOf(status);
  json body = {{"type", absl::StrCat("urn:pixq:problem:", reason)},
               {"title", ReasonPhrase(code)},
               {"status", code},
               {"reason", reason},
               {"detail", std::string(status.message())}};
  if (code == 503 || code == 429) {
    SetHeader<RetryAfterHeader>(w, "1");
  }
  if (code == 401) {
    SetHeader<WwwAuthenticateHeader>(w, "Bearer realm=\"pixq\"");
  }
  if (code >= 500) {
    observability::LogWarn(
        "request failed",
        {{"status", code}, {"reason", reason}, {"error", std::string(status.message())}});
  }
  Send(w, code, body.dump(-1, ' ', false, json::error_handler_t::replace),
       "application/problem+json");
}

std::optional<std::string> QueryParam(const Request& req, const std::string& name) {
  return req.query().get(name);
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

// The image bytes of an upload, hashed while they arrived: where they lie in the body and their
// SHA-256 (lowercase hex).
struct BodyDigest {
  size_t offset = 0;
  size_t size = 0;
  std::string sha256;
};
// That of the request the handler running on this thread serves, if it is an upload.
thread_local std::optional<BodyDigest> t_body_digest;

// An upload's image hashed chunk by chunk as Pistache's parser appends the body, so that its
// digest (the image's id) is ready when the last byte is: the hashing overlaps the receiving
// instead of following it. The image is the whole body of a raw image/* upload, or the part
// named "image" (or "file") of a multipart one. One per connection, for one request at a time.
class ReceivedBodyDigest {
 public:
  // Hashes what the request's body gained since the last call (it only grows within a request).
  // The first call of a request decides from its Content-Type what there is to hash, if anything.
  void Update(const Pistache::Http::Request& request) {
    const std::string& body = request.body();
    if (kind_ == Kind::kUndecided) {
      const std::string type = ContentTypeOf(request);
      if (type.rfind("image/", 0) == 0) {
        kind_ = Kind::kRaw;
      } else if (type.rfind("multipart/form-data", 0) == 0) {
        kind_ = Kind::kMultipart;
        parts_.emplace(type);
      } else {
        kind_ = Kind::kNone;
      }
      if (kind_ != Kind::kNone) hash_.emplace();
    }
    if (kind_ == Kind::kMultipart) {
      hash_->Update(parts_->Feed(body));
    } else if (kind_ == Kind::kRaw && body.size() > hashed_) {
      hash_->Update(std::string_view(body).substr(hashed_));
      hashed_ = body.size();
    }
  }
  // The digest, once the body is all in (nullopt when the body is not an upload's, or a
  // multipart body's image part was not followed to its end); the connection's next request
  // starts afresh.
  std::optional<BodyDigest> Finish(const Pistache::Http::Request& request) {
    Update(request);
    std::optional<BodyDigest> digest;
    if (kind_ == Kind::kRaw) {
      digest = BodyDigest{.offset = 0, .size = request.body().size(), .sha256 = hash_->HexDigest()};
    } else if (auto range = kind_ == Kind::kMultipart ? parts_->Range() : std::nullopt) {
      digest =
          BodyDigest{.offset = range->first, .size = range->second, .sha256 = hash_->HexDigest()};
    }
    Reset();
    return digest;
  }
  // The request was dropped (refused, unparsable): forget what was hashed of it.
  void Reset() {
    kind_ = Kind::kUndecided;
    hash_.reset();
    parts_.reset();
    hashed_ = 0;
  }

 private:
  // What the request's body holds to hash: a raw image/* body whole, a multipart body's image
  // part, or nothing (any other POST).
  enum class Kind { kUndecided, kRaw, kMultipart, kNone };
  Kind kind_ = Kind::kUndecided;
  std::optional<crypto::Sha256> hash_;
  std::optional<MultipartImageStream> parts_;
  size_t hashed_ = 0;  // raw bodies: how much of the body is hashed
};

std::string ImageMime(job::Format format) { return job::FormatMimeType(format); }

// A query parameter's value as sent, percent-decoded ('+' is a space, as HTML forms send it).
// Pistache hands query values over undecoded. A malformed escape is kept as it is.
std::string PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < text.size() && absl::ascii_isxdigit(text[i + 1]) &&
               absl::ascii_isxdigit(text[i + 2])) {
      auto hex = [](char h) { return absl::ascii_isdigit(h) ? h - '0' : (h | 0x20) - 'a' + 10; };
      out.push_back(static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// The /docs page may load only what pixq-api serves itself: its script, the description it
// renders, and the styles and search worker Redoc makes on the page. Nothing from elsewhere.
constexpr char kDocsContentSecurityPolicy[] =
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self' "
    "'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// A request answered after its handler returned, from another thread: its writer and server span
// move here from the handler, with what the request metrics need.
struct Reply {
  std::shared_ptr<ResponseWriter> writer;
  observability::Span span;  // the request's server span, ended with the answer
  absl::Time started;
  std::string route;  // the route's template
  std::string method = "GET";
};

// A long-poll in flight: answered exactly once, by a status change or by its deadline.
struct Waiter : Reply {
  std::mutex mu;
  bool done = false;
  std::string id;
  uint64_t token = 0;
  absl::Time deadline;
  // Set for a variant's wait: it answers once the job has Succeeded or Failed (or at the
  // deadline, with what is known then; an empty record when the job is not in the table), not at
  // the first change, and says how. Unset: GET /v1/jobs/{id}?wait=.
  std::function<void(ResponseWriter&, const job::JobRecord&)> answer;
};

// Pistache's router, with request bodies bounded before they are read. Pistache alone answers a
// request over its maximum size with 413 but keeps the connection and parses the rest of the body
// as new requests: a 200 MB upload kept a core busy for over a minute. Here a Content-Length over
// the limit is refused as soon as the headers are in, and any request that outgrows the limit
// gets a problem+json 413 and its connection closed; the bytes still arriving are dropped unread.
//
// The input path is Pistache 0.0.5's Http::Handler::onInput (private there, so restated here)
// with the two checks added, and HTTP/1.1's persistent connections by default. One clone per
// reactor thread; a peer stays on one thread, so the per-peer state needs no lock.
class BoundedRouterHandler final : public Pistache::Rest::Private::RouterHandler {
 public:
  HTTP_PROTOTYPE(BoundedRouterHandler)

  BoundedRouterHandler(const Pistache::Rest::Router& router, int64_t max_body_bytes)
      : RouterHandler(router), max_body_bytes_(max_body_bytes) {}

  void onInput(const char* buffer, size_t len,
               const std::shared_ptr<Pistache::Tcp::Peer>& peer) override {
    if (peer->tryGetData(kRefused) != nullptr) return;  // closing; what still arrives is dropped
    auto parser = getParser(peer);
    // Read-only, and it must stay so: Pistache 0.0.5's non-const Message::body() returns the body
    // by value, so on a mutable Request every `request.body()` below would copy all of the body
    // received so far, once per chunk of at most 4 KiB it arrives in: quadratic in the body's size
    // (a 36 MP PNG upload took over a minute under ASan). The const overload returns a reference.
    const Pistache::Http::Request& request = parser->request;
    try {
      if (!parser->feed(buffer, len)) {
        parser->reset();
        ForgetBody(peer);
        Refuse(peer, request.version());
        return;
      }
      const Pistache::Http::Private::State state = parser->parse();
      // An upload's image is hashed as its body arrives (what a POST's body holds is decided once).
      ReceivedBodyDigest* digest =
          request.method() == Pistache::Http::Method::Post && !request.body().empty()
              ? DigestOf(peer)
              : nullptr;
      if (state == Pistache::Http::Private::State::Done) {
        ResponseWriter response(request.version(), transport(), this, peer);
        parser->request.copyAddress(peer->address());
        response.headers().add<Pistache::Http::Header::Connection>(ConnectionOf(request));
        peer->setIdle(false);
        // Always set (or cleared), so no request sees another's.
        t_body_digest = digest != nullptr ? digest->Finish(request) : std::nullopt;
        onRequest(request, std::move(response));
        t_body_digest.reset();
        parser->reset();
        return;
      }
      if (digest != nullptr) digest->Update(request);
      // Headers read, body still coming: refuse a declared length over the limit right away.
      auto length = request.headers().tryGet<Pistache::Http::Header::ContentLength>();
      if (length && static_cast<int64_t>(length->value()) > max_body_bytes_) {
        parser->reset();
        ForgetBody(peer);
        Refuse(peer, request.version());
      }
    } catch (const Pistache::Http::HttpError& err) {
      // A request Pistache cannot parse (bad request line, bad header).
      ResponseWriter response(request.version(), transport(), this, peer);
      SendProblem(response, errors::Invalid("MalformedRequest", err.reason()));
      parser->reset();
      ForgetBody(peer);
    } catch (const std::exception& e) {
      ResponseWriter response(request.version(), transport(), this, peer);
      SendProblem(response, errors::Internal("InternalError", e.what()));
      parser->reset();
      ForgetBody(peer);
    }
  }

 private:
  // Marks a connection being closed, on the connection itself (gone with it, however it goes).
  static constexpr char kRefused[] = "pixq.refused";
  // The connection's ReceivedBodyDigest (made with its first upload; gone with it).
  static constexpr char kBodyDigest[] = "pixq.body-digest";

  static ReceivedBodyDigest* DigestOf(const std::shared_ptr<Pistache::Tcp::Peer>& peer) {
    std::shared_ptr<void> data = peer->tryGetData(kBodyDigest);
    if (data == nullptr) {
      data = std::make_shared<ReceivedBodyDigest>();
      peer->putData(kBodyDigest, data);
    }
    return static_cast<ReceivedBodyDigest*>(data.get());
  }
  static void ForgetBody(const std::shared_ptr<Pistache::Tcp::Peer>& peer) {
    if (std::shared_ptr<void> data = peer->tryGetData(kBodyDigest)) {
      static_cast<ReceivedBodyDigest*>(data.get())->Reset();
    }
  }

  // What the client asked for, else what its HTTP version implies: an HTTP/1.1 connection
  // persists unless either side says "close" (RFC 9112, section 9.3). Pistache 0.0.5 answers
  // "Connection: Close" to any request without the header, so every client that relies on the
  // default (curl, wrk, browsers, most HTTP libraries) had to connect again for each request,
  // which cost both sides more than the request itself.
  static Pistache::Http::ConnectionControl ConnectionOf(const Pistache::Http::Request& request) {
    if (auto asked = request.headers().tryGet<Pistache::Http::Header::Connection>()) {
      return asked->control();
    }
    return request.version() == Pistache::Http::Version::Http11
               ? Pistache::Http::ConnectionControl::KeepAlive
               : Pistache::Http::ConnectionControl::Close;
  }

  void Refuse(const std::shared_ptr<Pistache::Tcp::Peer>& peer, Pistache::Http::Version version) {
    peer->putData(kRefused, std::make_shared<bool>(true));
    ResponseWriter response(version, transport(), this, peer);
    response.headers().add<Pistache::Http::Header::Connection>(
        Pistache::Http::ConnectionControl::Close);
    const json body = {{"type", "urn:pixq:problem:PayloadTooLarge"},
                       {"title", ReasonPhrase(413)},
                       {"status", 413},
                       {"reason", "PayloadTooLarge"},
                       {"detail", absl::StrCat("requests are limited to ", max_body_bytes_,
                                               " bytes; the connection is closed")}};
    // Once the answer is written the socket is shut down, and Pistache, seeing it end, removes
    // the connection. Shut through the Peer only while it is alive: its fd may be reused after.
    std::weak_ptr<Pistache::Tcp::Peer> weak = peer;
    auto shut = [weak] {
      if (auto alive = weak.lock()) ::shutdown(alive->fd(), SHUT_RDWR);
    };
    try {
      response
          .send(Code::Request_Entity_Too_Large, body.dump(),
                Pistache::Http::Mime::MediaType::fromString("application/problem+json"))
          .then([shut](ssize_t) { shut(); }, [shut](std::exception_ptr) { shut(); });
    } catch (const std::exception& e) {
      shut();
    }
    observability::LogInfo("request refused: too large", {{"limit", max_body_bytes_}});
  }

  int64_t max_body_bytes_;
};

}  // namespace

std::string OpenApiPath(std::string_view pistache_path) {
  std::string out;
  out.reserve(pistache_path.size() + 2);
  size_t i = 0;
  while (i < pistache_path.size()) {
    const size_t end = std::min(pistache_path.find('/', i), pistache_path.size());
    const std::string_view segment = pistache_path.substr(i, end - i);
    if (!segment.empty() && segment.front() == ':') {
      absl::StrAppend(&out, "{", errors::Sv(segment.substr(1)), "}");
    } else {
      out.append(segment);
    }
    if (end < pistache_path.size()) out.push_back('/');
    i = end + 1;
  }
  return out;
}

absl::StatusOr<absl::Duration> ParseWait(std::string_view text, absl::Duration max) {
  std::string s = absl::AsciiStrToLower(absl::StripAsciiWhitespace(errors::Sv(text)));
  absl::Duration d;
  int64_t seconds = 0;
  if (absl::SimpleAtoi(s, &seconds)) {
    d = absl::Seconds(seconds);
  } else if (!absl::ParseDuration(s, &d)) {
    return errors::Invalid("InvalidArgument", "wait: must be a duration such as 10s, 1500ms or 2m");
  }
  if (d < absl::ZeroDuration()) {
    return errors::Invalid("InvalidArgument", "wait: must not be negative");
  }
  return std::min(d, max);
}

struct ApiServer::Impl {
  ServerOptions options;
  api::Service& service;
  state::JobTable& jobs;
  ReadyFn ready;
  auth::Authenticator auth;
  std::unique_ptr<Pistache::Http::Endpoint> endpoint;
  Pistache::Rest::Router router;

  // Long-polls by deadline; one thread answers the ones whose time ran out.
  std::mutex waiters_mu;
  std::condition_variable waiters_cv;
  std::multimap<absl::Time, std::shared_ptr<Waiter>> waiters;
  bool stopping = false;
  std::thread deadline_thread;
  // Answers to come from other threads (job submissions Kafka has not settled yet); Shutdown
  // waits for them. Under waiters_mu.
  int later_pending = 0;

  observability::Metrics& metrics;
  observability::Tracer& tracer;

  Impl(ServerOptions o, api::Service& s, state::JobTable& j, ReadyFn r, observability::Metrics& m,
       observability::Tracer& t)
      : options(std::move(o)),
        service(s),
        jobs(j),
        ready(std::move(r)),
        auth(options.auth),
        metrics(m),
        tracer(t) {}

  using Handler = void (Impl::*)(const Request&, ResponseWriter);

  static constexpr char kSeedVariantPath[] = "/:image_id/:variant";

  struct Route {
    Pistache::Http::Method method;
    const char* path;
    Handler handler;
    RouteAccess access;
  };

  // Every route, each once: registered from here, and listed by RegisteredRoutes() for the test
  // that holds pkg/http/openapi.json to them. Probes and scrapes are open (kubelet and Prometheus
  // carry no key), and so are the API description and its page; originals and outputs may be
  // fetched with a signed URL instead of a key, so that their URL can be handed on.
  static const std::vector<Route>& Table() {
    using Pistache::Http::Method;
    static const std::vector<Route> kRoutes = {
        {Method::Post, "/v1/images", &Impl::UploadImage, RouteAccess::kKey},
        {Method::Get, "/v1/images/:id", &Impl::GetImage, RouteAccess::kKey},
        {Method::Get, "/v1/images/:id/content", &Impl::GetImageContent,
         RouteAccess::kKeyOrSignature},
        {Method::Post, "/v1/jobs", &Impl::CreateJob, RouteAccess::kKey},
        {Method::Get, "/v1/jobs/:id", &Impl::GetJob, RouteAccess::kKey},
        {Method::Get, "/v1/jobs/:id/output", &Impl::GetJobOutput, RouteAccess::kKeyOrSignature},
        {Method::Post, "/v1/batches", &Impl::CreateBatch, RouteAccess::kKey},
        {Method::Get, "/v1/batches/:id", &Impl::GetBatch, RouteAccess::kKey},
        // The catalogue, job listings and variants.
        {Method::Get, "/v1/images", &Impl::ListImages, RouteAccess::kKey},
        {Method::Delete, "/v1/images/:id", &Impl::DeleteImage, RouteAccess::kKey},
        {Method::Get, "/v1/images/:id/:variant", &Impl::GetVariant, RouteAccess::kKey},
        {Method::Get, "/v1/jobs", &Impl::ListJobs, RouteAccess::kKey},
        {Method::Delete, "/v1/jobs/:id", &Impl::DeleteJob, RouteAccess::kKey},
        // The seed services' contracts, at the root as they served them. Pistache tries fixed
        // segments before parameters (and backtracks), so "/:image_id/:variant" takes only the
        // two-segment paths no other route has; its handler answers RouteNotFound unless the
        // first segment is an image id.
        {Method::Post, "/download", &Impl::SeedDownload, RouteAccess::kKey},
        {Method::Get, "/check/:task_id", &Impl::SeedCheck, RouteAccess::kKey},
        {Method::Post, "/upload_file", &Impl::SeedUploadFile, RouteAccess::kKey},
        {Method::Get, "/ping", &Impl::Ping, RouteAccess::kOpen},
        {Method::Get, kSeedVariantPath, &Impl::SeedVariant, RouteAccess::kKey},
        {Method::Get, "/healthz", &Impl::Healthz, RouteAccess::kOpen},
        {Method::Get, "/readyz", &Impl::Readyz, RouteAccess::kOpen},
        {Method::Get, "/health", &Impl::Health, RouteAccess::kOpen},
        {Method::Get, "/metrics", &Impl::Metrics, RouteAccess::kOpen},
        {Method::Get, "/openapi.json", &Impl::OpenApi, RouteAccess::kOpen},
        {Method::Get, "/docs", &Impl::Docs, RouteAccess::kOpen},
        {Method::Get, "/docs/redoc.standalone.js", &Impl::DocsScript, RouteAccess::kOpen},
    };
    return kRoutes;
  }

  // Whether the request may go on; answers it (401/403) when not.
  bool Admit(RouteAccess access, const Request& req, ResponseWriter& w) {
    if (!auth.enabled() || access == RouteAccess::kOpen) return true;
    absl::Status admitted;
    auto signature = QueryParam(req, "signature");
    if (signature && access == RouteAccess::kKeyOrSignature) {
      admitted = auth.CheckSignature(req.resource(), QueryParam(req, "expires").value_or(""),
                                     *signature, absl::Now());
    } else {
      admitted = auth.CheckKey(HeaderValue(req, "Authorization"), HeaderValue(req, "X-API-Key"));
    }
    if (admitted.ok()) return true;
    SendProblem(w, admitted);
    return false;
  }

  // A job as the API shows it; with a signing key, its output also gets a signed URL.
  json JobJson(const job::JobRecord& record) const {
    json out = job::ToApiJson(record);
    if (auth.signs_urls() && out.contains("status") && out["status"].contains("output") &&
        out["status"]["output"].contains("url")) {
      out["status"]["output"]["signedUrl"] =
          auth.SignPath(out["status"]["output"]["url"].get<std::string>(), absl::Now());
    }
    return out;
  }

  // An image as the API shows it; with a signing key, its content also gets a signed URL.
  json ImageJson(const job::ImageMeta& meta) const {
    json out = job::ToApiJson(meta);
    if (auth.signs_urls() && out.contains("contentUrl")) {
      out["signedContentUrl"] = auth.SignPath(out["contentUrl"].get<std::string>(), absl::Now());
    }
    return out;
  }

  // Wraps a handler: nothing it throws escapes into Pistache, every answer it sends is counted
  // under the route's template, and (open routes aside: probes, scrapes, docs) it runs in a server
  // span that continues the client's traceparent, with the trace ids on its log lines.
  Pistache::Rest::Route::Handler Guard(
      std::string route, RouteAccess access,
      std::function<void(Impl&, const Request&, ResponseWriter)> fn) {
    const bool traced = access != RouteAccess::kOpen;
    return [this, fn, route, access, traced](const Request& req, ResponseWriter w) {
      const absl::Time start = absl::Now();
      t_started = start;
      const std::string method = Pistache::Http::methodString(req.method());
      t_answered = 0;
      t_unmatched = false;
      observability::Span span;
      std::optional<observability::LogContext> log_context;
      if (traced) {
        std::optional<observability::SpanContext> parent;
        if (auto header = HeaderValue(req, "traceparent")) {
          parent = observability::ParseTraceparent(*header);
        }
        span = tracer.StartSpan(absl::StrCat(method, " ", route), observability::SpanKind::kServer,
                                parent ? &*parent : nullptr, start);
        span.SetAttribute("http.request.method", method);
        span.SetAttribute("http.route", route);
        span.SetAttribute("url.path", req.resource());
        t_span = &span;
        log_context.emplace(observability::Fields{{"trace_id", span.context().TraceIdHex()},
                                                  {"span_id", span.context().SpanIdHex()}});
      }
      try {
        if (Admit(access, req, w)) fn(*this, req, std::move(w));
      } catch (const std::exception& e) {
        observability::LogError("handler threw", {{"error", e.what()}});
        // The writer may have been moved away; nothing more can be sent then.
      }
      t_span = nullptr;
      if (t_answered != 0) {
        metrics.ObserveHttpRequest(t_unmatched ? "unmatched" : route, method, t_answered,
                                   absl::ToDoubleSeconds(absl::Now() - start));
        span.SetAttribute("http.response.status_code", int64_t{t_answered});
        if (t_answered >= 500) span.SetError(absl::StrCat("answered ", t_answered));
      }
      return Pistache::Rest::Route::Result::Ok;
    };
  }

  void Routes() {
    for (const Route& route : Table()) {
      router.addRoute(route.method, route.path, Guard(route.path, route.access, route.handler));
    }
    // With auth on, a key is asked for before a missing route is reported.
    router.addNotFoundHandler(Guard("unmatched", RouteAccess::kKey, &Impl::NoRoute));
    // A path some route has, asked with a method it does not have: 405 with Allow, as problem+json
    // (Pistache would answer in plain text). Every method then has every path, so each finds the
    // same template for a request path as the methods that serve it.
    std::map<std::string, std::vector<Pistache::Http::Method>> allowed;
    for (const Route& route : Table()) allowed[route.path].push_back(route.method);
    using Pistache::Http::Method;
    for (const auto& [path, methods] : allowed) {
      for (Method method : {Method::Get, Method::Post, Method::Put, Method::Patch, Method::Delete,
                            Method::Options}) {
        if (std::find(methods.begin(), methods.end(), method) != methods.end()) continue;
        router.addRoute(method, path,
                        Guard(path, RouteAccess::kKey,
                              [path = path, methods = methods](Impl& self, const Request& req,
                                                               ResponseWriter w) {
                                self.MethodNotAllowed(req, std::move(w), path, methods);
                              }));
      }
    }
  }

  void MethodNotAllowed(const Request& req, ResponseWriter w, const std::string& path,
                        const std::vector<Pistache::Http::Method>& methods) {
    // The seeds' "/:image_id/:variant" has any two segments: only an image id makes it that path.
    if (path == kSeedVariantPath && !job::IsSha256Hex(req.param(":image_id").as<std::string>())) {
      NoRoute(req, std::move(w));
      return;
    }
    w.headers().add<Pistache::Http::Header::Allow>(methods);
    std::string names;
    for (Pistache::Http::Method method : methods) {
      absl::StrAppend(&names, names.empty() ? "" : ", ", Pistache::Http::methodString(method));
    }
    SendProblem(w,
                errors::Make(absl::StatusCode::kUnimplemented, "MethodNotAllowed",
                             absl::StrCat(Pistache::Http::methodString(req.method()), " ",
                                          req.resource(), ": not a method of this path; ", names)));
  }

  void NoRoute(const Request& req, ResponseWriter w) {
    t_unmatched = true;
    SendProblem(w,
                errors::NotFound("RouteNotFound", absl::StrCat("no route for ", req.resource())));
  }

  void Metrics(const Request&, ResponseWriter w) {
    metrics.SetReady(ready().ok());
    Send(w, 200, metrics.Render(), "text/plain; version=0.0.4");
  }

  // --- the API description and its page ---------------------------------------------------

  void OpenApi(const Request& req, ResponseWriter w) {
    ServeAsset(req, std::move(w), OpenApiJson(), "application/json");
  }

  void Docs(const Request& req, ResponseWriter w) {
    SetHeader<ContentSecurityPolicyHeader>(w, kDocsContentSecurityPolicy);
    SetHeader<ReferrerPolicyHeader>(w, "no-referrer");
    ServeAsset(req, std::move(w), DocsPage(), "text/html; charset=utf-8");
  }

  void DocsScript(const Request& req, ResponseWriter w) {
    ServeAsset(req, std::move(w), http::DocsScript(), "text/javascript; charset=utf-8");
  }

  // A built-in file: strong ETag, revalidated on every use (it changes with the binary), 304 on
  // a matching If-None-Match.
  void ServeAsset(const Request& req, ResponseWriter w, const Asset& asset,
                  const std::string& mime) {
    const std::string etag = absl::StrCat("\"", errors::Sv(asset.sha256), "\"");
    SetHeader<ETagHeader>(w, etag);
    SetHeader<CacheControlHeader>(w, "no-cache");
    SetHeader<ContentTypeOptionsHeader>(w, "nosniff");
    if (auto inm = HeaderValue(req, "If-None-Match"); inm && inm->find(etag) != std::string::npos) {
      t_answered = 304;
      try {
        w.send(Code::Not_Modified);
      } catch (const std::exception&) {
      }
      return;
    }
    Send(w, 200, std::string(asset.bytes), mime);
  }

  // --- probes -----------------------------------------------------------------------------

  void Healthz(const Request&, ResponseWriter w) { SendJson(w, 200, {{"status", "ok"}}); }

  void Health(const Request&, ResponseWriter w) { Send(w, 200, "OK", "text/plain"); }

  void Readyz(const Request&, ResponseWriter w) {
    absl::Status status = ready();
    if (!status.ok()) {
      SendProblem(w, status);
      return;
    }
    SendJson(w, 200, {{"status", "ready"}});
  }

  // --- images -----------------------------------------------------------------------------

  void UploadImage(const Request& req, ResponseWriter w) {
    absl::StatusOr<api::UploadResult> result = Upload(req);
    if (!result.ok()) {
      SendProblem(w, result.status());
      return;
    }
    w.headers().add<Pistache::Http::Header::Location>(absl::StrCat("/v1/images/", result->meta.id));
    SendJson(w, result->created ? 201 : 200, ImageJson(result->meta));
  }

  // An upload as POST /v1/images and POST /upload_file take it: multipart (`image` or `file`,
  // and `title`) or the raw bytes.
  absl::StatusOr<api::UploadResult> Upload(const Request& req) {
    const std::string& body = req.body();
    if (static_cast<int64_t>(body.size()) > options.max_body_bytes) {
      return errors::Invalid("PayloadTooLarge", absl::StrCat("uploads are limited to ",
                                                             options.max_body_bytes, " bytes"));
    }
    const std::string content_type = ContentTypeOf(req);
    std::string_view bytes;
    // Percent-decoded: Pistache hands query values over as sent ("Big%20Cat").
    std::string title = DecodedParam(req, "title").value_or("");
    std::string filename = DecodedParam(req, "filename").value_or("");
    if (content_type.rfind("multipart/form-data", 0) == 0) {
      absl::StatusOr<std::vector<MultipartPart>> parts = ParseMultipart(content_type, body);
      if (!parts.ok()) return parts.status();
      bool found = false;
      for (const MultipartPart& part : *parts) {
        if ((part.name == "image" || part.name == "file") && !found) {
          bytes = part.body;
          filename = part.filename;
          found = true;
        } else if (part.name == "title") {
          title = std::string(part.body);
        }
      }
      if (!found) {
        return errors::Invalid("MissingImage", "multipart upload needs a part named \"image\"");
      }
    } else {
      bytes = body;
    }
    if (bytes.empty()) return errors::Invalid("EmptyBody", "no image bytes in the request");
    // Hashed while it arrived (BoundedRouterHandler), if these very bytes were: the image's id.
    std::optional<std::string> sha256;
    if (t_body_digest && bytes.data() == body.data() + t_body_digest->offset &&
        bytes.size() == t_body_digest->size) {
      sha256 = t_body_digest->sha256;
    }
    return service.UploadImage(bytes, std::move(title), std::move(filename), sha256);
  }

  void GetImage(const Request& req, ResponseWriter w) {
    absl::StatusOr<job::ImageMeta> meta = service.GetImage(req.param(":id").as<std::string>());
    if (!meta.ok()) {
      SendProblem(w, meta.status());
      return;
    }
    SendJson(w, 200, ImageJson(*meta));
  }

  void GetImageContent(const Request& req, ResponseWriter w) {
    absl::StatusOr<job::ImageMeta> meta = service.GetImage(req.param(":id").as<std::string>());
    if (!meta.ok()) {
      SendProblem(w, meta.status());
      return;
    }
    const std::string path =
        absl::StrCat(options.storage_root, "/originals/", meta->id.substr(0, 2), "/", meta->id);
    ServeImmutable(req, std::move(w), path, meta->id, ImageMime(meta->format));
  }

  // Serves a content-addressed file: strong ETag, cached for a year, 304 on a matching
  // If-None-Match. The file goes out with sendfile, never through a string.
  void ServeImmutable(const Request& req, ResponseWriter w, const std::string& path,
                      const std::string& etag_value, const std::string& mime) {
    ServeImmutable(w, HeaderValue(req, "If-None-Match"), path, etag_value, mime);
  }

  // The same, to a writer kept for later (a variant's wait), with the request's If-None-Match.
  void ServeImmutable(ResponseWriter& w, const std::optional<std::string>& if_none_match,
                      const std::string& path, const std::string& etag_value,
                      const std::string& mime) {
    const std::string etag = absl::StrCat("\"", etag_value, "\"");
    SetHeader<ETagHeader>(w, etag);
    // With auth on, the bytes are for key holders (or one signed URL's holder, until it expires):
    // no shared cache may keep them for others.
    SetHeader<CacheControlHeader>(w, auth.enabled() ? "private, max-age=31536000, immutable"
                                                    : "public, max-age=31536000, immutable");
    if (if_none_match && if_none_match->find(etag) != std::string::npos) {
      t_answered = 304;
      try {
        w.send(Code::Not_Modified);
      } catch (const std::exception&) {
      }
      return;
    }
    try {
      t_answered = 200;
      Pistache::Http::serveFile(w, path, Pistache::Http::Mime::MediaType::fromString(mime));
    } catch (const std::exception& e) {
      // The bytes are gone (expired or deleted) although the record still names them.
      SendProblem(w, errors::NotFound("ContentGone", "the file is no longer stored"));
    }
  }

  // --- jobs -------------------------------------------------------------------------------

  // A JSON or YAML request body as a JSON document, within the JSON size limit.
  absl::StatusOr<json> RequestDocument(const Request& req) {
    const std::string& body = req.body();
    if (static_cast<int64_t>(body.size()) > options.max_json_bytes) {
      return errors::Invalid("PayloadTooLarge", absl::StrCat("job specs are limited to ",
                                                             options.max_json_bytes, " bytes"));
    }
    std::optional<job::BodyFormat> format = job::BodyFormatOf(ContentTypeOf(req));
    if (!format) {
      return errors::Invalid("UnsupportedMediaType",
                             "send the job as application/json or application/yaml");
    }
    return job::ParseDocument(body, *format);
  }

  // The request's Idempotency-Key scoped to the caller (their API key) and to `kind`, "" without
  // one; and the hash of what was asked. Errors: "InvalidIdempotencyKey" (400).
  absl::StatusOr<std::pair<std::string, std::string>> IdempotencyOf(const Request& req,
                                                                    std::string_view kind) {
    std::optional<std::string> key = HeaderValue(req, "Idempotency-Key");
    if (!key) return std::pair<std::string, std::string>();
    if (key->empty() || key->size() > 255 ||
        !std::all_of(key->begin(), key->end(), [](char c) { return c > 32 && c < 127; })) {
      return errors::Invalid("InvalidIdempotencyKey",
                             "Idempotency-Key must be 1 to 255 visible ASCII characters");
    }
    const std::string caller =
        crypto::Sha256Hex(absl::StrCat(HeaderValue(req, "Authorization").value_or(""), "\n",
                                       HeaderValue(req, "X-API-Key").value_or("")))
            .substr(0, 16);
    // The request's fingerprint, hashed in place: a batch's body may hold its images.
    crypto::Sha256 fingerprint;
    fingerprint.Update(ContentTypeOf(req));
    fingerprint.Update("\n");
    fingerprint.Update(req.body());
    return std::make_pair(absl::StrCat(errors::Sv(kind), ":", caller, ":", *key),
                          fingerprint.HexDigest());
  }

  void CreateJob(const Request& req, ResponseWriter w) {
    absl::StatusOr<json> doc = RequestDocument(req);
    if (!doc.ok()) {
      SendProblem(w, doc.status());
      return;
    }
    absl::StatusOr<job::JobSpec> spec = job::JobSpecFromJson(*doc, service.options().validation);
    if (!spec.ok()) {
      SendProblem(w, spec.status());
      return;
    }
    absl::StatusOr<std::pair<std::string, std::string>> idempotency = IdempotencyOf(req, "job");
    if (!idempotency.ok()) {
      SendProblem(w, idempotency.status());
      return;
    }
    const auto& [key, hash] = *idempotency;
    absl::StatusOr<std::unique_ptr<api::Service::KeyGuard>> claim = service.Claim(key);
    if (!claim.ok()) {
      SendProblem(w, claim.status());
      return;
    }
    if (!key.empty()) {
      // The same request again: the same answer, with the job as it is now.
      absl::StatusOr<std::optional<job::JobRecord>> earlier = service.FindIdempotent(key, hash);
      if (!earlier.ok()) {
        SendProblem(w, earlier.status());
        return;
      }
      if (*earlier) {
        w.headers().add<Pistache::Http::Header::Location>(
            absl::StrCat("/v1/jobs/", (*earlier)->id));
        SendJson(w, (*earlier)->status.cache_hit ? 201 : 202, JobJson(**earlier));
        return;
      }
    }
    // Answered from Kafka's acknowledgement of the job, so no HTTP thread waits for the broker:
    // submissions in flight are bounded by connections, not by http.threads.
    std::optional<observability::SpanContext> parent;
    if (t_span != nullptr) parent = t_span->context();
    std::shared_ptr<Reply> later = AnswerLater(w, "/v1/jobs", "POST");
    if (!later) return;
    std::shared_ptr<api::Service::KeyGuard> guard = *std::move(claim);  // held until answered
    service.CreateJobAsync(*std::move(spec), parent ? &*parent : nullptr,
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
                               body = errors::Internal("Internal", e.what());
                             }
                             // A cache hit is born Succeeded: created and complete (201); otherwise
                             // accepted (202).
                             AnswerNow(*later, body,
                                       record.ok() && record->status.cache_hit ? 201 : 202);
                           });
  }

  // --- batches ----------------------------------------------------------------------------

  json BatchJson(const std::string& id, const std::vector<job::JobRecord>& jobs) const {
    json counts = json::object();
    for (const char* phase : {"Pending", "Running", "Succeeded", "Failed"}) counts[phase] = 0;
    json ids = json::array();
    std::string created_at;
    for (const job::JobRecord& r : jobs) {
      counts[std::string(job::PhaseName(r.status.phase))] =
          counts[std::string(job::PhaseName(r.status.phase))].get<int>() + 1;
      ids.push_back(r.id);
      if (created_at.empty() || r.created_at < created_at) created_at = r.created_at;
    }
    const bool done = counts["Pending"] == 0 && counts["Running"] == 0;
    return {
        {"apiVersion", "pixq/v1"},
        {"kind", "ImageBatch"},
        {"metadata", {{"id", id}, {"createdAt", created_at}}},
        {"status", {{"jobs", jobs.size()}, {"counts", counts}, {"done", done}, {"jobIds", ids}}}};
  }

  // {"jobs": [spec, …]} or {"images": [id, …], "steps": […], "output": {…}, …}: one job per
  // image with the shared rest. Every spec is checked before any job is created.
  absl::StatusOr<std::vector<job::JobSpec>> BatchSpecs(const json& doc) {
    if (!doc.is_object()) return errors::Invalid("InvalidSpec", "a batch must be an object");
    // Counted before anything is copied: the shared part is copied once per image.
    for (const char* list : {"jobs", "images"}) {
      if (doc.contains(list) && doc[list].is_array() && doc[list].size() > api::kMaxBatchJobs) {
        return errors::Make(absl::StatusCode::kFailedPrecondition, "TooManyJobs",
                            absl::StrCat("a batch holds at most ", api::kMaxBatchJobs,
                                         " jobs, got ", doc[list].size()));
      }
    }
    std::vector<json> specs;
    if (doc.contains("jobs")) {
      if (doc.size() != 1 || !doc["jobs"].is_array()) {
        return errors::Invalid("InvalidSpec", "jobs: must be the only field, a list of job specs");
      }
      for (const json& spec : doc["jobs"]) specs.push_back(spec);
    } else if (doc.contains("images")) {
      if (!doc["images"].is_array())
        return errors::Invalid("InvalidSpec", "images: must be a list");
      json shared = doc;
      shared.erase("images");
      for (const json& image : doc["images"]) {
        json spec = shared;
        spec["source"] = {{"imageId", image}};
        specs.push_back(std::move(spec));
      }
    } else {
      return errors::Invalid("InvalidSpec", "a batch needs jobs, or images and the shared steps");
    }
    if (specs.empty()) return errors::Invalid("InvalidSpec", "a batch needs at least one job");
    std::vector<job::JobSpec> parsed;
    for (size_t i = 0; i < specs.size(); ++i) {
      absl::StatusOr<job::JobSpec> spec =
          job::JobSpecFromJson(specs[i], service.options().validation);
      if (!spec.ok()) {
        return errors::Make(spec.status().code(), errors::ReasonOf(spec.status()),
                            absl::StrCat(doc.contains("jobs") ? "jobs[" : "images[", i,
                                         "]: ", spec.status().message()));
      }
      parsed.push_back(*std::move(spec));
    }
    return parsed;
  }

  void CreateBatch(const Request& req, ResponseWriter w) {
    absl::StatusOr<json> doc = RequestDocument(req);
    if (!doc.ok()) {
      SendProblem(w, doc.status());
      return;
    }
    absl::StatusOr<std::vector<job::JobSpec>> specs = BatchSpecs(*doc);
    if (!specs.ok()) {
      SendProblem(w, specs.status());
      return;
    }
    absl::StatusOr<std::pair<std::string, std::string>> idempotency = IdempotencyOf(req, "batch");
    if (!idempotency.ok()) {
      SendProblem(w, idempotency.status());
      return;
    }
    const auto& [key, hash] = *idempotency;
    absl::StatusOr<std::unique_ptr<api::Service::KeyGuard>> claim = service.Claim(key);
    if (!claim.ok()) {
      SendProblem(w, claim.status());
      return;
    }
    absl::StatusOr<api::BatchResult> batch = service.CreateBatch(
        *std::move(specs), t_span != nullptr ? &t_span->context() : nullptr, key, hash);
    if (!batch.ok()) {
      SendProblem(w, batch.status());
      return;
    }
    w.headers().add<Pistache::Http::Header::Location>(absl::StrCat("/v1/batches/", batch->id));
    SendJson(w, 202, BatchJson(batch->id, batch->jobs));
  }

  void GetBatch(const Request& req, ResponseWriter w) {
    const std::string id = req.param(":id").as<std::string>();
    absl::StatusOr<std::vector<job::JobRecord>> jobs = service.GetBatch(id);
    if (!jobs.ok()) {
      SendProblem(w, jobs.status());
      return;
    }
    SendJson(w, 200, BatchJson(id, *jobs));
  }

  void GetJob(const Request& req, ResponseWriter w) {
    const std::string id = req.param(":id").as<std::string>();
    absl::Duration wait = absl::ZeroDuration();
    if (auto text = QueryParam(req, "wait")) {
      absl::StatusOr<absl::Duration> parsed = ParseWait(*text, options.max_wait);
      if (!parsed.ok()) {
        SendProblem(w, parsed.status());
        return;
      }
      wait = *parsed;
    }
    absl::StatusOr<job::JobRecord> record = service.GetJob(id);
    if (!record.ok()) {
      SendProblem(w, record.status());
      return;
    }
    if (wait <= absl::ZeroDuration() || job::IsTerminal(record->status.phase)) {
      SendJson(w, 200, JobJson(*record));
      return;
    }
    LongPoll(std::move(w), *record, wait);
  }

  // Answers when the job's record next changes, or at the deadline with what is known then. With
  // `answer` (a variant), only once the job has Succeeded or Failed, or at the deadline.
  void LongPoll(ResponseWriter w, const job::JobRecord& seen, absl::Duration wait,
                std::function<void(ResponseWriter&, const job::JobRecord&)> answer = nullptr,
                const char* route = "/v1/jobs/:id") {
    auto waiter = std::make_shared<Waiter>();
    waiter->writer = std::make_shared<ResponseWriter>(std::move(w));
    waiter->answer = std::move(answer);
    waiter->route = route;
    waiter->id = seen.id;
    waiter->started = absl::Now();
    waiter->deadline = waiter->started + wait;
    if (t_span != nullptr) waiter->span = std::move(*t_span);
    {
      std::lock_guard<std::mutex> lock(waiters_mu);
      if (stopping) {
        Finish(*waiter, seen);
        return;
      }
      waiters.emplace(waiter->deadline, waiter);
    }
    std::weak_ptr<Waiter> weak = waiter;
    uint64_t token;
    {
      std::lock_guard<std::mutex> lock(waiter->mu);
      waiter->token = jobs.Watch(
          seen.id, [this, weak](const job::JobRecord& record) { OnChange(weak, record); });
      token = waiter->token;
    }
    waiters_cv.notify_all();
    // The record may have changed between the read and the watch.
    if (auto now = jobs.Get(seen.id);
        now && (waiter->answer ? job::IsTerminal(now->status.phase)
                               : now->status.phase != seen.status.phase)) {
      if (jobs.Unwatch(token)) Finish(*waiter, *now);
    }
  }

  // A watched record changed. Runs on the table reader's thread, which applies nothing else until
  // this returns: watching again here misses no change.
  void OnChange(const std::weak_ptr<Waiter>& weak, const job::JobRecord& record) {
    std::shared_ptr<Waiter> waiter = weak.lock();
    if (!waiter) return;
    if (waiter->answer && !record.id.empty() && !job::IsTerminal(record.status.phase)) {
      std::lock_guard<std::mutex> lock(waiter->mu);
      if (!waiter->done) {
        waiter->token = jobs.Watch(
            waiter->id, [this, weak](const job::JobRecord& next) { OnChange(weak, next); });
      }
      return;
    }
    Finish(*waiter, record);
  }

  void Finish(Waiter& waiter, const job::JobRecord& record) {
    std::lock_guard<std::mutex> lock(waiter.mu);
    if (waiter.done) return;
    waiter.done = true;
    // A variant's wait may have watched again since the deadline thread read the token.
    jobs.Unwatch(waiter.token);
    if (waiter.answer) {
      waiter.answer(*waiter.writer, record);
    } else if (record.id.empty()) {
      SendProblem(*waiter.writer, errors::NotFound("JobNotFound", "the job was deleted"));
    } else {
      SendJson(*waiter.writer, 200, JobJson(record));
    }
    ObserveLate(waiter);
  }

  // Counts an answer sent after its handler returned (or from a thread of its own) and ends the
  // request's server span with it.
  void ObserveLate(Reply& reply) {
    metrics.ObserveHttpRequest(reply.route, reply.method, t_answered,
                               absl::ToDoubleSeconds(absl::Now() - reply.started));
    reply.span.SetAttribute("http.response.status_code", int64_t{t_answered});
    if (t_answered >= 500) reply.span.SetError(absl::StrCat("answered ", t_answered));
    reply.span.End();
    // Counted here; the handler, if it is still running on this thread, must not count it again.
    t_answered = 0;
  }

  // Takes the writer (and the request's span) to answer later, or nullptr when the server is
  // stopping: then it has answered 503 itself, since Shutdown waits only for answers owed so far.
  std::shared_ptr<Reply> AnswerLater(ResponseWriter& w, std::string route, std::string method) {
    {
      std::lock_guard<std::mutex> lock(waiters_mu);
      if (stopping) {
        SendProblem(w, errors::Unavailable("ShuttingDown", "this replica is stopping; retry"));
        return nullptr;
      }
      ++later_pending;
    }
    auto later = std::make_shared<Reply>();
    later->writer = std::make_shared<ResponseWriter>(std::move(w));
    if (t_span != nullptr) later->span = std::move(*t_span);
    later->started = t_started;
    later->route = std::move(route);
    later->method = std::move(method);
    return later;
  }

  // Sends `later`'s answer (from any thread) and counts it. Pistache writes it from the
  // connection's own thread, soon after; Shutdown allows for that (see there).
  void AnswerNow(Reply& later, const absl::StatusOr<json>& body, int status) {
    if (body.ok()) {
      SendJson(*later.writer, status, *body);
    } else {
      SendProblem(*later.writer, body.status());
    }
    ObserveLate(later);
    std::lock_guard<std::mutex> lock(waiters_mu);
    if (--later_pending == 0) waiters_cv.notify_all();
  }

  void RunDeadlines() {
    std::unique_lock<std::mutex> lock(waiters_mu);
    while (true) {
      if (stopping && waiters.empty()) return;
      if (waiters.empty()) {
        waiters_cv.wait(lock);
        continue;
      }
      const absl::Time next = waiters.begin()->first;
      if (!stopping && absl::Now() < next) {
        waiters_cv.wait_until(lock, absl::ToChronoTime(next));
        continue;
      }
      std::shared_ptr<Waiter> waiter = waiters.begin()->second;
      waiters.erase(waiters.begin());
      lock.unlock();
      uint64_t token;
      {
        std::lock_guard<std::mutex> wl(waiter->mu);
        token = waiter->token;
      }
      jobs.Unwatch(token);
      if (auto record = jobs.Get(waiter->id)) {
        Finish(*waiter, *record);
      } else {
        Finish(*waiter, job::JobRecord{});
      }
      lock.lock();
    }
  }

  void GetJobOutput(const Request& req, ResponseWriter w) {
    absl::StatusOr<job::JobRecord> record = service.GetJob(req.param(":id").as<std::string>());
    if (!record.ok()) {
      SendProblem(w, record.status());
      return;
    }
    const job::JobStatus& status = record->status;
    if (status.phase == job::Phase::kFailed) {
      SendProblem(w, errors::Make(absl::StatusCode::kFailedPrecondition, "JobFailed",
                                  absl::StrCat("the job failed: ", status.reason)));
      return;
    }
    if (status.phase != job::Phase::kSucceeded || !status.output) {
      SendProblem(w, errors::Make(absl::StatusCode::kAborted, "OutputNotReady",
                                  absl::StrCat("the job is ", job::PhaseName(status.phase),
                                               "; poll it with ?wait=")));
      return;
    }
    ServeImmutable(req, std::move(w), absl::StrCat(options.storage_root, "/", status.output->path),
                   record->output_key, ImageMime(status.output->format));
  }

  // --- the catalogue, job listings and variants ---------------------------------------------

  // A 2xx answer without a body.
  void SendEmpty(ResponseWriter& w, int status) {
    t_answered = status;
    try {
      w.send(static_cast<Code>(status));
    } catch (const std::exception& e) {
      observability::LogDebug("response not sent", {{"error", e.what()}});
    }
  }

  // A query parameter, percent-decoded ('+' is a space, as in HTML forms).
  static std::optional<std::string> DecodedParam(const Request& req, const std::string& name) {
    std::optional<std::string> raw = QueryParam(req, name);
    if (!raw) return raw;
    return PercentDecode(*raw);
  }

  static json Page(json items, const std::string& next_page_token) {
    return {{"items", std::move(items)},
            {"nextPageToken", next_page_token.empty() ? json(nullptr) : json(next_page_token)}};
  }

  void ListImages(const Request& req, ResponseWriter w) {
    absl::StatusOr<int> limit = api::ParseLimit(QueryParam(req, "limit"));
    if (!limit.ok()) {
      SendProblem(w, limit.status());
      return;
    }
    absl::StatusOr<api::ImagePage> page =
        service.ListImages({.title = DecodedParam(req, "title").value_or(""),
                            .limit = *limit,
                            .page_token = DecodedParam(req, "pageToken").value_or("")});
    if (!page.ok()) {
      SendProblem(w, page.status());
      return;
    }
    json items = json::array();
    for (const job::ImageMeta& meta : page->items) items.push_back(ImageJson(meta));
    SendJson(w, 200, Page(std::move(items), page->next_page_token));
  }

  void DeleteImage(const Request& req, ResponseWriter w) {
    absl::StatusOr<api::DeleteImageResult> deleted =
        service.DeleteImage(req.param(":id").as<std::string>());
    if (!deleted.ok()) {
      SendProblem(w, deleted.status());
      return;
    }
    SendEmpty(w, 204);
  }

  void ListJobs(const Request& req, ResponseWriter w) {
    absl::StatusOr<int> limit = api::ParseLimit(QueryParam(req, "limit"));
    if (!limit.ok()) {
      SendProblem(w, limit.status());
      return;
    }
    absl::StatusOr<std::vector<job::Phase>> phases = api::ParsePhases(DecodedParam(req, "phase"));
    if (!phases.ok()) {
      SendProblem(w, phases.status());
      return;
    }
    absl::StatusOr<api::JobPage> page =
        service.ListJobs({.phases = *std::move(phases),
                          .limit = *limit,
                          .page_token = DecodedParam(req, "pageToken").value_or("")});
    if (!page.ok()) {
      SendProblem(w, page.status());
      return;
    }
    json items = json::array();
    for (const job::JobRecord& record : page->items) items.push_back(JobJson(record));
    SendJson(w, 200, Page(std::move(items), page->next_page_token));
  }

  void DeleteJob(const Request& req, ResponseWriter w) {
    if (absl::Status deleted = service.DeleteJob(req.param(":id").as<std::string>());
        !deleted.ok()) {
      SendProblem(w, deleted);
      return;
    }
    SendEmpty(w, 204);
  }

  void GetVariant(const Request& req, ResponseWriter w) {
    ServeVariant(req, std::move(w), req.param(":id").as<std::string>(),
                 req.param(":variant").as<std::string>(), "/v1/images/:id/:variant");
  }

  // How long a variant waits for its job when the request does not say (capped by max_wait).
  static constexpr absl::Duration kDefaultVariantWait = absl::Seconds(10);

  // The variant's bytes when stored; otherwise its job (made, or found made: the output key is the
  // same), waited for up to ?wait=: 200 with the bytes once it Succeeded, 422 JobFailed when it
  // failed, else 202 with the job and its Location.
  void ServeVariant(const Request& req, ResponseWriter w, const std::string& image_id,
                    const std::string& name, const char* route) {
    absl::StatusOr<api::VariantRequest> request = api::ParseVariant(
        name, QueryParam(req, "width"), QueryParam(req, "height"), service.options().validation);
    if (!request.ok()) {
      SendProblem(w, request.status());
      return;
    }
    absl::Duration wait = std::min(kDefaultVariantWait, options.max_wait);
    if (auto text = QueryParam(req, "wait")) {
      absl::StatusOr<absl::Duration> parsed = ParseWait(*text, options.max_wait);
      if (!parsed.ok()) {
        SendProblem(w, parsed.status());
        return;
      }
      wait = *parsed;
    }
    absl::StatusOr<api::Variant> variant = service.ResolveVariant(image_id, *request);
    if (!variant.ok()) {
      SendProblem(w, variant.status());
      return;
    }
    const std::string path = absl::StrCat(options.storage_root, "/", variant->output_path);
    const std::string mime = ImageMime(variant->spec.output.format);
    if (variant->stored) {
      ServeImmutable(req, std::move(w), path, variant->output_key, mime);
      return;
    }
    absl::StatusOr<job::JobRecord> record =
        service.CreateJob(variant->spec, t_span != nullptr ? &t_span->context() : nullptr);
    if (!record.ok()) {
      SendProblem(w, record.status());
      return;
    }
    auto answer = [this, created = *record, path, key = variant->output_key, mime,
                   inm = HeaderValue(req, "If-None-Match")](ResponseWriter& out,
                                                            const job::JobRecord& now) {
      const job::JobRecord& job = now.id.empty() ? created : now;
      if (job.status.phase == job::Phase::kSucceeded) {
        ServeImmutable(out, inm, path, key, mime);
      } else if (job.status.phase == job::Phase::kFailed) {
        SendProblem(out, errors::Make(
                             absl::StatusCode::kFailedPrecondition, "JobFailed",
                             absl::StrCat("the job ", job.id,
                                          " that makes this variant failed: ", job.status.reason)));
      } else {
        out.headers().add<Pistache::Http::Header::Location>(absl::StrCat("/v1/jobs/", job.id));
        SendJson(out, 202, JobJson(job));
      }
    };
    if (job::IsTerminal(record->status.phase) || wait <= absl::ZeroDuration()) {
      answer(w, *record);
      return;
    }
    LongPoll(std::move(w), *record, wait, std::move(answer), route);
  }

  // --- the seed services' contracts ---------------------------------------------------------

  void SeedDownload(const Request& req, ResponseWriter w) {
    const std::string& body = req.body();
    if (static_cast<int64_t>(body.size()) > options.max_json_bytes) {
      SendProblem(
          w, errors::Invalid("PayloadTooLarge", absl::StrCat("requests are limited to ",
                                                             options.max_json_bytes, " bytes")));
      return;
    }
    const std::string content_type = ContentTypeOf(req);
    if (!content_type.empty() && content_type != "application/json") {
      SendProblem(w,
                  errors::Invalid("UnsupportedMediaType", "send the request as application/json"));
      return;
    }
    absl::StatusOr<job::JobSpec> spec = api::DownloadSpec(body, service.options().validation);
    if (!spec.ok()) {
      SendProblem(w, spec.status());
      return;
    }
    absl::StatusOr<job::JobRecord> record =
        service.CreateJob(*std::move(spec), t_span != nullptr ? &t_span->context() : nullptr);
    if (!record.ok()) {
      SendProblem(w, record.status());
      return;
    }
    w.headers().add<Pistache::Http::Header::Location>(absl::StrCat("/check/", record->id));
    // 200, as the Flask service answered: its clients read task_id and poll /check.
    SendJson(w, 200, {{"task_id", record->id}});
  }

  void SeedCheck(const Request& req, ResponseWriter w) {
    absl::StatusOr<job::JobRecord> record = service.GetJob(req.param(":task_id").as<std::string>());
    if (!record.ok()) {
      SendProblem(w, record.status());
      return;
    }
    json out = api::CeleryTaskJson(*record);
    if (auth.signs_urls() && out["result"].is_object() && out["result"].contains("url")) {
      out["result"]["signed_url"] =
          auth.SignPath(out["result"]["url"].get<std::string>(), absl::Now());
    }
    SendJson(w, 200, out);
  }

  void SeedUploadFile(const Request& req, ResponseWriter w) {
    absl::StatusOr<api::UploadResult> result = Upload(req);
    if (!result.ok()) {
      SendProblem(w, result.status());
      return;
    }
    // 200 whether new or known, as the prog-image service answered.
    SendJson(w, 200, {{"image_id", result->meta.id}});
  }

  void Ping(const Request&, ResponseWriter w) { Send(w, 200, "pong", "text/plain"); }

  void SeedVariant(const Request& req, ResponseWriter w) {
    const std::string image_id = req.param(":image_id").as<std::string>();
    // Any two segments no other route has end here: only an image id makes them this route.
    if (!job::IsSha256Hex(image_id)) {
      NoRoute(req, std::move(w));
      return;
    }
    ServeVariant(req, std::move(w), image_id, req.param(":variant").as<std::string>(),
                 kSeedVariantPath);
  }
};

ApiServer::ApiServer(ServerOptions options, api::Service& service, state::JobTable& jobs,
                     ReadyFn ready, observability::Metrics& metrics, observability::Tracer& tracer)
    : impl_(std::make_unique<Impl>(std::move(options), service, jobs, std::move(ready), metrics,
                                   tracer)) {}

ApiServer::~ApiServer() { Shutdown(); }

std::vector<RouteInfo> ApiServer::RegisteredRoutes() {
  std::vector<RouteInfo> routes;
  for (const Impl::Route& route : Impl::Table()) {
    routes.push_back({.method = Pistache::Http::methodString(route.method),
                      .path = route.path,
                      .access = route.access});
  }
  return routes;
}

absl::Status ApiServer::Start() {
  try {
    Pistache::Address address(impl_->options.address,
                              Pistache::Port(static_cast<uint16_t>(impl_->options.port)));
    impl_->endpoint = std::make_unique<Pistache::Http::Endpoint>(address);
    // The whole request may not exceed this (headers included); BoundedRouterHandler refuses a
    // larger body with a problem+json 413. The headroom is for the headers and multipart framing.
    const size_t max_request = static_cast<size_t>(std::max(impl_->options.max_body_bytes,
                                                            impl_->options.max_json_bytes)) +
                               64 * 1024;
    auto opts = Pistache::Http::Endpoint::options()
                    .threads(impl_->options.threads)
                    .flags(Pistache::Tcp::Options::ReuseAddr)
                    .maxRequestSize(max_request)
                    // Answers are small but for the built-in docs script (files go out with
                    // sendfile, outside this buffer).
                    .maxResponseSize(std::max<size_t>(1 << 20, DocsScript().bytes.size() + 4096));
    impl_->endpoint->init(opts);
    impl_->Routes();
    impl_->endpoint->setHandler(std::make_shared<BoundedRouterHandler>(
        impl_->router, std::max(impl_->options.max_body_bytes, impl_->options.max_json_bytes)));
    impl_->endpoint->serveThreaded();
  } catch (const std::exception& e) {
    return errors::Make(absl::StatusCode::kUnavailable, "BindFailed",
                        absl::StrCat("listen on ", impl_->options.address, ":", impl_->options.port,
                                     ": ", e.what()));
  }
  impl_->deadline_thread = std::thread([this] { impl_->RunDeadlines(); });
  return absl::OkStatus();
}

int ApiServer::port() const {
  return impl_->endpoint ? static_cast<uint16_t>(impl_->endpoint->getPort()) : 0;
}

void ApiServer::Shutdown() {
  bool polls = false;  // long-polls waiting: the deadline thread answers them now
  {
    std::lock_guard<std::mutex> lock(impl_->waiters_mu);
    if (impl_->stopping) return;
    impl_->stopping = true;
    polls = !impl_->waiters.empty();
  }
  impl_->waiters_cv.notify_all();
  if (impl_->deadline_thread.joinable()) impl_->deadline_thread.join();
  {
    // Submissions Kafka has yet to settle are answered before the connections close (new ones are
    // refused from now on). librdkafka settles each within its message timeout; the bound is a
    // backstop.
    std::unique_lock<std::mutex> lock(impl_->waiters_mu);
    const bool owed = impl_->later_pending > 0;
    if (!impl_->waiters_cv.wait_for(
            lock, absl::ToChronoMilliseconds(2 * impl_->service.options().produce_timeout),
            [this] { return impl_->later_pending == 0; })) {
      observability::LogWarn("answers still owed at shutdown",
                             {{"requests", impl_->later_pending}});
    }
    // Those answers, and the long-polls' answered with the state as it is, were handed to
    // Pistache, whose threads write them: a moment for that before the endpoint, with any write
    // still queued on it, goes. (Pistache 0.0.5 does not settle the promise of a write it drops,
    // so waiting on the writes themselves could hang.)
    if (owed || polls) {
      lock.unlock();
      absl::SleepFor(absl::Milliseconds(200));
    }
  }
  if (impl_->endpoint) impl_->endpoint->shutdown();
}

}  // namespace pixq::http
