#include "pkg/fetch/endpoint.h"

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <system_error>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pkg/errors/errors.h"
#include "pkg/fetch/curl_handle.h"

namespace pixq::fetch {
namespace {

// mkstemp's template: a download to "dir/NAME" is written to "dir/.NAME.XXXXXX" first.
constexpr absl::string_view kTempSuffix = ".XXXXXX";

std::string TempTemplate(const std::filesystem::path& out) {
  return (out.parent_path() / absl::StrCat(".", out.filename().string(), kTempSuffix)).string();
}

struct MimeDeleter {
  void operator()(curl_mime* m) const { curl_mime_free(m); }
};

// Where an answer's body goes: memory, or for a 2xx answer with an output file, that file's
// temporary sibling. libcurl knows the status by the time the first byte of the body arrives.
struct Sink {
  CURL* curl = nullptr;
  std::FILE* file = nullptr;  // the temporary file, when there is an output file
  std::string body;
  int64_t bytes = 0;
  bool write_failed = false;
  Headers headers;
};

// One header line of the answer ("Name: value\r\n"); the status line and the blank one are not.
size_t ReadHeader(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const std::string_view line(data, size * n);
  if (const size_t colon = line.find(':'); colon != std::string_view::npos) {
    sink->headers.emplace_back(
        absl::AsciiStrToLower(errors::Sv(line.substr(0, colon))),
        std::string(absl::StripAsciiWhitespace(errors::Sv(line.substr(colon + 1)))));
  } else if (line.substr(0, 5) == "HTTP/") {
    sink->headers.clear();  // a new answer (after a 100 Continue): only the last one's count
  }
  return size * n;
}

size_t WriteBody(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const size_t length = size * n;
  long status = 0;
  curl_easy_getinfo(sink->curl, CURLINFO_RESPONSE_CODE, &status);
  if (sink->file != nullptr && status >= 200 && status < 300) {
    if (std::fwrite(data, 1, length, sink->file) != length) {
      sink->write_failed = true;
      return 0;  // libcurl stops with CURLE_WRITE_ERROR
    }
  } else {
    sink->body.append(data, length);
  }
  sink->bytes += static_cast<int64_t>(length);
  return length;
}

// Builds a list of "Name: value" lines; nullptr-safe when empty.
absl::StatusOr<internal::CurlList> HeaderList(const Headers& headers) {
  internal::CurlList list;
  for (const auto& [name, value] : headers) {
    // "Name:" with nothing after it tells libcurl not to send its own such header.
    curl_slist* appended = curl_slist_append(
        list.get(),
        (value.empty() ? absl::StrCat(name, ":") : absl::StrCat(name, ": ", value)).c_str());
    if (appended == nullptr) {
      return errors::Make(errors::Reason::kEndpointUnreachable, "out of memory");
    }
    (void)list.release();
    list.reset(appended);
  }
  return list;
}

// The settings every request to an operator's endpoint shares.
void CommonOptions(CURL* c, const std::string& url, absl::Duration connect_timeout,
                   absl::Duration timeout) {
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(connect_timeout)));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(absl::ToInt64Milliseconds(timeout)));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  // An endpoint on loopback is reached directly, whatever proxy the environment names.
  curl_easy_setopt(c, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
}

}  // namespace

int RemoveAbandonedDownloads(const std::vector<std::string>& output_files) {
  namespace fs = std::filesystem;
  std::map<fs::path, std::set<std::string>> names_by_folder;
  for (const std::string& file : output_files) {
    const fs::path out(file);
    names_by_folder[out.parent_path()].insert(out.filename().string());
  }
  int removed = 0;
  for (const auto& [folder, names] : names_by_folder) {
    std::error_code ec;
    fs::directory_iterator entries(folder.empty() ? fs::path(".") : folder, ec);
    if (ec) continue;  // not made yet: nothing left in it
    for (const fs::directory_entry& entry : entries) {
      // ".NAME.XXXXXX" for a NAME among the outputs: mkstemp's six characters after the dot.
      const std::string name = entry.path().filename().string();
      if (name.size() < kTempSuffix.size() + 2 || name[0] != '.') continue;
      const size_t dot = name.size() - kTempSuffix.size();
      if (name[dot] != '.' || !names.contains(name.substr(1, dot - 1))) continue;
      if (!entry.is_regular_file(ec)) continue;
      const int fd = ::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
      if (fd < 0) continue;
      // Not locked: no running download writes it.
      if (::flock(fd, LOCK_EX | LOCK_NB) == 0 && ::unlink(entry.path().c_str()) == 0) ++removed;
      ::close(fd);
    }
  }
  return removed;
}

