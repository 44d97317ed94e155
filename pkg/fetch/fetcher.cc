#include "pkg/fetch/fetcher.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include <curl/curl.h>
#include <sys/socket.h>

#include "pkg/errors/errors.h"
#include "pkg/fetch/curl_handle.h"

namespace pixq::fetch {
namespace {

// What one transfer's callbacks share.
struct Transfer {
  const FetchOptions* options = nullptr;
  std::string body;
  bool too_large = false;
  std::string denied;  // the first address the policy refused, e.g. "127.0.0.1 (loopback)"
};

size_t OnData(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  if (static_cast<int64_t>(t->body.size() + n) > t->options->max_bytes) {
    t->too_large = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  t->body.append(data, n);
  return n;
}

// libcurl asks for every socket it would connect with: the guard's one checkpoint. Refusing here
// means no packet is ever sent to a denied address.
curl_socket_t OnOpenSocket(void* user, curlsocktype purpose, curl_sockaddr* address) {
  auto* t = static_cast<Transfer*>(user);
  if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;
  const std::optional<IpAddress> ip = FromSockaddr(&address->addr);
  if (!ip || !t->options->policy.Allows(*ip)) {
    if (t->denied.empty()) {
      t->denied = ip ? absl::StrCat(ip->ToString(), " (", errors::Sv(ClassName(Classify(*ip))), ")")
                     : std::string("a non-IP address");
    }
    return CURL_SOCKET_BAD;
  }
  return ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

absl::Status Transient(std::string_view message) {
  return errors::Make(errors::Reason::kSourceUnavailable, message);
}

absl::Status Permanent(errors::Reason reason, std::string_view message) {
  return errors::Make(reason, message);
}

absl::Status FromHttpStatus(long code, const std::string& url) {
  const std::string message = absl::StrCat(url, " answered HTTP ", code);
  if (code == 408 || code == 425 || code == 429 || code >= 500) return Transient(message);
  if (code == 404 || code == 410) return Permanent(errors::Reason::kSourceNotFound, message);
  return Permanent(errors::Reason::kSourceRefused, message);
}

}  // namespace

std::string RedactedUrl(std::string_view url) {
  std::string out(url.substr(0, std::min(url.find_first_of("?#"), url.size())));
  const size_t scheme = out.find("://");
  if (scheme != std::string::npos) {
    const size_t host_start = scheme + 3;
    const size_t path = out.find('/', host_start);
    const size_t at = out.rfind('@', path == std::string::npos ? out.size() : path);
    if (at != std::string::npos && at >= host_start) out.erase(host_start, at + 1 - host_start);
  }
  return out;
}

HttpFetcher::HttpFetcher(FetchOptions options) : options_(std::move(options)) {
  internal::CurlGlobalInit();
}

absl::StatusOr<Response> HttpFetcher::Get(std::string_view url) {
  return Perform(url, nullptr, {});
}

absl::StatusOr<Response> HttpFetcher::Post(std::string_view url, std::string_view body,
                                           const Headers& headers) {
  const std::string copy(body);
  return Perform(url, &copy, headers);
}

absl::StatusOr<Response> HttpFetcher::Perform(std::string_view url_view,
                                              const std::string* post_body,
                                              const Headers& headers) {
  const std::string url(url_view);
  const std::string shown = RedactedUrl(url);
  if (!absl::StartsWithIgnoreCase(errors::Sv(url), "http://") &&
      !absl::StartsWithIgnoreCase(errors::Sv(url), "https://")) {
    return Permanent(errors::Reason::kInvalidSourceUrl,
                     absl::StrCat(shown, ": only http and https are allowed"));
  }
  internal::CurlHandle curl(curl_easy_init());
  if (!curl)
    return errors::Make(errors::Reason::kFetchFailed, "libcurl could not start a transfer");
  Transfer t{.options = &options_};
  char error[CURL_ERROR_SIZE] = {0};
  internal::CurlList header_list;
  for (const auto& [name, value] : headers) {
    curl_slist* appended = curl_slist_append(header_list.get(), (name + ": " + value).c_str());
    if (appended == nullptr) return errors::Make(errors::Reason::kFetchFailed, "out of memory");
    (void)header_list.release();
    header_list.reset(appended);
  }
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_PROXY, "");  // never a proxy from the environment
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(options_.connect_timeout)));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(options_.timeout)));
  curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options_.max_bytes));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &OnData);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, &OnOpenSocket);
  curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &t);
  if (header_list) curl_easy_setopt(c, CURLOPT_HTTPHEADER, header_list.get());
  if (post_body != nullptr) {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, post_body->data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(post_body->size()));
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  } else {
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, static_cast<long>(options_.max_redirects));
  }

  const CURLcode code = curl_easy_perform(c);
  if (code != CURLE_OK) {
    const std::string detail =
        absl::StrCat(shown, ": ", error[0] ? error : curl_easy_strerror(code));
    if (!t.denied.empty()) {
      return Permanent(errors::Reason::kSourceForbidden,
                       absl::StrCat(shown, ": connecting to ", t.denied,
                                    " is not allowed (fetch.allow lists the exceptions)"));
    }
    switch (code) {
      case CURLE_UNSUPPORTED_PROTOCOL:
      case CURLE_URL_MALFORMAT:
        return Permanent(errors::Reason::kInvalidSourceUrl, detail);
      case CURLE_TOO_MANY_REDIRECTS:
        return Permanent(errors::Reason::kTooManyRedirects,
                         absl::StrCat(shown, ": more than ", options_.max_redirects, " redirects"));
      case CURLE_FILESIZE_EXCEEDED:
        return Permanent(errors::Reason::kSourceTooLarge,
                         absl::StrCat(shown, ": larger than ", options_.max_bytes, " bytes"));
      case CURLE_WRITE_ERROR:
        if (t.too_large) {
          return Permanent(errors::Reason::kSourceTooLarge,
                           absl::StrCat(shown, ": larger than ", options_.max_bytes, " bytes"));
        }
        return Transient(detail);
      case CURLE_PEER_FAILED_VERIFICATION:
        return Permanent(errors::Reason::kSourceTlsFailed, detail);
      default:
        return Transient(detail);
    }
  }
  Response response;
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  if (status < 200 || status > 299) return FromHttpStatus(status, shown);
  char* content_type = nullptr;
  if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &content_type) == CURLE_OK && content_type) {
    response.content_type = absl::AsciiStrToLower(content_type);
  }
  char* effective = nullptr;
  if (curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &effective) == CURLE_OK && effective) {
    response.final_url = effective;
  }
  long redirects = 0;
  curl_easy_getinfo(c, CURLINFO_REDIRECT_COUNT, &redirects);
  response.redirects = static_cast<int>(redirects);
  response.body = std::move(t.body);
  return response;
}

}  // namespace pixq::fetch
