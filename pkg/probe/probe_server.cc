#include "pkg/probe/probe_server.h"

#include <chrono>
#include <functional>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/router.h>

#include "pkg/errors/errors.h"

namespace pixq::probe {
namespace {

void Reply(Pistache::Http::ResponseWriter& w, int code, const nlohmann::json& body,
           const char* type) {
  try {
    w.send(static_cast<Pistache::Http::Code>(code), body.dump(),
           Pistache::Http::Mime::MediaType::fromString(type));
  } catch (const std::exception&) {
    // The client went away.
  }
}

}  // namespace

struct ProbeServer::Impl {
  std::string address;
  int port;
  ReadyFn ready;
  observability::Metrics* metrics = nullptr;
  std::unique_ptr<Pistache::Http::Endpoint> endpoint;
  Pistache::Rest::Router router;
  bool stopped = false;
};

ProbeServer::ProbeServer(std::string address, int port, ReadyFn ready,
                         observability::Metrics& metrics)
    : impl_(std::make_unique<Impl>()) {
  impl_->metrics = &metrics;
  impl_->address = std::move(address);
  impl_->port = port;
  impl_->ready = std::move(ready);
}

ProbeServer::~ProbeServer() { Shutdown(); }

absl::Status ProbeServer::Start() {
  using Pistache::Http::ResponseWriter;
  using Pistache::Rest::Request;
  using Result = Pistache::Rest::Route::Result;
  Impl* impl = impl_.get();
  // Each probe answers with a code; the request is counted like the API's own.
  auto counted = [impl](const char* route, std::function<int(ResponseWriter&)> answer) {
    return [impl, route, answer](const Request&, ResponseWriter w) {
      const auto start = std::chrono::steady_clock::now();
      const int code = answer(w);
      impl->metrics->ObserveHttpRequest(
          route, "GET", code,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      return Result::Ok;
    };
  };
  Pistache::Rest::Routes::Get(impl->router, "/healthz", counted("/healthz", [](ResponseWriter& w) {
                                Reply(w, 200, {{"status", "ok"}}, "application/json");
                                return 200;
                              }));
  Pistache::Rest::Routes::Get(impl->router, "/readyz",
                              counted("/readyz", [impl](ResponseWriter& w) {
                                const absl::Status status = impl->ready();
                                if (status.ok()) {
                                  Reply(w, 200, {{"status", "ready"}}, "application/json");
                                  return 200;
                                }
                                Reply(w, 503,
                                      {{"type", "urn:pixq:problem:" + errors::ReasonOf(status)},
                                       {"title", "Service Unavailable"},
                                       {"status", 503},
                                       {"reason", errors::ReasonOf(status)},
                                       {"detail", std::string(status.message())}},
                                      "application/problem+json");
                                return 503;
                              }));
  Pistache::Rest::Routes::Get(
      impl->router, "/metrics", counted("/metrics", [impl](ResponseWriter& w) {
        impl->metrics->SetReady(impl->ready().ok());
        try {
          w.send(Pistache::Http::Code::Ok, impl->metrics->Render(),
                 Pistache::Http::Mime::MediaType::fromString("text/plain; version=0.0.4"));
        } catch (const std::exception&) {
        }
        return 200;
      }));
  try {
    impl->endpoint = std::make_unique<Pistache::Http::Endpoint>(
        Pistache::Address(impl->address, Pistache::Port(static_cast<uint16_t>(impl->port))));
    impl->endpoint->init(Pistache::Http::Endpoint::options()
                             .threads(1)
                             .flags(Pistache::Tcp::Options::ReuseAddr)
                             .maxRequestSize(16 * 1024));
    impl->endpoint->setHandler(impl->router.handler());
    impl->endpoint->serveThreaded();
  } catch (const std::exception& e) {
    return errors::Make(errors::Reason::kBindFailed,
                        absl::StrCat("listen on ", impl->address, ":", impl->port, ": ", e.what()));
  }
  return absl::OkStatus();
}

int ProbeServer::port() const {
  return impl_->endpoint ? static_cast<uint16_t>(impl_->endpoint->getPort()) : 0;
}

void ProbeServer::Shutdown() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  if (impl_->endpoint) impl_->endpoint->shutdown();
}

}  // namespace pixq::probe
