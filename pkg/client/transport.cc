#include "pkg/client/transport.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

#include "pkg/fetch/endpoint.h"

namespace pixq::client {

std::string HttpAnswer::Header(const std::string& name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return "";
}

CurlTransport::CurlTransport(std::string base_url, std::string api_key)
    : base_url_(std::move(base_url)), api_key_(std::move(api_key)) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
}

absl::StatusOr<HttpAnswer> CurlTransport::Send(const HttpCall& call) {
  fetch::EndpointRequest request{.method = call.method,
                                 .url = absl::StrCat(base_url_, call.path),
                                 .headers = call.headers,
                                 .body = call.body,
                                 .output_file = call.output_file,
                                 .timeout = call.timeout};
  if (call.output_file.empty()) request.headers.emplace_back("Accept", "application/json");
  if (!call.content_type.empty()) request.headers.emplace_back("Content-Type", call.content_type);
  if (!api_key_.empty()) request.headers.emplace_back("Authorization", "Bearer " + api_key_);
  if (!call.upload_file.empty()) {
    request.form.push_back({.name = "image", .file_path = call.upload_file});
    for (const auto& [name, value] : call.fields) {
      request.form.push_back({.name = name, .value = value});
    }
  }
  absl::StatusOr<fetch::EndpointResponse> response = fetch::CallEndpoint(request);
  if (!response.ok()) return response.status();
  return HttpAnswer{.status = response->status,
                    .body = std::move(response->body),
                    .content_type = std::move(response->content_type),
                    .headers = std::move(response->headers)};
}

}  // namespace pixq::client
