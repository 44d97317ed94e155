#pragma once

// A small blocking HTTP client for integration tests (libcurl). Loopback only: proxies are
// ignored so that a proxy in the environment cannot send test traffic anywhere else.

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace pixq::testing {

struct HttpResponse {
  long status = 0;  // 0: no answer (connection refused, timeout)
  std::string body;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string error;

  std::string Header(const std::string& lowercase_name) const;
};

struct FormPart {
  std::string name;
  std::string data;
  std::string filename;  // empty: a plain field
  std::string content_type;
};

HttpResponse HttpGet(const std::string& url, const std::map<std::string, std::string>& headers = {},
                     long timeout_ms = 60000);
HttpResponse HttpPost(const std::string& url, const std::string& body,
                      const std::string& content_type,
                      const std::map<std::string, std::string>& headers = {},
                      long timeout_ms = 60000);
HttpResponse HttpPostForm(const std::string& url, const std::vector<FormPart>& parts,
                          long timeout_ms = 60000);
// A request without a body with any method ("DELETE", "PUT", ...).
HttpResponse HttpRequest(const std::string& method, const std::string& url,
                         const std::map<std::string, std::string>& headers = {},
                         long timeout_ms = 60000);
HttpResponse HttpDelete(const std::string& url,
                        const std::map<std::string, std::string>& headers = {},
                        long timeout_ms = 60000);
// multipart/form-data as a browser sends it: the body and its Content-Type (with the boundary),
// for HttpPost when headers (an API key) must go along.
std::pair<std::string, std::string> MultipartBody(const std::vector<FormPart>& parts);

// Percent-encodes `text` for a query parameter value.
std::string UrlEncode(const std::string& text);

}  // namespace pixq::testing
