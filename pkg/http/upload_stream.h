#pragma once

// How pixq-api reads requests off the wire: Pistache's router, with request bodies bounded
// before they are read, HTTP/1.1's persistent connections by default, and an upload's image
// hashed while it arrives.
//
// Pistache alone answers a request over its maximum size with 413 but keeps the connection and
// parses the rest of the body as new requests: a 200 MB upload kept a core busy for over a
// minute. Here a Content-Length over the limit is refused as soon as the headers are in, and any
// request that outgrows the limit gets a problem+json 413 and its connection closed; the bytes
// still arriving are dropped unread.

#include <cstdint>
#include <memory>
#include <optional>

#include <pistache/http.h>
#include <pistache/router.h>

#include "pkg/http/request_context.h"

namespace pixq::http {

// The input path is Pistache 0.0.5's Http::Handler::onInput (private there, so restated here)
// with the two checks added. One clone per reactor thread; a peer stays on one thread, so the
// per-peer state (the body digest, the refusal mark) needs no lock.
class BoundedRouterHandler final : public Pistache::Rest::Private::RouterHandler {
 public:
  HTTP_PROTOTYPE(BoundedRouterHandler)

  BoundedRouterHandler(const Pistache::Rest::Router& router, int64_t max_body_bytes)
      : RouterHandler(router), max_body_bytes_(max_body_bytes) {}

  void onInput(const char* buffer, size_t len,
               const std::shared_ptr<Pistache::Tcp::Peer>& peer) override;

 private:
  void Refuse(const std::shared_ptr<Pistache::Tcp::Peer>& peer, Pistache::Http::Version version);

  int64_t max_body_bytes_;
};

// The digest of the image of the upload being handed to its handler on `w`'s connection: set by
// BoundedRouterHandler while the request's handler runs (it runs inside onInput, on the
// connection's thread), nullopt for any other request, or once the connection is gone.
[[nodiscard]] std::optional<BodyDigest> ReceivedDigest(const Pistache::Http::ResponseWriter& w);

}  // namespace pixq::http
