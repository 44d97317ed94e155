#include "pkg/multipart/multipart.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

#include "pkg/errors/errors.h"

namespace pixq::multipart {
namespace {

absl::Status Bad(std::string_view what) {
  return errors::Make(errors::Reason::kInvalidMultipart,
                      absl::StrCat("multipart body: ", errors::Sv(what)));
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

enum class Delimiter { kYes, kNo, kNotYet };

// IsDelimiterAt for a body still arriving: kNotYet while the bytes that decide are not there.
Delimiter DelimiterAt(std::string_view body, size_t at, size_t length) {
  if (at != 0 && body[at - 1] != '\n') return Delimiter::kNo;
  size_t i = at + length;
  if (i + 1 < body.size() && body[i] == '-' && body[i + 1] == '-') return Delimiter::kYes;
  if (i + 1 == body.size() && body[i] == '-') return Delimiter::kNotYet;
  while (i < body.size() && (body[i] == ' ' || body[i] == '\t')) ++i;
  if (i >= body.size()) return Delimiter::kNotYet;
  return body[i] == '\r' || body[i] == '\n' ? Delimiter::kYes : Delimiter::kNo;
}

// Where a search for a string of `length` bytes may resume in a buffer of `size` bytes that will
// grow: no earlier start can still turn into a match.
size_t ResumeAt(size_t from, size_t size, size_t length) {
  return std::max(from, size >= length ? size - length + 1 : size_t{0});
}

// The most bytes of part headers (with the delimiter line) waited for before giving up.
constexpr size_t kMaxPartHeaders = 64 * 1024;
// The most blanks after a delimiter waited for before giving up (the stream looks at them again
// with each chunk until the line's end arrives).
constexpr size_t kMaxBlanks = 256;

}  // namespace

MultipartImageStream::MultipartImageStream(std::string_view content_type) {
  const std::string boundary = Param(content_type, "boundary");
  if (boundary.empty() || boundary.size() > 200) {
    stage_ = Stage::kGaveUp;
  } else {
    delimiter_ = "--" + boundary;
  }
}

std::optional<std::pair<size_t, size_t>> MultipartImageStream::Range() const {
  if (stage_ != Stage::kDone) return std::nullopt;
  return std::make_pair(start_, end_ - start_);
}

bool MultipartImageStream::TooManyBlanks(std::string_view body, size_t delimiter_at) const {
  return body.size() > delimiter_at + delimiter_.size() + kMaxBlanks;
}

std::optional<std::string_view> MultipartImageStream::NextLine(std::string_view body) {
  const size_t newline = body.find('\n', std::max(line_pos_, newline_from_));
  if (newline == std::string_view::npos) {
    newline_from_ = body.size();  // what is here has been looked through
    return std::nullopt;
  }
  std::string_view line = body.substr(line_pos_, newline - line_pos_);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  line_pos_ = newline_from_ = newline + 1;
  return line;
}

std::string_view MultipartImageStream::Feed(std::string_view body) {
  while (stage_ == Stage::kFindPart || stage_ == Stage::kHeaders) {
    if (stage_ == Stage::kFindPart) {
      const size_t found = body.find(delimiter_, scan_);
      if (found == std::string_view::npos) {
        scan_ = ResumeAt(scan_, body.size(), delimiter_.size());
        return {};
      }
      const Delimiter d = DelimiterAt(body, found, delimiter_.size());
      if (d == Delimiter::kNotYet) {
        // Only blanks after it so far: looked at again with each chunk, so a bounded number.
        if (TooManyBlanks(body, found)) stage_ = Stage::kGaveUp;
        scan_ = found;
        return {};
      }
      if (d == Delimiter::kNo) {
        scan_ = found + 1;
        continue;
      }
      const size_t after = found + delimiter_.size();
      if (body.substr(after, 2) == "--") {
        stage_ = Stage::kGaveUp;  // the closing delimiter: no part named image or file
        return {};
      }
      // The rest of the delimiter line, then the part's headers up to an empty line, read a
      // complete line at a time as they arrive.
      stage_ = Stage::kHeaders;
      part_at_ = found;
      line_pos_ = newline_from_ = after;
      lines_ = 0;
      name_.clear();
    }
    while (true) {
      if (body.size() > part_at_ + kMaxPartHeaders) {
        stage_ = Stage::kGaveUp;
        return {};
      }
      const std::optional<std::string_view> line = NextLine(body);
      if (!line) return {};
      if (lines_++ == 0) {  // the delimiter line's end: blanks only
        if (!Trim(*line).empty()) {
          stage_ = Stage::kGaveUp;
          return {};
        }
        continue;
      }
      if (line->empty()) break;  // the end of the headers
      const size_t colon = line->find(':');
      if (colon == std::string_view::npos) {
        stage_ = Stage::kGaveUp;
        return {};
      }
      if (absl::EqualsIgnoreCase(errors::Sv(Trim(line->substr(0, colon))), "Content-Disposition")) {
        name_ = Param(Trim(line->substr(colon + 1)), "name");
      }
    }
    if (name_ == "image" || name_ == "file") {
      stage_ = Stage::kHashing;
      start_ = handed_ = search_ = line_pos_;
    } else {
      stage_ = Stage::kFindPart;
      scan_ = line_pos_;  // the next delimiter ends this part and starts the next
    }
  }
  if (stage_ != Stage::kHashing) return {};
  // Bytes that could still be the line break before a delimiter not all here yet stay back.
  const size_t held = delimiter_.size() + 2;
  size_t certain = body.size() >= held ? body.size() - held : 0;
  while (true) {
    const size_t found = body.find(delimiter_, search_);
    if (found == std::string_view::npos) {
      search_ = ResumeAt(search_, body.size(), delimiter_.size());
      break;
    }
    const Delimiter d = DelimiterAt(body, found, delimiter_.size());
    if (d == Delimiter::kNo) {
      search_ = found + 1;
      continue;
    }
    if (d == Delimiter::kNotYet) {
      if (TooManyBlanks(body, found)) {
        stage_ = Stage::kGaveUp;  // as above
        return {};
      }
      certain = std::min(certain, found >= 2 ? found - 2 : size_t{0});
      search_ = found;
      break;
    }
    // The part ends here; the line break before the delimiter belongs to the delimiter.
    size_t end = found - 1;
    if (end > start_ && body[end - 1] == '\r') --end;
    if (end < start_) end = start_;
    if (end < handed_) {  // cannot happen (bytes are held back); never hand out a byte twice
      stage_ = Stage::kGaveUp;
      return {};
    }
    const std::string_view out = body.substr(handed_, end - handed_);
    handed_ = end_ = end;
    stage_ = Stage::kDone;
    return out;
  }
  if (certain <= handed_) return {};
  const std::string_view out = body.substr(handed_, certain - handed_);
  handed_ = certain;
  return out;
}

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

}  // namespace pixq::multipart
