#include "tests/support/collector.h"

#include <stdexcept>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace pixq::testing {

std::string ReceivedSpan::Attribute(const std::string& key) const {
  for (const nlohmann::json& a : span.value("attributes", nlohmann::json::array())) {
    if (a["key"] != key) continue;
    for (const auto& [type, value] : a["value"].items()) {
      return value.is_string() ? value.get<std::string>() : value.dump();
    }
  }
  return "";
}

Collector::Collector(absl::Duration delay) : delay_(delay) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listen_fd_, 16) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error("collector: cannot listen on 127.0.0.1");
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { Serve(); });
}

Collector::~Collector() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  thread_.join();
  close(listen_fd_);
}

std::string Collector::endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

std::vector<ReceivedSpan> Collector::Spans() const {
  std::lock_guard<std::mutex> lock(mu_);
  return spans_;
}

int Collector::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

std::vector<std::string> Collector::paths() const {
  std::lock_guard<std::mutex> lock(mu_);
  return paths_;
}

void Collector::Serve() {
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
    }
    pollfd p{.fd = listen_fd_, .events = POLLIN, .revents = 0};
    if (poll(&p, 1, 50) <= 0) continue;
    const int fd = accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    Handle(fd);
    close(fd);
  }
}

// One request per connection (libcurl reconnects when the server closes): read the headers and
// Content-Length bytes of body, keep the spans, answer 200.
void Collector::Handle(int fd) {
  std::string data;
  char buf[65536];
  size_t header_end = std::string::npos;
  size_t content_length = 0;
  while (true) {
    pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
    if (poll(&p, 1, 5000) <= 0) return;
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) return;
    data.append(buf, static_cast<size_t>(n));
    if (header_end == std::string::npos) {
      header_end = data.find("\r\n\r\n");
      if (header_end == std::string::npos) continue;
      const std::string head = absl::AsciiStrToLower(data.substr(0, header_end));
      const size_t at = head.find("content-length:");
      if (at != std::string::npos) {
        const size_t eol = head.find("\r\n", at);
        (void)absl::SimpleAtoi(head.substr(at + 15, eol - at - 15), &content_length);
      }
    }
    if (data.size() >= header_end + 4 + content_length) break;
  }
  const std::string request_line = data.substr(0, data.find("\r\n"));
  const nlohmann::json body =
      nlohmann::json::parse(data.substr(header_end + 4, content_length), nullptr, false);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++requests_;
    paths_.push_back(request_line);
    if (body.is_object()) {
      for (const nlohmann::json& rs : body.value("resourceSpans", nlohmann::json::array())) {
        std::string service;
        for (const nlohmann::json& a :
             rs["resource"].value("attributes", nlohmann::json::array())) {
          if (a["key"] == "service.name") service = a["value"].value("stringValue", "");
        }
        for (const nlohmann::json& ss : rs.value("scopeSpans", nlohmann::json::array())) {
          for (const nlohmann::json& span : ss.value("spans", nlohmann::json::array())) {
            spans_.push_back({service, span});
          }
        }
      }
    }
  }
  if (delay_ > absl::ZeroDuration()) absl::SleepFor(delay_);
  const std::string answer =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
      "Connection: close\r\n\r\n{}";
  (void)write(fd, answer.data(), answer.size());
}

}  // namespace pixq::testing
