#pragma once

// Percent-decoding (RFC 3986 §2.1), in the two flavours pixq meets. They differ in '+' only:
//   - PercentDecode: '+' is a plus sign. W3C Baggage-style lists such as
//     OTEL_EXPORTER_OTLP_HEADERS, and URI components in general.
//   - PercentDecodeQuery: '+' is a space, as HTML forms send query strings
//     (application/x-www-form-urlencoded).
// An escape that is not '%' and two hex digits (either case) is kept as it is; the result is
// bytes, not checked to be UTF-8. Plain functions, no state.

#include <string>
#include <string_view>

namespace pixq::encoding {

[[nodiscard]] std::string PercentDecode(std::string_view text);
[[nodiscard]] std::string PercentDecodeQuery(std::string_view text);

}  // namespace pixq::encoding
