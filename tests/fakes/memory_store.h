#pragma once

// An in-memory storage::Store for unit tests, with the same validation and paths as VolumeStore.
// Thread-safe.

#include <map>
#include <mutex>

#include "absl/strings/str_cat.h"

#include "pkg/errors/errors.h"
#include "pkg/storage/store.h"

namespace pixq::testing {

class MemoryStore final : public storage::Store {
 public:
  absl::Status PutOriginal(std::string_view id, std::string_view bytes) override {
    PIXQ_RETURN_IF_ERROR(storage::ValidateId(id));
    std::lock_guard<std::mutex> lock(mu_);
    files_.try_emplace(storage::OriginalRelativePath(id), bytes);
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> ReadOriginal(std::string_view id) const override {
    PIXQ_RETURN_IF_ERROR(storage::ValidateId(id));
    std::lock_guard<std::mutex> lock(mu_);
    auto it = files_.find(storage::OriginalRelativePath(id));
    if (it == files_.end()) return errors::Make(errors::Reason::kImageNotFound, "no original");
    return it->second;
  }
  bool HasOriginal(std::string_view id) const override {
    std::lock_guard<std::mutex> lock(mu_);
    return storage::IsHexId(id) && files_.contains(storage::OriginalRelativePath(id));
  }
  absl::Status RemoveOriginal(std::string_view id) override {
    PIXQ_RETURN_IF_ERROR(storage::ValidateId(id));
    return Remove(storage::OriginalRelativePath(id));
  }
  absl::StatusOr<std::string> PutOutput(std::string_view key, std::string_view ext,
                                        std::string_view bytes) override {
    PIXQ_RETURN_IF_ERROR(storage::ValidateId(key));
    PIXQ_RETURN_IF_ERROR(storage::ValidateExtension(ext));
    std::lock_guard<std::mutex> lock(mu_);
    const std::string path = storage::OutputRelativePath(key, ext);
    files_[path] = std::string(bytes);
    return path;
  }
  std::string OutputPath(std::string_view key, std::string_view ext) const override {
    return storage::OutputRelativePath(key, ext);
  }
  bool Exists(std::string_view relative_path) const override {
    std::lock_guard<std::mutex> lock(mu_);
    return files_.contains(std::string(relative_path));
  }
  absl::StatusOr<int64_t> SizeOf(std::string_view relative_path) const override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = files_.find(std::string(relative_path));
    if (it == files_.end()) return errors::Make(errors::Reason::kNotFound, "no file");
    return static_cast<int64_t>(it->second.size());
  }
  absl::StatusOr<std::string> Read(std::string_view relative_path) const override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = files_.find(std::string(relative_path));
    if (it == files_.end()) return errors::Make(errors::Reason::kNotFound, "no file");
    return it->second;
  }
  absl::Status Remove(std::string_view relative_path) override {
    PIXQ_RETURN_IF_ERROR(storage::ValidateRelativePath(relative_path));
    std::lock_guard<std::mutex> lock(mu_);
    files_.erase(std::string(relative_path));
    return absl::OkStatus();
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string, std::less<>> files_;
};

}  // namespace pixq::testing
