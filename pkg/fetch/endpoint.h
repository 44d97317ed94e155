#pragma once

// A POST to an endpoint the operator configured, such as the OTLP collector
// (OTEL_EXPORTER_OTLP_ENDPOINT): not behind the SSRF guard, since no user chose the address, and
// not following redirects. Proxies from the environment (https_proxy …) are used, except for a
// collector on loopback, which is reached directly. http and https only. The answer's body is
// read and dropped.
//
// Thread-safe: each call uses its own libcurl handle.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "pkg/fetch/fetcher.h"

namespace pixq::fetch {

// The answer's HTTP status code, whatever it is. Errors: "EndpointUnreachable" (Unavailable) when
// no answer came: the message is libcurl's reason, e.g. "Couldn't connect to server".
[[nodiscard]] absl::StatusOr<int> PostToEndpoint(std::string_view url, std::string_view body,
                                                 const Headers& headers, absl::Duration timeout);

}  // namespace pixq::fetch
