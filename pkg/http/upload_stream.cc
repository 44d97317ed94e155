#include "pkg/http/upload_stream.h"

#include <exception>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include <pistache/peer.h>
#include <sys/socket.h>

#include "pkg/crypto/sha256.h"
#include "pkg/errors/errors.h"
#include "pkg/http/responses.h"
#include "pkg/multipart/multipart.h"
#include "pkg/observability/log.h"

namespace pixq::http {
namespace {

using Pistache::Http::Code;

// Marks a connection being closed, on the connection itself (gone with it, however it goes).
constexpr char kRefused[] = "pixq.refused";
// The connection's ReceivedBodyDigest (made with its first upload; gone with it).
constexpr char kBodyDigest[] = "pixq.body-digest";

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
  // The body is all in: the digest (none when the body is not an upload's, or a multipart body's
  // image part was not followed to its end) is kept for the request's handler (finished()) until
  // Handed(); the connection's next request starts afresh.
  void Finish(const Pistache::Http::Request& request) {
    Update(request);
    std::optional<BodyDigest> digest;
    if (kind_ == Kind::kRaw) {
      digest = BodyDigest{.offset = 0, .size = request.body().size(), .sha256 = hash_->HexDigest()};
    } else if (auto range = kind_ == Kind::kMultipart ? parts_->Range() : std::nullopt) {
      digest =
          BodyDigest{.offset = range->first, .size = range->second, .sha256 = hash_->HexDigest()};
    }
    Reset();
    finished_ = std::move(digest);
  }
  const std::optional<BodyDigest>& finished() const { return finished_; }
  // The request's handler returned.
  void Handed() { finished_.reset(); }
  // The request was dropped (refused, unparsable): forget what was hashed of it.
  void Reset() {
    finished_.reset();
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
  std::optional<multipart::MultipartImageStream> parts_;
  size_t hashed_ = 0;  // raw bodies: how much of the body is hashed
  std::optional<BodyDigest> finished_;
};

ReceivedBodyDigest* ExistingDigestOf(const std::shared_ptr<Pistache::Tcp::Peer>& peer) {
  return static_cast<ReceivedBodyDigest*>(peer->tryGetData(kBodyDigest).get());
}

ReceivedBodyDigest* DigestOf(const std::shared_ptr<Pistache::Tcp::Peer>& peer) {
  std::shared_ptr<void> data = peer->tryGetData(kBodyDigest);
  if (data == nullptr) {
    data = std::make_shared<ReceivedBodyDigest>();
    peer->putData(kBodyDigest, data);
  }
  return static_cast<ReceivedBodyDigest*>(data.get());
}

void ForgetBody(const std::shared_ptr<Pistache::Tcp::Peer>& peer) {
  if (ReceivedBodyDigest* digest = ExistingDigestOf(peer)) digest->Reset();
}

// What the client asked for, else what its HTTP version implies: an HTTP/1.1 connection
// persists unless either side says "close" (RFC 9112, section 9.3). Pistache 0.0.5 answers
// "Connection: Close" to any request without the header, so every client that relies on the
// default (curl, wrk, browsers, most HTTP libraries) had to connect again for each request,
// which cost both sides more than the request itself.
Pistache::Http::ConnectionControl ConnectionOf(const Pistache::Http::Request& request) {
  if (auto asked = request.headers().tryGet<Pistache::Http::Header::Connection>()) {
    return asked->control();
  }
  return request.version() == Pistache::Http::Version::Http11
             ? Pistache::Http::ConnectionControl::KeepAlive
             : Pistache::Http::ConnectionControl::Close;
}

}  // namespace

std::optional<BodyDigest> ReceivedDigest(const Pistache::Http::ResponseWriter& w) {
  try {
    if (ReceivedBodyDigest* digest = ExistingDigestOf(w.peer())) return digest->finished();
  } catch (const std::exception&) {
    // The connection is gone: there is no one to answer anyway.
  }
  return std::nullopt;
}

void BoundedRouterHandler::onInput(const char* buffer, size_t len,
                                   const std::shared_ptr<Pistache::Tcp::Peer>& peer) {
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
        request.method() == Pistache::Http::Method::Post && !request.body().empty() ? DigestOf(peer)
                                                                                    : nullptr;
    if (state == Pistache::Http::Private::State::Done) {
      Pistache::Http::ResponseWriter response(request.version(), transport(), this, peer);
      parser->request.copyAddress(peer->address());
      response.headers().add<Pistache::Http::Header::Connection>(ConnectionOf(request));
      peer->setIdle(false);
      // The handler runs inside onRequest, on this thread, and finds the digest on the peer
      // (ReceivedDigest); it is gone before the connection's next request.
      if (digest != nullptr) digest->Finish(request);
      onRequest(request, std::move(response));
      if (digest != nullptr) digest->Handed();
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
    Pistache::Http::ResponseWriter response(request.version(), transport(), this, peer);
    RequestContext unrouted;
    SendProblem(unrouted, response, errors::Make(errors::Reason::kMalformedRequest, err.reason()));
    parser->reset();
    ForgetBody(peer);
  } catch (const std::exception& e) {
    Pistache::Http::ResponseWriter response(request.version(), transport(), this, peer);
    RequestContext unrouted;
    SendProblem(unrouted, response, errors::Make(errors::Reason::kInternalError, e.what()));
    parser->reset();
    ForgetBody(peer);
  }
}

void BoundedRouterHandler::Refuse(const std::shared_ptr<Pistache::Tcp::Peer>& peer,
                                  Pistache::Http::Version version) {
  peer->putData(kRefused, std::make_shared<bool>(true));
  Pistache::Http::ResponseWriter response(version, transport(), this, peer);
  response.headers().add<Pistache::Http::Header::Connection>(
      Pistache::Http::ConnectionControl::Close);
  const json body = ProblemJson(413, "PayloadTooLarge",
                                absl::StrCat("requests are limited to ", max_body_bytes_,
                                             " bytes; the connection is closed"));
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

}  // namespace pixq::http
