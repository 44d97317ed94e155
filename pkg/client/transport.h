#pragma once

// How the pixq CLI reaches pixq-api: one HTTP exchange at a time through a Transport, the seam
// its tests replace (tests/fakes/fake_transport.h). CurlTransport is the real one, through
// pkg/fetch (the one library that links libcurl): no redirects, the environment's proxies except
// for loopback.
//
// Thread-safety: CurlTransport may be used from several threads at once; a Transport's contract
// asks nothing more of fakes than the caller's own use.

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace pixq::client {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpCall {
  std::string method = "GET";
  std::string path;  // from the API's root, with the query: "/v1/jobs?phase=Failed"
  HeaderList headers;
  std::string body;
  std::string content_type;  // of `body`
  // Non-empty: the body is multipart/form-data: this file (streamed) as the part "image", then
  // `fields` as plain parts.
  std::string upload_file;
  HeaderList fields;
  // Non-empty: a 2xx answer's body is written to this file (complete or not at all).
  std::string output_file;
  absl::Duration timeout = absl::Minutes(5);
};

struct HttpAnswer {
  int status = 0;
  std::string body;  // empty when it went to the output file
  std::string content_type;
  HeaderList headers;  // names in lower case

  // The first header named `name` (lower case), or "".
  [[nodiscard]] std::string Header(const std::string& name) const;
};

class Transport {
 public:
  virtual ~Transport() = default;
  // One exchange; any answer is an HttpAnswer. Errors: "EndpointUnreachable" when none came,
  // "StorageError" when the file to send or to write cannot be.
  [[nodiscard]] virtual absl::StatusOr<HttpAnswer> Send(const HttpCall& call) = 0;
};

class CurlTransport final : public Transport {
 public:
  // `base_url`: http(s)://host:port[/prefix]; `api_key` ("" for none) goes as a bearer token
  // with every call and nowhere else.
  CurlTransport(std::string base_url, std::string api_key);

  absl::StatusOr<HttpAnswer> Send(const HttpCall& call) override;

 private:
  std::string base_url_;
  std::string api_key_;
};

}  // namespace pixq::client
