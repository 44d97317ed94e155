#pragma once

// A stand-in OpenTelemetry collector for tests: an HTTP/1.1 server on 127.0.0.1 that accepts
// OTLP/HTTP JSON POSTs to /v1/traces and keeps every span it was sent. It can be made slow, to
// show that exporting never holds up the exporting process.

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "nlohmann/json.hpp"

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
  ~Collector();
  Collector(const Collector&) = delete;
  Collector& operator=(const Collector&) = delete;

  std::string endpoint() const;  // http://127.0.0.1:<port>
  std::vector<ReceivedSpan> Spans() const;
  int requests() const;
  std::vector<std::string> paths() const;

 private:
  void Serve();
  void Handle(int fd);

  absl::Duration delay_;
  int listen_fd_ = -1;
  int port_ = 0;
  bool stop_ = false;
  mutable std::mutex mu_;
  std::vector<ReceivedSpan> spans_;
  std::vector<std::string> paths_;
  int requests_ = 0;
  std::thread thread_;
};

}  // namespace pixq::testing
