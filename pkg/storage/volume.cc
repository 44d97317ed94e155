#include "pkg/storage/volume.h"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pkg/errors/errors.h"

namespace pixq::storage {
namespace {

namespace fs = std::filesystem;

absl::Status IoError(const std::string& what, int err) {
  const std::string message = absl::StrCat(what, ": ", std::strerror(err));
  if (err == ENOSPC || err == EDQUOT) {
    // A full volume may be emptied by expiry or an operator: worth trying again later.
    return errors::Make(errors::Reason::kVolumeFull, message);
  }
  return errors::Make(errors::Reason::kStorageError, message);
}

absl::Status InvalidId(std::string_view what) {
  return errors::Make(errors::Reason::kInvalidId,
                      absl::StrCat("not a valid storage name: ", errors::Sv(what)));
}

// Writes all of `bytes` to `fd`, retrying short writes and interrupts.
int WriteAll(int fd, std::string_view bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    done += static_cast<size_t>(n);
  }
  return 0;
}

int FsyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  const int rc = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return rc;
}

// A file being written is an unnamed inode in tmp/ (O_TMPFILE) where the file system allows it:
// a writer killed mid-write leaves nothing behind, the kernel frees it. Only the finished file
// gets a name, by linkat through /proc/self/fd, and is renamed into place at once. Elsewhere
// (NFS, no /proc) the file is named from the start, and a killed writer's leftover is removed
// by the age sweep.
bool AnonymousTmpWorks(const std::string& tmp_dir) {
  const int fd = ::open(tmp_dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  const std::string probe = absl::StrCat(tmp_dir, "/", ::getpid(), "-probe.part");
  const bool linked = ::linkat(AT_FDCWD, absl::StrCat("/proc/self/fd/", fd).c_str(), AT_FDCWD,
                               probe.c_str(), AT_SYMLINK_FOLLOW) == 0;
  ::close(fd);
  if (linked) ::unlink(probe.c_str());
  return linked;
}

// The whole file at `path`. Errors: "NotFound" when it does not exist; IoError's ("VolumeFull",
// "StorageError").
absl::StatusOr<std::string> ReadWhole(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT)
      return errors::Make(errors::Reason::kNotFound, absl::StrCat("no file ", path));
    return IoError("open " + path, errno);
  }
  struct stat st;
  std::string bytes;
  if (::fstat(fd, &st) == 0) bytes.reserve(static_cast<size_t>(st.st_size));
  char buffer[1 << 16];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return IoError("read " + path, err);
    }
    bytes.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return bytes;
}

}  // namespace

bool IsHexId(std::string_view id) {
  if (id.size() != 64) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string OriginalRelativePath(std::string_view id) {
  return absl::StrCat("originals/", errors::Sv(id.substr(0, 2)), "/", errors::Sv(id));
}

std::string OutputRelativePath(std::string_view key, std::string_view ext) {
  return absl::StrCat("outputs/", errors::Sv(key.substr(0, 2)), "/", errors::Sv(key), ".",
                      errors::Sv(ext));
}

absl::Status ValidateId(std::string_view id) {
  return IsHexId(id) ? absl::OkStatus() : InvalidId(id);
}

absl::Status ValidateExtension(std::string_view ext) {
  return ext == "jpg" || ext == "png" || ext == "webp" ? absl::OkStatus() : InvalidId(ext);
}

absl::Status ValidateRelativePath(std::string_view path) {
  // Only the shapes this store hands out: originals/<aa>/<id> and outputs/<aa>/<key>.<ext>.
  if (path.rfind("originals/", 0) == 0) {
    const std::string_view id = path.substr(std::string_view("originals/").size() + 3);
    if (path.size() == 10 + 3 + 64 && IsHexId(id) && path.substr(10, 2) == id.substr(0, 2) &&
        path[12] == '/') {
      return absl::OkStatus();
    }
  } else if (path.rfind("outputs/", 0) == 0 && path.size() > 8 + 3 + 64 + 1) {
    const std::string_view key = path.substr(8 + 3, 64);
    const std::string_view rest = path.substr(8 + 3 + 64);
    if (IsHexId(key) && path.substr(8, 2) == key.substr(0, 2) && path[10] == '/' &&
        rest.size() > 1 && rest[0] == '.' && ValidateExtension(rest.substr(1)).ok()) {
      return absl::OkStatus();
    }
  }
  return InvalidId(path);
}

absl::StatusOr<std::unique_ptr<VolumeStore>> VolumeStore::Open(std::string root,
                                                               absl::Duration tmp_max_age) {
  std::error_code ec;
  if (root.empty()) return errors::Make(errors::Reason::kInvalidConfig, "storage.root: is empty");
  fs::path absolute = fs::absolute(root, ec);
  if (ec) return IoError("storage root " + root, ec.value());
  for (const char* sub : {"originals", "outputs", "tmp"}) {
    fs::create_directories(absolute / sub, ec);
    if (ec) return IoError(absl::StrCat("create ", (absolute / sub).string()), ec.value());
  }
  if (::access((absolute / "tmp").c_str(), W_OK) != 0) {
    return IoError("storage root " + absolute.string() + " is not writable", errno);
  }
  auto store = std::unique_ptr<VolumeStore>(new VolumeStore(absolute.lexically_normal().string()));
  store->anonymous_tmp_ = AnonymousTmpWorks(store->root_ + "/tmp");
  store->SweepTmp(tmp_max_age);
  return store;
}

std::string VolumeStore::AbsolutePath(std::string_view relative_path) const {
  return absl::StrCat(root_, "/", errors::Sv(relative_path));
}

absl::Status VolumeStore::WriteAtomically(const std::string& relative_path,
                                          std::string_view bytes) {
  static std::atomic<uint64_t> counter{0};
  thread_local absl::BitGen gen;
  const std::string tmp_dir = root_ + "/tmp";
  const std::string tmp = absl::StrCat(tmp_dir, "/", ::getpid(), "-", counter.fetch_add(1), "-",
                                       absl::Uniform<uint64_t>(gen), ".part");
  const int fd = anonymous_tmp_
                     ? ::open(tmp_dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644)
                     : ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return IoError("create " + tmp, errno);
  int err = WriteAll(fd, bytes);
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  if (err == 0 && anonymous_tmp_ &&
      ::linkat(AT_FDCWD, absl::StrCat("/proc/self/fd/", fd).c_str(), AT_FDCWD, tmp.c_str(),
               AT_SYMLINK_FOLLOW) != 0) {
    err = errno;
  }
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err != 0) {
    ::unlink(tmp.c_str());
    return IoError("write " + tmp, err);
  }
  const std::string target = AbsolutePath(relative_path);
  const std::string dir = fs::path(target).parent_path().string();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    ::unlink(tmp.c_str());
    return IoError("create " + dir, ec.value());
  }
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    err = errno;
    ::unlink(tmp.c_str());
    return IoError("rename into " + target, err);
  }
  if ((err = FsyncDirectory(dir)) != 0) return IoError("sync " + dir, err);
  return absl::OkStatus();
}

