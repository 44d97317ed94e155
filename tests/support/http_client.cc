#include "tests/support/http_client.h"

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>

#include <curl/curl.h>

namespace pixq::testing {
namespace {

size_t WriteBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

size_t WriteHeader(char* data, size_t size, size_t n, void* out) {
  std::string line(data, size * n);
  const size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ')) value.erase(value.begin());
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
    (*static_cast<std::map<std::string, std::string>*>(out))[name] = value;
  }
  return size * n;
}

using CurlPtr = std::unique_ptr<CURL, decltype(&curl_easy_cleanup)>;

CurlPtr NewHandle(const std::string& url, HttpResponse& response, long timeout_ms) {
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  CurlPtr curl(curl_easy_init(), &curl_easy_cleanup);
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_NOPROXY, "*");
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "http");
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, &WriteBody);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl.get(), CURLOPT_HEADERFUNCTION, &WriteHeader);
  curl_easy_setopt(curl.get(), CURLOPT_HEADERDATA, &response.headers);
  return curl;
}

void Perform(CURL* curl, HttpResponse& response, curl_slist* headers) {
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  const CURLcode code = curl_easy_perform(curl);
  if (code != CURLE_OK) {
    response.error = curl_easy_strerror(code);
    response.status = 0;
  } else {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  }
  curl_slist_free_all(headers);
}

curl_slist* Headers(const std::map<std::string, std::string>& headers, curl_slist* list) {
  for (const auto& [k, v] : headers) list = curl_slist_append(list, (k + ": " + v).c_str());
  return list;
}

}  // namespace

std::string UrlEncode(const std::string& text) {
  CurlPtr curl(curl_easy_init(), &curl_easy_cleanup);
  char* escaped = curl_easy_escape(curl.get(), text.data(), static_cast<int>(text.size()));
  std::string out = escaped != nullptr ? escaped : "";
  curl_free(escaped);
  return out;
}

std::string HttpResponse::Header(const std::string& lowercase_name) const {
  auto it = headers.find(lowercase_name);
  return it == headers.end() ? "" : it->second;
}

HttpResponse HttpGet(const std::string& url, const std::map<std::string, std::string>& headers,
                     long timeout_ms) {
  HttpResponse response;
  CurlPtr curl = NewHandle(url, response, timeout_ms);
  Perform(curl.get(), response, Headers(headers, nullptr));
  return response;
}

HttpResponse HttpPost(const std::string& url, const std::string& body,
                      const std::string& content_type,
                      const std::map<std::string, std::string>& headers, long timeout_ms) {
  HttpResponse response;
  CurlPtr curl = NewHandle(url, response, timeout_ms);
  curl_easy_setopt(curl.get(), CURLOPT_POST, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_slist* list = nullptr;
  if (!content_type.empty())
    list = curl_slist_append(list, ("Content-Type: " + content_type).c_str());
  list = curl_slist_append(list, "Expect:");  // no 100-continue round trip
  Perform(curl.get(), response, Headers(headers, list));
  return response;
}

HttpResponse HttpPostForm(const std::string& url, const std::vector<FormPart>& parts,
                          long timeout_ms) {
  HttpResponse response;
  CurlPtr curl = NewHandle(url, response, timeout_ms);
  curl_mime* mime = curl_mime_init(curl.get());
  for (const FormPart& p : parts) {
    curl_mimepart* part = curl_mime_addpart(mime);
    curl_mime_name(part, p.name.c_str());
    curl_mime_data(part, p.data.data(), p.data.size());
    if (!p.filename.empty()) curl_mime_filename(part, p.filename.c_str());
    if (!p.content_type.empty()) curl_mime_type(part, p.content_type.c_str());
  }
  curl_easy_setopt(curl.get(), CURLOPT_MIMEPOST, mime);
  Perform(curl.get(), response, curl_slist_append(nullptr, "Expect:"));
  curl_mime_free(mime);
  return response;
}

HttpResponse HttpRequest(const std::string& method, const std::string& url,
                         const std::map<std::string, std::string>& headers, long timeout_ms) {
  HttpResponse response;
  CurlPtr curl = NewHandle(url, response, timeout_ms);
  curl_easy_setopt(curl.get(), CURLOPT_CUSTOMREQUEST, method.c_str());
  Perform(curl.get(), response, Headers(headers, nullptr));
  return response;
}

HttpResponse HttpDelete(const std::string& url, const std::map<std::string, std::string>& headers,
                        long timeout_ms) {
  return HttpRequest("DELETE", url, headers, timeout_ms);
}

std::pair<std::string, std::string> MultipartBody(const std::vector<FormPart>& parts) {
  const std::string boundary = "pixq-test-boundary-7MA4YWxkTrZu0gW";
  std::string body;
  for (const FormPart& p : parts) {
    body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + p.name + "\"";
    if (!p.filename.empty()) body += "; filename=\"" + p.filename + "\"";
    body += "\r\n";
    if (!p.content_type.empty()) body += "Content-Type: " + p.content_type + "\r\n";
    body += "\r\n" + p.data + "\r\n";
  }
  body += "--" + boundary + "--\r\n";
  return {body, "multipart/form-data; boundary=" + boundary};
}

}  // namespace pixq::testing
