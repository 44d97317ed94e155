#pragma once

// Downloads for URL sources and webhook calls, behind the SSRF guard (pkg/fetch/address.h).
//
// http and https only, also after a redirect; at most `max_redirects` redirects; connect and
// total timeouts; the body limited to `max_bytes` while it streams (a larger body is refused as
// soon as it is known to be larger, before it is all read). Every address a request connects to
// is checked before the socket is created, also those of redirects and of each address a name
// resolves to, so a denied address is never connected to. Proxies from the environment are not
// used: a proxy would connect on our behalf, out of the guard's sight.
//
// Errors carry reasons that decide retrying (errors::IsRetriable):
//   permanent: "InvalidSourceUrl" (malformed, or a scheme other than http/https, also as a
//   redirect target), "SourceForbidden" (an address the policy denies), "SourceTooLarge",
//   "TooManyRedirects", "SourceNotFound" (404, 410), "SourceRefused" (other 4xx answers),
//   "SourceTlsFailed" (certificate not trusted);
//   transient: "SourceUnavailable" (timeouts, connection refused or reset, name not resolved,
//   408, 425, 429 and 5xx answers).
//
// Thread-safe: each call uses its own libcurl handle.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "pkg/fetch/address.h"

namespace pixq::fetch {

struct FetchOptions {
  absl::Duration connect_timeout = absl::Seconds(5);
  absl::Duration timeout = absl::Seconds(30);
  int64_t max_bytes = int64_t{50} << 20;
  int max_redirects = 3;
  AddressPolicy policy;
  std::string user_agent = "pixq";
};

struct Response {
  int status = 0;
  std::string body;
  std::string content_type;
  std::string final_url;  // after redirects
  int redirects = 0;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

class Fetcher {
 public:
  virtual ~Fetcher() = default;
  // GET, following redirects; a 2xx answer is a Response, anything else an error (above).
  [[nodiscard]] virtual absl::StatusOr<Response> Get(std::string_view url) = 0;
  // POST `body`, not following redirects; a 2xx answer is a Response, anything else an error.
  [[nodiscard]] virtual absl::StatusOr<Response> Post(std::string_view url, std::string_view body,
                                                      const Headers& headers) = 0;
};

// The libcurl implementation.
class HttpFetcher final : public Fetcher {
 public:
  explicit HttpFetcher(FetchOptions options);

  absl::StatusOr<Response> Get(std::string_view url) override;
  absl::StatusOr<Response> Post(std::string_view url, std::string_view body,
                                const Headers& headers) override;

 private:
  absl::StatusOr<Response> Perform(std::string_view url, const std::string* post_body,
                                   const Headers& headers);

  FetchOptions options_;
};

// For messages and logs: the URL without user information, query or fragment.
[[nodiscard]] std::string RedactedUrl(std::string_view url);

}  // namespace pixq::fetch
