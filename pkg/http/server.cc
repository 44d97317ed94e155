#include "pkg/http/server.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include <pistache/endpoint.h>
#include <pistache/router.h>

#include "pkg/errors/errors.h"
#include "pkg/http/assets.h"
#include "pkg/http/handlers.h"
#include "pkg/http/long_poll.h"
#include "pkg/http/routes.h"
#include "pkg/http/upload_stream.h"

namespace pixq::http {

struct ApiServer::Impl {
  ServerOptions options;
  api::Service& service;
  observability::Metrics& metrics;
  observability::Tracer& tracer;
  LongPolls polls;
  Handlers handlers;
  std::unique_ptr<Pistache::Http::Endpoint> endpoint;
  Pistache::Rest::Router router;
  std::atomic<bool> stopped{false};

  Impl(ServerOptions o, api::Service& s, state::JobTable& jobs, probe::ReadyFn ready,
       observability::Metrics& m, observability::Tracer& t, clock::Clock& clock)
      : options(std::move(o)),
        service(s),
        metrics(m),
        tracer(t),
        polls(jobs, clock, m),
        handlers(options, s, std::move(ready), m, clock, polls) {}
};

ApiServer::ApiServer(ServerOptions options, api::Service& service, state::JobTable& jobs,
                     probe::ReadyFn ready, observability::Metrics& metrics,
                     observability::Tracer& tracer, clock::Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(options), service, jobs, std::move(ready), metrics,
                                   tracer, clock)) {}

ApiServer::~ApiServer() { Shutdown(); }

std::vector<RouteInfo> ApiServer::RegisteredRoutes() { return RouteTable(); }

absl::Status ApiServer::Start() {
  const ServerOptions& options = impl_->options;
  try {
    Pistache::Address address(options.address, Pistache::Port(static_cast<uint16_t>(options.port)));
    impl_->endpoint = std::make_unique<Pistache::Http::Endpoint>(address);
    // The whole request may not exceed this (headers included); BoundedRouterHandler refuses a
    // larger body with a problem+json 413. The headroom is for the headers and multipart framing.
    const size_t max_request =
        static_cast<size_t>(std::max(options.max_body_bytes, options.max_json_bytes)) + 64 * 1024;
    auto opts = Pistache::Http::Endpoint::options()
                    .threads(options.threads)
                    .flags(Pistache::Tcp::Options::ReuseAddr)
                    .maxRequestSize(max_request)
                    // Answers are small but for the built-in docs script (files go out with
                    // sendfile, outside this buffer).
                    .maxResponseSize(std::max<size_t>(1 << 20, DocsScript().bytes.size() + 4096));
    impl_->endpoint->init(opts);
    AddRoutes(impl_->router, impl_->handlers, impl_->metrics, impl_->tracer);
    impl_->endpoint->setHandler(std::make_shared<BoundedRouterHandler>(
        impl_->router, std::max(options.max_body_bytes, options.max_json_bytes)));
    impl_->endpoint->serveThreaded();
  } catch (const std::exception& e) {
    return errors::Make(
        errors::Reason::kBindFailed,
        absl::StrCat("listen on ", options.address, ":", options.port, ": ", e.what()));
  }
  impl_->polls.Start();
  return absl::OkStatus();
}

int ApiServer::port() const {
  return impl_->endpoint ? static_cast<uint16_t>(impl_->endpoint->getPort()) : 0;
}

void ApiServer::Shutdown() {
  if (impl_->stopped.exchange(true)) return;
  // The long-polls are answered with the state as it is, and the submissions Kafka has yet to
  // settle once it has (librdkafka settles each within its message timeout; the bound is a
  // backstop).
  if (impl_->polls.Stop(2 * impl_->service.options().produce_timeout)) {
    // Those answers were handed to Pistache, whose threads write them: a moment for that before
    // the endpoint, with any write still queued on it, goes. (Pistache 0.0.5 does not settle the
    // promise of a write it drops, so waiting on the writes themselves could hang.) Real time:
    // it is Pistache's threads that need it, whatever the clock says.
    absl::SleepFor(absl::Milliseconds(200));
  }
  if (impl_->endpoint) impl_->endpoint->shutdown();
}

}  // namespace pixq::http
