#pragma once

// The shared volume of ../shared/DESIGN.md, as the seam the API and the workers store bytes
// through:
//
//   <root>/originals/<aa>/<sha256>          uploaded bytes, immutable, content-addressed
//   <root>/outputs/<aa>/<output key>.<ext>  results, immutable, shared by identical jobs
//   <root>/tmp/                             partial writes, renamed into place
//
// Every path handed out is relative to the root. Ids and keys must be 64 lowercase hex
// characters, extensions one of jpg, png, webp: anything else is refused ("InvalidId"), so a
// user's file name never becomes a path. Writes are atomic (a reader sees all the bytes or no
// file) and idempotent. Implementations are thread-safe.

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace pixq::storage {

class Store {
 public:
  virtual ~Store() = default;

  // Stores an original under its id. An existing one is left untouched (same id, same bytes).
  [[nodiscard]] virtual absl::Status PutOriginal(std::string_view id, std::string_view bytes) = 0;
  // Errors: "ImageNotFound" (kNotFound).
  [[nodiscard]] virtual absl::StatusOr<std::string> ReadOriginal(std::string_view id) const = 0;
  [[nodiscard]] virtual bool HasOriginal(std::string_view id) const = 0;
  // A missing original is not an error.
  [[nodiscard]] virtual absl::Status RemoveOriginal(std::string_view id) = 0;

  // Writes an output atomically and returns its relative path. The same key always gives the same
  // path; writing it again replaces the bytes atomically.
  [[nodiscard]] virtual absl::StatusOr<std::string> PutOutput(std::string_view key,
                                                              std::string_view ext,
                                                              std::string_view bytes) = 0;
  // The relative path an output with this key and extension has. No I/O.
  [[nodiscard]] virtual std::string OutputPath(std::string_view key,
                                               std::string_view ext) const = 0;

  [[nodiscard]] virtual bool Exists(std::string_view relative_path) const = 0;
  [[nodiscard]] virtual absl::StatusOr<int64_t> SizeOf(std::string_view relative_path) const = 0;
  // The whole file. Errors: kNotFound when it does not exist.
  [[nodiscard]] virtual absl::StatusOr<std::string> Read(std::string_view relative_path) const = 0;
  // A missing file is not an error.
  [[nodiscard]] virtual absl::Status Remove(std::string_view relative_path) = 0;
};

// Whether `id` is 64 lowercase hex characters.
[[nodiscard]] bool IsHexId(std::string_view id);

// "originals/<aa>/<id>" and "outputs/<aa>/<key>.<ext>" (no validation).
[[nodiscard]] std::string OriginalRelativePath(std::string_view id);
[[nodiscard]] std::string OutputRelativePath(std::string_view key, std::string_view ext);

// Checks an id, an extension, or a relative path handed in from outside. Errors: "InvalidId".
[[nodiscard]] absl::Status ValidateId(std::string_view id);
[[nodiscard]] absl::Status ValidateExtension(std::string_view ext);
[[nodiscard]] absl::Status ValidateRelativePath(std::string_view relative_path);

}  // namespace pixq::storage
