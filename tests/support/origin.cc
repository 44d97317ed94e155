#include "tests/support/origin.h"

#include <stdexcept>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace pixq::testing {
namespace {

std::string StatusText(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 302:
      return "Found";
    case 404:
      return "Not Found";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

}  // namespace

Origin::Origin(Handler handler, const std::string& address)
    : handler_(std::move(handler)), host_(address) {
  const bool v6 = address.find(':') != std::string::npos;
  sockaddr_storage storage{};
  socklen_t len = 0;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&storage);
    a->sin6_family = AF_INET6;
    if (inet_pton(AF_INET6, address.c_str(), &a->sin6_addr) != 1) {
      throw std::runtime_error("origin: not an address: " + address);
    }
    len = sizeof(sockaddr_in6);
    host_ = "[" + address + "]";
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&storage);
    a->sin_family = AF_INET;
    if (inet_pton(AF_INET, address.c_str(), &a->sin_addr) != 1) {
      throw std::runtime_error("origin: not an address: " + address);
    }
    len = sizeof(sockaddr_in);
  }
  listen_fd_ = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  if (v6) setsockopt(listen_fd_, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&storage), len) != 0 ||
      listen(listen_fd_, 64) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&storage), &len) != 0) {
    if (listen_fd_ >= 0) close(listen_fd_);
    throw std::runtime_error("origin: cannot listen on " + address);
  }
  port_ = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port
                   : reinterpret_cast<sockaddr_in*>(&storage)->sin_port);
  thread_ = std::thread([this] { Serve(); });
}

Origin::~Origin() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  thread_.join();
  close(listen_fd_);
}

std::string Origin::url() const { return absl::StrCat("http://", host_, ":", port_); }

int Origin::connections() const {
  std::lock_guard<std::mutex> lock(mu_);
  return connections_;
}

std::vector<OriginRequest> Origin::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

void Origin::Serve() {
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
    }
    pollfd p{.fd = listen_fd_, .events = POLLIN, .revents = 0};
    if (poll(&p, 1, 50) <= 0) continue;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++connections_;
    }
    Handle(fd);
    close(fd);
  }
}

void Origin::Handle(int fd) {
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
  OriginRequest request;
  std::vector<std::string> lines = absl::StrSplit(data.substr(0, header_end), "\r\n");
  std::vector<std::string> first = absl::StrSplit(lines.front(), ' ');
  if (first.size() >= 2) {
    request.method = first[0];
    request.target = first[1];
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    const size_t colon = lines[i].find(':');
    if (colon == std::string::npos) continue;
    request.headers[absl::AsciiStrToLower(lines[i].substr(0, colon))] =
        std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
  }
  request.body = data.substr(header_end + 4, content_length);
  {
    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back(request);
  }
  const OriginReply reply = handler_(request);
  if (reply.delay > absl::ZeroDuration()) absl::SleepFor(reply.delay);
  std::string answer = absl::StrCat("HTTP/1.1 ", reply.status, " ", StatusText(reply.status),
                                    "\r\nConnection: close\r\n");
  for (const auto& [name, value] : reply.headers)
    absl::StrAppend(&answer, name, ": ", value, "\r\n");
  if (reply.content_length) absl::StrAppend(&answer, "Content-Length: ", reply.body.size(), "\r\n");
  absl::StrAppend(&answer, "\r\n", reply.body);
  size_t written = 0;
  while (written < answer.size()) {
    const ssize_t n = send(fd, answer.data() + written, answer.size() - written, MSG_NOSIGNAL);
    if (n <= 0) return;  // the client gave up (e.g. a body over its limit)
    written += static_cast<size_t>(n);
  }
}

}  // namespace pixq::testing
