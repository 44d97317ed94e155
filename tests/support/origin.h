#pragma once

// A small HTTP/1.1 server for tests, on one loopback address (127.0.0.1, another 127/8 address,
// or ::1) and a free port: the "origin" that URL imports download from, a webhook receiver, or
// a listener that must never be reached. One request per connection, answered by a handler, on
// one thread; it counts the connections it accepted.

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/time/time.h"

namespace pixq::testing {

struct OriginRequest {
  std::string method;
  std::string target;                          // path and query, as sent
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

struct OriginReply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool content_length = true;  // false: the body ends when the connection closes
  absl::Duration delay;        // before answering
};

class Origin final {
 public:
  using Handler = std::function<OriginReply(const OriginRequest&)>;

  // Throws std::runtime_error when it cannot listen on `address`.
  explicit Origin(Handler handler, const std::string& address = "127.0.0.1");
  ~Origin();
  Origin(const Origin&) = delete;
  Origin& operator=(const Origin&) = delete;

  int port() const { return port_; }
  // http://127.0.0.1:<port> or http://[::1]:<port>
  std::string url() const;

  int connections() const;
  std::vector<OriginRequest> requests() const;

 private:
  void Serve();
  void Handle(int fd);

  Handler handler_;
  std::string host_;
  int listen_fd_ = -1;
  int port_ = 0;
  mutable std::mutex mu_;
  bool stop_ = false;
  int connections_ = 0;
  std::vector<OriginRequest> requests_;
  std::thread thread_;
};

}  // namespace pixq::testing