absl::StatusOr<int> PostToEndpoint(std::string_view url_view, std::string_view body,
                                   const Headers& headers, absl::Duration timeout) {
  internal::CurlGlobalInit();
  const std::string url(url_view);
  internal::CurlHandle curl(curl_easy_init());
  if (!curl) return errors::Make(errors::Reason::kEndpointUnreachable, "curl_easy_init failed");
  absl::StatusOr<internal::CurlList> header_list = HeaderList(headers);
  if (!header_list.ok()) return header_list.status();
  CURL* c = curl.get();
  CommonOptions(c, url, timeout, timeout);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  if (*header_list) curl_easy_setopt(c, CURLOPT_HTTPHEADER, header_list->get());
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

absl::StatusOr<EndpointResponse> CallEndpoint(const EndpointRequest& request) {
  const std::string& method = request.method;
  if (method != "GET" && method != "POST" && method != "PUT" && method != "DELETE") {
    return errors::Make(errors::Reason::kInvalidArgument,
                        absl::StrCat("method: ", method, " is not GET, POST, PUT or DELETE"));
  }
  for (const FormPart& part : request.form) {
    // libcurl would find out only while sending, as a bare read error.
    if (!part.file_path.empty() && ::access(part.file_path.c_str(), R_OK) != 0) {
      return errors::Make(errors::Reason::kStorageError,
                          absl::StrCat(part.file_path, ": cannot be read"));
    }
  }
  internal::CurlGlobalInit();
  internal::CurlHandle curl(curl_easy_init());
  if (!curl) return errors::Make(errors::Reason::kEndpointUnreachable, "curl_easy_init failed");
  CURL* c = curl.get();
  Headers headers = request.headers;
  // No "Expect: 100-continue" wait before a large body.
  headers.emplace_back("Expect", "");
  absl::StatusOr<internal::CurlList> header_list = HeaderList(headers);
  if (!header_list.ok()) return header_list.status();
  CommonOptions(c, request.url, request.connect_timeout, request.timeout);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, header_list->get());

  std::unique_ptr<curl_mime, MimeDeleter> mime;
  if (!request.form.empty()) {
    mime.reset(curl_mime_init(c));
    for (const FormPart& part : request.form) {
      curl_mimepart* p = curl_mime_addpart(mime.get());
      curl_mime_name(p, part.name.c_str());
      if (part.file_path.empty()) {
        curl_mime_data(p, part.value.data(), part.value.size());
      } else {
        curl_mime_filedata(p, part.file_path.c_str());  // streamed while sending
        if (!part.filename.empty()) curl_mime_filename(p, part.filename.c_str());
      }
      if (!part.content_type.empty()) curl_mime_type(p, part.content_type.c_str());
    }
    curl_easy_setopt(c, CURLOPT_MIMEPOST, mime.get());
    if (method != "POST") curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  } else if (method == "POST" || method == "PUT") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    if (method == "PUT") curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
  } else if (method == "DELETE") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
  }

  Sink sink{.curl = c};
  std::string temp;
  if (!request.output_file.empty()) {
    // Beside the output, so that the rename stays on one file system.
    const std::filesystem::path out(request.output_file);
    temp = TempTemplate(out);
    const int fd = ::mkstemp(temp.data());
    // Locked while it is written, so that RemoveAbandonedDownloads tells it from the leftover of
    // a killed process (the kernel drops the lock with the process). A fresh file: never busy.
    if (fd >= 0) (void)::flock(fd, LOCK_EX | LOCK_NB);
    if (fd < 0) {
      return errors::Make(errors::Reason::kStorageError,
                          absl::StrCat(request.output_file, ": cannot be written"));
    }
    sink.file = ::fdopen(fd, "wb");
    if (sink.file == nullptr) {
      ::close(fd);
      ::unlink(temp.c_str());
      return errors::Make(errors::Reason::kStorageError,
                          absl::StrCat(request.output_file, ": cannot be written"));
    }
  }
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &WriteBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &ReadHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &sink);
  const CURLcode code = curl_easy_perform(c);

  EndpointResponse response;
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  char* content_type = nullptr;
  if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &content_type) == CURLE_OK &&
      content_type != nullptr) {
    response.content_type = content_type;
  }
  response.body = std::move(sink.body);
  response.bytes = sink.bytes;
  response.headers = std::move(sink.headers);
  if (sink.file != nullptr) {
    const bool written = std::fflush(sink.file) == 0 && ::fsync(::fileno(sink.file)) == 0;
    const bool keep =
        code == CURLE_OK && written && !sink.write_failed && status >= 200 && status < 300;
    // Renamed (or removed) while still locked, so that no cleaner takes it for a leftover.
    const bool renamed = keep && ::rename(temp.c_str(), request.output_file.c_str()) == 0;
    if (!renamed) ::unlink(temp.c_str());
    const bool closed = std::fclose(sink.file) == 0;
    if (renamed && closed) {
      ::chmod(request.output_file.c_str(), 0644);  // mkstemp made it 0600
    } else {
      if (renamed) ::unlink(request.output_file.c_str());
      if (sink.write_failed || (code == CURLE_OK && status >= 200 && status < 300)) {
        return errors::Make(errors::Reason::kStorageError,
                            absl::StrCat(request.output_file, ": cannot be written"));
      }
    }
  }
  if (code != CURLE_OK) {
    return errors::Make(errors::Reason::kEndpointUnreachable, curl_easy_strerror(code));
  }
  return response;
}

}  // namespace pixq::fetch
