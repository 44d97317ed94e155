#pragma once

// A fresh directory under $TMPDIR for one test, removed with everything in it.

#include <cstdlib>
#include <filesystem>
#include <string>

namespace pixq::devlog {

class ScratchDir final {
 public:
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "pixq-devlog-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace pixq::devlog
