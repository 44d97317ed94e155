#include "pkg/devlog/data_dir.h"

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

#include "pkg/devlog/fs.h"
#include "pkg/devlog/log_file.h"
#include "pkg/errors/errors.h"

namespace pixq::devlog {
namespace {

namespace fs = std::filesystem;

constexpr char kCurrent[] = "CURRENT";
constexpr char kOffsets[] = "group-offsets";
constexpr char kLogSuffix[] = ".log";
// Kafka topic names are [a-zA-Z0-9._-]: '~' cannot be part of one.
constexpr char kSeparator = '~';

absl::Status StorageError(std::string_view what, const std::string& path,
                          const std::error_code& ec) {
  return errors::Make(errors::Reason::kStorageError,
                      absl::StrCat(std::string(what), " ", path, ": ", ec.message()));
}

// "pixq.jobs~3.log" -> {pixq.jobs, 3}
std::optional<PartitionId> ParseLogName(absl::string_view name) {
  if (!absl::ConsumeSuffix(&name, kLogSuffix)) return std::nullopt;
  const size_t sep = name.rfind(kSeparator);
  if (sep == absl::string_view::npos || sep == 0) return std::nullopt;
  PartitionId id{.topic = std::string(name.substr(0, sep))};
  const absl::string_view number = name.substr(sep + 1);
  const auto [end, ec] =
      std::from_chars(number.data(), number.data() + number.size(), id.partition);
  if (ec != std::errc() || end != number.data() + number.size() || id.partition < 0) {
    return std::nullopt;
  }
  return id;
}

int GenerationNumber(absl::string_view name) {
  int n = 0;
  if (!absl::ConsumePrefix(&name, "gen-")) return -1;
  const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), n);
  return ec == std::errc() && end == name.data() + name.size() ? n : -1;
}

}  // namespace

absl::StatusOr<DataDir> DataDir::Open(std::string root) {
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) return StorageError("create", root, ec);
  auto current = ReadWholeFile((fs::path(root) / kCurrent).string());
  if (!current.ok()) return current.status();
  std::string generation(absl::StripAsciiWhitespace(*current));
  if (!generation.empty() && GenerationNumber(generation) < 0) {
    return errors::Make(errors::Reason::kStorageError,
                        absl::StrCat(root, "/CURRENT names no generation: ", generation));
  }
  return DataDir(std::move(root), std::move(generation));
}

std::string DataDir::LogPath(const PartitionId& id) const {
  return (fs::path(root_) / generation_ /
          absl::StrCat(id.topic, std::string(1, kSeparator), id.partition, kLogSuffix))
      .string();
}

absl::StatusOr<std::map<PartitionId, StoredPartition>> DataDir::Load() const {
  std::map<PartitionId, StoredPartition> out;
  if (generation_.empty()) return out;
  const fs::path dir = fs::path(root_) / generation_;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    const std::optional<PartitionId> id = ParseLogName(entry.path().filename().string());
    if (!id) continue;
    auto log = LogFile::Open(entry.path().string(), LogOptions{});
    if (!log.ok()) return log.status();
    out[*id] = StoredPartition{.records = (*log)->TakeRecordsReadAtOpen(),
                               .dropped_bytes = (*log)->dropped_bytes()};
  }
  if (ec) return StorageError("list", dir.string(), ec);
  return out;
}

absl::StatusOr<std::map<PartitionId, int64_t>> DataDir::ReadOffsets() const {
  std::map<PartitionId, int64_t> out;
  if (generation_.empty()) return out;
  const std::string path = (fs::path(root_) / generation_ / kOffsets).string();
  auto text = ReadWholeFile(path);
  if (!text.ok()) return text.status();
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipWhitespace())) {
    std::vector<std::string> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
    PartitionId id;
    int64_t offset = 0;
    if (fields.size() != 3 || std::sscanf(fields[1].c_str(), "%d", &id.partition) != 1 ||
        std::sscanf(fields[2].c_str(), "%ld", &offset) != 1) {
      return errors::Make(
          errors::Reason::kStorageError,
          absl::StrCat(path, ": not \"<topic> <partition> <offset>\": ", std::string(line)));
    }
    id.topic = fields[0];
    out[id] = offset;
  }
  return out;
}

absl::Status DataDir::WriteOffsets(const std::map<PartitionId, int64_t>& offsets) const {
  std::string text;
  for (const auto& [id, offset] : offsets)
    absl::StrAppend(&text, id.topic, " ", id.partition, " ", offset, "\n");
  return WriteFileAtomically((fs::path(root_) / generation_ / kOffsets).string(), text);
}

absl::Status DataDir::StartGeneration(
    const std::map<PartitionId, std::vector<Record>>& partitions) {
  const int next = generation_.empty() ? 1 : GenerationNumber(generation_) + 1;
  const std::string name = absl::StrFormat("gen-%06d", next);
  const fs::path dir = fs::path(root_) / name;
  std::error_code ec;
  fs::remove_all(dir, ec);  // the remains of a start that crashed before switching to it
  fs::create_directories(dir, ec);
  if (ec) return StorageError("create", dir.string(), ec);
  DataDir next_dir(root_, name);
  for (const auto& [id, records] : partitions) {
    if (absl::Status s = WriteLogAtomically(next_dir.LogPath(id), records); !s.ok()) return s;
  }
  if (absl::Status s = WriteFileAtomically((fs::path(root_) / kCurrent).string(), name + "\n");
      !s.ok()) {
    return s;
  }
  generation_ = name;
  // Older generations are no longer read; a failure to remove one only costs disk.
  for (const fs::directory_entry& entry : fs::directory_iterator(root_, ec)) {
    const int n = GenerationNumber(entry.path().filename().string());
    if (n >= 0 && n < next) fs::remove_all(entry.path(), ec);
  }
  return absl::OkStatus();
}

}  // namespace pixq::devlog