absl::Status VolumeStore::PutOriginal(std::string_view id, std::string_view bytes) {
  PIXQ_RETURN_IF_ERROR(ValidateId(id));
  if (HasOriginal(id)) return absl::OkStatus();
  return WriteAtomically(OriginalRelativePath(id), bytes);
}

absl::StatusOr<std::string> VolumeStore::ReadOriginal(std::string_view id) const {
  PIXQ_RETURN_IF_ERROR(ValidateId(id));
  absl::StatusOr<std::string> bytes = ReadWhole(AbsolutePath(OriginalRelativePath(id)));
  if (absl::IsNotFound(bytes.status())) {
    return errors::Make(errors::Reason::kImageNotFound,
                        absl::StrCat("no original for image ", errors::Sv(id)));
  }
  return bytes;
}

absl::StatusOr<std::string> VolumeStore::Read(std::string_view relative_path) const {
  PIXQ_RETURN_IF_ERROR(ValidateRelativePath(relative_path));
  return ReadWhole(AbsolutePath(relative_path));
}

bool VolumeStore::HasOriginal(std::string_view id) const {
  if (!IsHexId(id)) return false;
  struct stat st;
  return ::stat(AbsolutePath(OriginalRelativePath(id)).c_str(), &st) == 0;
}

absl::Status VolumeStore::RemoveOriginal(std::string_view id) {
  PIXQ_RETURN_IF_ERROR(ValidateId(id));
  return Remove(OriginalRelativePath(id));
}

absl::StatusOr<std::string> VolumeStore::PutOutput(std::string_view key, std::string_view ext,
                                                   std::string_view bytes) {
  PIXQ_RETURN_IF_ERROR(ValidateId(key));
  PIXQ_RETURN_IF_ERROR(ValidateExtension(ext));
  const std::string relative = OutputRelativePath(key, ext);
  PIXQ_RETURN_IF_ERROR(WriteAtomically(relative, bytes));
  return relative;
}

std::string VolumeStore::OutputPath(std::string_view key, std::string_view ext) const {
  return OutputRelativePath(key, ext);
}

bool VolumeStore::Exists(std::string_view relative_path) const {
  if (!ValidateRelativePath(relative_path).ok()) return false;
  struct stat st;
  return ::stat(AbsolutePath(relative_path).c_str(), &st) == 0;
}

absl::StatusOr<int64_t> VolumeStore::SizeOf(std::string_view relative_path) const {
  PIXQ_RETURN_IF_ERROR(ValidateRelativePath(relative_path));
  struct stat st;
  if (::stat(AbsolutePath(relative_path).c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return errors::Make(errors::Reason::kNotFound,
                          absl::StrCat("no file ", errors::Sv(relative_path)));
    }
    return IoError("stat", errno);
  }
  return static_cast<int64_t>(st.st_size);
}

absl::Status VolumeStore::Remove(std::string_view relative_path) {
  PIXQ_RETURN_IF_ERROR(ValidateRelativePath(relative_path));
  if (::unlink(AbsolutePath(relative_path).c_str()) != 0 && errno != ENOENT) {
    return IoError("remove", errno);
  }
  return absl::OkStatus();
}

int VolumeStore::SweepTmp(absl::Duration max_age) {
  int removed = 0;
  std::error_code ec;
  const auto now = fs::file_time_type::clock::now();
  for (const fs::directory_entry& entry : fs::directory_iterator(root_ + "/tmp", ec)) {
    const auto written = entry.last_write_time(ec);
    if (ec) continue;
    if (now - written > absl::ToChronoSeconds(max_age) && entry.is_regular_file(ec)) {
      if (fs::remove(entry.path(), ec)) ++removed;
    }
  }
  return removed;
}

std::vector<VolumeStore::StoredOutput> VolumeStore::ListOutputs() const {
  std::vector<StoredOutput> out;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(fs::path(root_) / "outputs", ec), end; !ec && it != end;
       it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    const std::string relative = fs::relative(it->path(), root_, ec).string();
    if (ec || !ValidateRelativePath(relative).ok()) continue;
    struct stat st;
    if (::stat(it->path().c_str(), &st) != 0) continue;
    out.push_back({.relative_path = relative,
                   .key = relative.substr(std::string_view("outputs/").size() + 3, 64),
                   .bytes = static_cast<int64_t>(st.st_size),
                   .modified = absl::TimeFromTimespec(st.st_mtim)});
  }
  return out;
}

}  // namespace pixq::storage
