#pragma once

// The few POSIX file operations pkg/devlog needs, as Status values. Errors: kStorageError with
// the path and errno's text.

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace pixq::devlog {

// The file's bytes; "" when it does not exist.
[[nodiscard]] absl::StatusOr<std::string> ReadWholeFile(const std::string& path);
// Writes all of `bytes` to `fd` (retrying short writes and EINTR).
[[nodiscard]] absl::Status WriteAll(int fd, std::string_view bytes, const std::string& path);
// fdatasync(2).
[[nodiscard]] absl::Status SyncFd(int fd, const std::string& path);
// fsync(2) of a directory, so a rename or a new file in it survives a crash.
[[nodiscard]] absl::Status SyncDirectory(const std::string& dir);
// `path` becomes `bytes` through `path`.tmp, fsync, rename and fsync of the directory.
[[nodiscard]] absl::Status WriteFileAtomically(const std::string& path, std::string_view bytes);

}  // namespace pixq::devlog
