// libFuzzer target: the multipart/form-data parser. The first line of the input is the
// Content-Type header value (so the boundary is fuzzed too), the rest is the body.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "pkg/http/multipart.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  const std::string_view content_type =
      newline == std::string_view::npos ? input : input.substr(0, newline);
  const std::string_view body =
      newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);
  auto parts = pixq::http::ParseMultipart(content_type, body);
  if (parts.ok()) {
    for (const pixq::http::MultipartPart& part : *parts) {
      // Each part's body lies inside the input it came from.
      if (!part.body.empty() && (part.body.data() < body.data() ||
                                 part.body.data() + part.body.size() > body.data() + body.size())) {
        __builtin_trap();
      }
    }
  }
  return 0;
}
