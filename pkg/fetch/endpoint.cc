#include "pkg/fetch/endpoint.h"

#include "absl/strings/str_cat.h"

#include "pkg/errors/errors.h"
#include "pkg/fetch/curl_handle.h"

namespace pixq::fetch {

absl::StatusOr<int> PostToEndpoint(std::string_view url_view, std::string_view body,
                                   const Headers& headers, absl::Duration timeout) {
  internal::CurlGlobalInit();
  const std::string url(url_view);
  internal::CurlHandle curl(curl_easy_init());
  if (!curl) return errors::Make(errors::Reason::kEndpointUnreachable, "curl_easy_init failed");
  internal::CurlList header_list;
  for (const auto& [name, value] : headers) {
    curl_slist* appended =
        curl_slist_append(header_list.get(), absl::StrCat(name, ": ", value).c_str());
    if (appended == nullptr)
      return errors::Make(errors::Reason::kEndpointUnreachable, "out of memory");
    (void)header_list.release();
    header_list.reset(appended);
  }
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  if (header_list) curl_easy_setopt(c, CURLOPT_HTTPHEADER, header_list.get());
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(absl::ToInt64Milliseconds(timeout)));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  // A collector on loopback is reached directly, whatever proxy the environment names.
  curl_easy_setopt(c, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(
      c, CURLOPT_WRITEFUNCTION,
      +[](char*, size_t size, size_t n, void*) -> size_t { return size * n; });
  const CURLcode code = curl_easy_perform(c);
  if (code != CURLE_OK)
    return errors::Make(errors::Reason::kEndpointUnreachable, curl_easy_strerror(code));
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  return static_cast<int>(status);
}

}  // namespace pixq::fetch
