#pragma once

// libcurl's process-wide start and the owners of its handles; internal to pkg/fetch, the one
// library that uses libcurl.

#include <memory>
#include <mutex>

#include <curl/curl.h>

namespace pixq::fetch::internal {

inline void CurlGlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

using CurlHandle = std::unique_ptr<CURL, CurlDeleter>;
using CurlList = std::unique_ptr<curl_slist, SlistDeleter>;

}  // namespace pixq::fetch::internal
