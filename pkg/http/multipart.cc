#include "pkg/http/multipart.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

#include "pkg/errors/errors.h"

namespace pixq::http {
namespace {

absl::Status Bad(std::string_view what) {
  return errors::Invalid("InvalidMultipart", absl::StrCat("multipart body: ", errors::Sv(what)));
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// The value of parameter `name` in a header value like `form-data; name="a"; filename=b.jpg`.
// Quoted values may contain ';' and backslash escapes.
std::string Param(std::string_view header, std::string_view name) {
  size_t i = header.find(';');
  while (i != std::string_view::npos && i < header.size()) {
    ++i;  // past ';'
    while (i < header.size() && (header[i] == ' ' || header[i] == '\t')) ++i;
    const size_t key_start = i;
    while (i < header.size() && header[i] != '=' && header[i] != ';') ++i;
    const std::string_view key = Trim(header.substr(key_start, i - key_start));
    std::string value;
    if (i < header.size() && header[i] == '=') {
      ++i;
      while (i < header.size() && header[i] == ' ') ++i;
      if (i < header.size() && header[i] == '"') {
        for (++i; i < header.size() && header[i] != '"'; ++i) {
          if (header[i] == '\\' && i + 1 < header.size()) ++i;
          value.push_back(header[i]);
        }
        if (i < header.size()) ++i;  // closing quote
      } else {
        const size_t value_start = i;
        while (i < header.size() && header[i] != ';') ++i;
        value = std::string(Trim(header.substr(value_start, i - value_start)));
      }
    }
    if (absl::EqualsIgnoreCase(errors::Sv(key), errors::Sv(name))) return value;
    i = header.find(';', i);
  }
  return "";
}

// The next line of `text` starting at `pos` (without its CRLF or LF); advances `pos` past it.
bool NextLine(std::string_view text, size_t& pos, std::string_view& line) {
  if (pos >= text.size()) return false;
  size_t end = text.find('\n', pos);
  if (end == std::string_view::npos) end = text.size();
  line = text.substr(pos, end - pos);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  pos = end + 1;
  return true;
}

// Whether a delimiter found at `at` really is one: at the start of a line, and followed by "--"
// (the closing one) or by optional blanks and a line end.
bool IsDelimiterAt(std::string_view body, size_t at, size_t length) {
  if (at != 0 && body[at - 1] != '\n') return false;
  size_t i = at + length;
  if (body.substr(i, 2) == "--") return true;
  while (i < body.size() && (body[i] == ' ' || body[i] == '\t')) ++i;
  return i < body.size() && (body[i] == '\r' || body[i] == '\n');
}

}  // namespace

absl::StatusOr<std::vector<MultipartPart>> ParseMultipart(std::string_view content_type,
                                                          std::string_view body) {
  const std::string boundary = Param(content_type, "boundary");
  if (boundary.empty() || boundary.size() > 200) {
    return Bad("the Content-Type names no boundary");
  }
  const std::string delimiter = "--" + boundary;

  // Find the first delimiter at the start of a line (anything before it is the preamble).
  size_t pos = 0;
  while (true) {
    const size_t found = body.find(delimiter, pos);
    if (found == std::string_view::npos) return Bad("no boundary delimiter found");
    if (IsDelimiterAt(body, found, delimiter.size())) {
      pos = found;
      break;
    }
    pos = found + 1;
  }

  std::vector<MultipartPart> parts;
  while (true) {
    // pos is at a delimiter line.
    pos += delimiter.size();
    if (body.substr(pos, 2) == "--") return parts;  // the closing delimiter; the rest is epilogue
    std::string_view rest_of_line;
    if (!NextLine(body, pos, rest_of_line) || !Trim(rest_of_line).empty()) {
      return Bad("malformed boundary line");
    }
    // Headers until an empty line.
    MultipartPart part;
    bool has_disposition = false;
    std::string_view line;
    while (true) {
      if (!NextLine(body, pos, line)) return Bad("a part ends inside its headers");
      if (line.empty()) break;
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos) return Bad("a part header has no ':'");
      const std::string_view name = Trim(line.substr(0, colon));
      const std::string_view value = Trim(line.substr(colon + 1));
      if (absl::EqualsIgnoreCase(errors::Sv(name), "Content-Disposition")) {
        has_disposition = true;
        part.name = Param(value, "name");
        part.filename = Param(value, "filename");
      } else if (absl::EqualsIgnoreCase(errors::Sv(name), "Content-Type")) {
        part.content_type = std::string(value);
      }
    }
    if (!has_disposition || part.name.empty()) return Bad("a part has no Content-Disposition name");
    // The body runs to the next delimiter that starts a line; the line break before it belongs to
    // the delimiter.
    const size_t body_start = pos;
    size_t search = pos;
    while (true) {
      const size_t found = body.find(delimiter, search);
      if (found == std::string_view::npos) return Bad("the closing boundary is missing");
      if (found > 0 && IsDelimiterAt(body, found, delimiter.size())) {
        size_t end = found - 1;
        if (end > body_start && body[end - 1] == '\r') --end;
        if (end < body_start) end = body_start;
        part.body = body.substr(body_start, end - body_start);
        pos = found;
        break;
      }
      search = found + 1;
    }
    parts.push_back(std::move(part));
  }
}

}  // namespace pixq::http
