#pragma once

// Requests to endpoints the operator configured or a user named on a command line (the pixq
// CLI's API URL). A POST to an endpoint the operator configured, such as the OTLP collector
// (OTEL_EXPORTER_OTLP_ENDPOINT): not behind the SSRF guard, since no user chose the address, and
// not following redirects. Proxies from the environment (https_proxy …) are used, except for a
// collector on loopback, which is reached directly. http and https only. The answer's body is
// read and dropped.
//
// CallEndpoint, the general form, keeps the same rules (no redirects, the environment's proxies
// except for loopback, http and https only) and also sends a file streamed as multipart, and
// reads the answer into memory or into a file.
//
// Thread-safe: each call uses its own libcurl handle.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "pkg/fetch/fetcher.h"

namespace pixq::fetch {

// A part of a multipart/form-data body: a value, or a file streamed from disk as it is sent.
struct FormPart {
  std::string name;
  std::string value;         // when file_path is empty
  std::string file_path;     // read while sending, never whole in memory
  std::string filename;      // the file name the server is told (default: file_path's last part)
  std::string content_type;  // default: libcurl's guess from the name, or none
};

struct EndpointRequest {
  std::string method = "GET";  // GET, POST, PUT, DELETE
  std::string url;
  Headers headers;
  std::string body;            // sent as is (with a Content-Type header of the caller's)
  std::vector<FormPart> form;  // non-empty: the body is multipart/form-data of these instead
  // Non-empty: a 2xx answer's body goes to this file, written beside it first (a hidden
  // ".NAME.XXXXXX", locked with flock while it is written) and renamed into place once complete,
  // so the file is never seen half-written; other answers' bodies are read into memory as usual.
  std::string output_file;
  absl::Duration connect_timeout = absl::Seconds(10);
  absl::Duration timeout = absl::Minutes(5);
};

struct EndpointResponse {
  int status = 0;
  std::string body;  // empty when it went to output_file
  std::string content_type;
  int64_t bytes = 0;  // the body's size, in memory or on disk
  Headers headers;    // the answer's, names in lower case, in the order received
};

// Sends `request` and returns the answer, whatever its status. Errors: "EndpointUnreachable"
// (Unavailable) when no answer came (libcurl's reason in the message), "InvalidArgument" for a
// method other than the four, "StorageError" when a file to send or to write cannot be.
[[nodiscard]] absl::StatusOr<EndpointResponse> CallEndpoint(const EndpointRequest& request);

// Removes the temporary files that downloads to these output files left behind when their
// process was killed: the hidden siblings that no running download holds locked. Each folder is
// listed once. Returns how many were removed.
int RemoveAbandonedDownloads(const std::vector<std::string>& output_files);

// The answer's HTTP status code, whatever it is. Errors: "EndpointUnreachable" (Unavailable) when
// no answer came: the message is libcurl's reason, e.g. "Couldn't connect to server".
[[nodiscard]] absl::StatusOr<int> PostToEndpoint(std::string_view url, std::string_view body,
                                                 const Headers& headers, absl::Duration timeout);

}  // namespace pixq::fetch
