// libFuzzer target: the multipart/form-data parser, and against it the streaming reader that
// hashes an upload's image part while it arrives (MultipartImageStream). The first line of the
// input is the Content-Type header value (so the boundary is fuzzed too), the rest is the body,
// fed to the stream in pieces whose size the input's last byte picks. Whatever the stream hands
// out is the body's range it reports, and when the parser accepts the body, that is the parser's
// first part named "image" or "file".

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "pkg/multipart/multipart.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  const std::string_view content_type =
      newline == std::string_view::npos ? input : input.substr(0, newline);
  const std::string_view body =
      newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);
  auto parts = pixq::multipart::ParseMultipart(content_type, body);

  pixq::multipart::MultipartImageStream stream(content_type);
  const size_t piece = size > 0 ? 1 + data[size - 1] % 61 : 1;
  std::string out;
  for (size_t have = std::min(piece, body.size());; have = std::min(have + piece, body.size())) {
    const std::string_view got = stream.Feed(body.substr(0, have));
    if (!got.empty() &&
        (got.data() < body.data() || got.data() + got.size() > body.data() + have)) {
      __builtin_trap();
    }
    out.append(got);
    if (have == body.size()) break;
  }
  if (auto range = stream.Range()) {
    if (range->first + range->second > body.size() ||
        out != body.substr(range->first, range->second)) {
      __builtin_trap();
    }
    if (parts.ok()) {
      for (const pixq::multipart::MultipartPart& part : *parts) {
        if (part.name != "image" && part.name != "file") continue;
        if (part.body.data() != body.data() + range->first || part.body.size() != range->second) {
          __builtin_trap();
        }
        break;
      }
    }
  }

  if (parts.ok()) {
    for (const pixq::multipart::MultipartPart& part : *parts) {
      // Each part's body lies inside the input it came from.
      if (!part.body.empty() && (part.body.data() < body.data() ||
                                 part.body.data() + part.body.size() > body.data() + body.size())) {
        __builtin_trap();
      }
    }
  }
  return 0;
}
