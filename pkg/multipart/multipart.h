#pragma once

// multipart/form-data (RFC 7578) request bodies, as browsers and curl -F send them.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace pixq::multipart {

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

// Follows a multipart/form-data body while it arrives and hands out, piece by piece, the bytes of
// its first part named "image" or "file" (the part an upload takes), each once it is certain to be
// that part's content and not the line break of the delimiter that ends it; so an upload can be
// hashed while it is received. What it hands out, concatenated, is what ParseMultipart gives as
// that part's body, whenever the latter accepts the whole body (tests/http/multipart_test.cc, and
// the fuzz target tests/fuzz/multipart_fuzz.cc); a caller still checks Range() against
// ParseMultipart's part before relying on it. Bounds-checked, and linear in the body however it
// arrives (a byte at a time included); gives up (hands out nothing more) on anything it does not
// follow, on part headers over 64 KiB and on over 256 blanks after a delimiter.
class MultipartImageStream final {
 public:
  explicit MultipartImageStream(std::string_view content_type);

  // `body` is the body so far: each call's is the previous one's plus what arrived since. Returns
  // the part's bytes that became certain since the last call (a view into `body`; may be empty).
  [[nodiscard]] std::string_view Feed(std::string_view body);

  // Where the part lies in the body, [offset, offset + size), once its end has been seen.
  [[nodiscard]] std::optional<std::pair<size_t, size_t>> Range() const;

 private:
  enum class Stage { kFindPart, kHeaders, kHashing, kDone, kGaveUp };
  // The next complete line from line_pos_ (without its line break), or nullopt while it is still
  // arriving; each byte is looked through once.
  std::optional<std::string_view> NextLine(std::string_view body);
  // Whether more blanks follow the delimiter at `delimiter_at` than are waited for (a delimiter
  // whose line has not ended yet is looked at again with each chunk).
  [[nodiscard]] bool TooManyBlanks(std::string_view body, size_t delimiter_at) const;

  std::string delimiter_;  // "--" + boundary
  Stage stage_ = Stage::kFindPart;
  size_t scan_ = 0;  // kFindPart: where to look for the next delimiter
  // kHeaders: where the part's delimiter is, where the next line starts, where to look for its
  // end, how many lines were read, and the part's name so far.
  size_t part_at_ = 0;
  size_t line_pos_ = 0;
  size_t newline_from_ = 0;
  size_t lines_ = 0;
  std::string name_;
  size_t start_ = 0;   // the part's first byte
  size_t handed_ = 0;  // bytes of the part handed out end here
  size_t search_ = 0;  // kHashing: where to look for the delimiter that ends the part
  size_t end_ = 0;     // kDone: the part's end
};

}  // namespace pixq::multipart
