#pragma once

// The Store on a file system: a local directory, or a ReadWriteMany volume shared by the API and
// every worker. Atomic writes are a unique temporary file under tmp/, written, fsynced and renamed
// into place, then the directory fsynced (LevelDB's SetCurrentFile pattern).

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "pkg/storage/store.h"

namespace pixq::storage {

class VolumeStore final : public Store {
 public:
  // Creates root/{originals,outputs,tmp} as needed and removes files in tmp/ older than
  // `tmp_max_age` (left by a process that died mid-write; other processes share tmp/, so younger
  // files are left alone). Errors: "StorageError" when the root cannot be created or written.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<VolumeStore>> Open(
      std::string root, absl::Duration tmp_max_age);

  // The absolute form of a relative path (for serving files).
  [[nodiscard]] std::string AbsolutePath(std::string_view relative_path) const;
  [[nodiscard]] const std::string& root() const { return root_; }

  absl::Status PutOriginal(std::string_view id, std::string_view bytes) override;
  absl::StatusOr<std::string> ReadOriginal(std::string_view id) const override;
  bool HasOriginal(std::string_view id) const override;
  absl::Status RemoveOriginal(std::string_view id) override;
  absl::StatusOr<std::string> PutOutput(std::string_view key, std::string_view ext,
                                        std::string_view bytes) override;
  std::string OutputPath(std::string_view key, std::string_view ext) const override;
  bool Exists(std::string_view relative_path) const override;
  absl::StatusOr<int64_t> SizeOf(std::string_view relative_path) const override;
  absl::StatusOr<std::string> Read(std::string_view relative_path) const override;
  absl::Status Remove(std::string_view relative_path) override;

  // Removes files in tmp/ older than `max_age`; returns how many.
  int SweepTmp(absl::Duration max_age);

  struct StoredOutput {
    std::string relative_path;  // outputs/<aa>/<key>.<ext>
    std::string key;            // the output key
    int64_t bytes = 0;
    absl::Time modified;
  };
  // Every file under outputs/ with the shape this store writes (others are left alone).
  [[nodiscard]] std::vector<StoredOutput> ListOutputs() const;

 private:
  explicit VolumeStore(std::string root) : root_(std::move(root)) {}
  // Writes `bytes` to `relative_path` through tmp/ and a rename.
  absl::Status WriteAtomically(const std::string& relative_path, std::string_view bytes);

  std::string root_;
  bool anonymous_tmp_ = false;  // files are written as O_TMPFILE inodes (see volume.cc)
};

}  // namespace pixq::storage
