#pragma once

// A stand-in OpenTelemetry collector for tests: an HTTP/1.1 server on 127.0.0.1 that accepts
// OTLP/HTTP JSON POSTs to /v1/traces and keeps every span it was sent. It can be made slow, to
// show that exporting never holds up the exporting process.

#include <mutex>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "nlohmann/json.hpp"

#include "tests/support/origin.h"

namespace pixq::testing {

struct ReceivedSpan {
  std::string service;  // the resource's service.name
  nlohmann::json span;  // as sent: traceId, spanId, parentSpanId, name, kind, attributes, ...
  // The value of attribute `key` as a string ("" if absent).
  std::string Attribute(const std::string& key) const;
};

class Collector final {
 public:
  // Listens on a free port on 127.0.0.1; each answer is delayed by `delay`.
  explicit Collector(absl::Duration delay = absl::ZeroDuration());
  Collector(const Collector&) = delete;
  Collector& operator=(const Collector&) = delete;

  std::string endpoint() const;  // http://127.0.0.1:<port>
  std::vector<ReceivedSpan> Spans() const;
  int requests() const;
  std::vector<std::string> paths() const;  // "POST /v1/traces", one per request

 private:
  OriginReply Receive(const OriginRequest& request);

  absl::Duration delay_;
  mutable std::mutex mu_;
  std::vector<ReceivedSpan> spans_;
  Origin origin_;  // last: it calls Receive until it is destroyed, first
};

}  // namespace pixq::testing
