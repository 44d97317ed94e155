#pragma once

// multipart/form-data (RFC 7578) request bodies, as browsers and curl -F send them.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace pixq::http {

struct MultipartPart {
  std::string name;
  std::string filename;  // empty for plain fields
  std::string content_type;
  std::string_view body;  // a view into the parsed body: no copy of the bytes
};

// Splits `body` by the boundary named in `content_type` ("multipart/form-data; boundary=…",
// quoted or not). Accepts CRLF and bare LF line ends, a preamble and an epilogue.
// Errors: "InvalidMultipart" (400) for a missing boundary, a part without headers or a name, or a
// body that does not end with the closing delimiter.
[[nodiscard]] absl::StatusOr<std::vector<MultipartPart>> ParseMultipart(
    std::string_view content_type, std::string_view body);

}  // namespace pixq::http
