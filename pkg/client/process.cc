#include "pkg/client/process.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <system_error>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

#include "pkg/crypto/sha256.h"
#include "pkg/errors/errors.h"
#include "pkg/fetch/endpoint.h"

namespace pixq::client {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr size_t kMaxBatch = 1000;  // POST /v1/batches takes at most this many jobs

std::optional<std::string> ExtensionOf(const std::string& format) {
  if (format == "jpeg" || format == "jpg") return "jpg";
  if (format == "png") return "png";
  if (format == "webp") return "webp";
  return std::nullopt;
}

bool Hidden(const fs::path& path) {
  const std::string name = path.filename().string();
  return !name.empty() && name[0] == '.';
}

// Whether `path` is `dir` or lies under it (both made absolute and normal first).
bool Within(const fs::path& path, const fs::path& dir) {
  std::error_code ec;
  const fs::path p = fs::weakly_canonical(fs::absolute(path), ec);
  const fs::path d = fs::weakly_canonical(fs::absolute(dir), ec);
  auto [end, unused] = std::mismatch(d.begin(), d.end(), p.begin(), p.end());
  return end == d.end();
}

struct Found {
  std::string source;
  fs::path relative;  // where its output goes under the output folder, before the extension
  std::string missing;
};

void Walk(const std::string& argument, const fs::path& out_dir, std::vector<Found>& found) {
  std::error_code ec;
  const fs::path root(argument);
  const fs::file_status status = fs::status(root, ec);
  if (ec || !fs::exists(status)) {
    found.push_back(
        {.source = argument, .relative = root.filename(), .missing = "no such file or folder"});
    return;
  }
  if (fs::is_regular_file(status)) {
    found.push_back({.source = argument, .relative = root.filename()});
    return;
  }
  if (!fs::is_directory(status)) {
    // A FIFO or a device would be read forever, or not at all.
    found.push_back({.source = argument,
                     .relative = root.filename(),
                     .missing = "not a regular file or a folder"});
    return;
  }
  std::vector<Found> files;
  for (auto it = fs::recursive_directory_iterator(
           root, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const fs::path& path = it->path();
    if (Hidden(path) || Within(path, out_dir)) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file(ec)) continue;
    files.push_back({.source = path.string(), .relative = path.lexically_relative(root)});
  }
  if (ec) {
    found.push_back({.source = argument,
                     .relative = root.filename(),
                     .missing = absl::StrCat("cannot be read: ", ec.message())});
  }
  std::sort(files.begin(), files.end(),
            [](const Found& a, const Found& b) { return a.source < b.source; });
  for (Found& f : files) found.push_back(std::move(f));
}

}  // namespace

absl::Status ParseResize(std::string_view text, int& width, int& height) {
  const size_t x = text.find_first_of("xX");
  const auto bad = [&] {
    return errors::Make(
        errors::Reason::kInvalidArgument,
        absl::StrCat("--resize: ", errors::Sv(text), " is not WIDTHxHEIGHT (800x600, 800x, x600)"));
  };
  if (x == std::string_view::npos) return bad();
  const std::string_view w = text.substr(0, x);
  const std::string_view h = text.substr(x + 1);
  width = 0;
  height = 0;
  if (!w.empty() && (!absl::SimpleAtoi(errors::Sv(w), &width) || width <= 0)) return bad();
  if (!h.empty() && (!absl::SimpleAtoi(errors::Sv(h), &height) || height <= 0)) return bad();
  if (width == 0 && height == 0) return bad();
  return absl::OkStatus();
}

absl::StatusOr<std::vector<PlannedItem>> Plan(const ProcessOptions& options) {
  const std::optional<std::string> extension = ExtensionOf(options.format);
  if (!extension) {
    return errors::Make(errors::Reason::kInvalidArgument,
                        absl::StrCat("--format: ", options.format, " is not jpeg, png or webp"));
  }
  std::vector<Found> found;
  for (const std::string& source : options.sources) Walk(source, options.out_dir, found);

  // Outputs named by the inputs' names; those that two inputs would share keep the inputs'
  // extensions too, and any clash left after that (the same name given twice) a number.
  const auto name = [&](const fs::path& relative, bool keep_extension) {
    fs::path out = relative;
    if (!keep_extension) out.replace_extension();
    out += "." + *extension;
    return out;
  };
  std::map<fs::path, int> uses;
  for (const Found& f : found) ++uses[name(f.relative, false)];
  std::map<fs::path, int> taken;
  std::vector<PlannedItem> plan;
  for (const Found& f : found) {
    fs::path relative = name(f.relative, uses[name(f.relative, false)] > 1);
    if (int n = taken[relative]++; n > 0) {
      relative.replace_extension();
      relative += absl::StrCat("-", n + 1, ".", *extension);
    }
    PlannedItem item{.source = f.source,
                     .output = (fs::path(options.out_dir) / relative).string(),
                     .missing = f.missing};
    std::error_code ec;
    item.present = f.missing.empty() && fs::is_regular_file(item.output, ec) &&
                   fs::file_size(item.output, ec) > 0;
    plan.push_back(std::move(item));
  }
  return plan;
}

json BatchRest(const ProcessOptions& options) {
  json steps = json::array();
  if (options.width > 0 || options.height > 0) {
    json resize = {{"op", "resize"}, {"fit", options.fit}};
    if (options.width > 0) resize["width"] = options.width;
    if (options.height > 0) resize["height"] = options.height;
    steps.push_back(std::move(resize));
  }
  json output = {{"format", options.format == "jpg" ? "jpeg" : options.format}};
  if (options.quality > 0) output["quality"] = options.quality;
  return {
      {"steps", std::move(steps)}, {"output", std::move(output)}, {"labels", {{"client", "pixq"}}}};
}

std::string BatchKey(const json& rest, const std::vector<std::string>& image_ids) {
  crypto::Sha256 hash;
  hash.Update(rest.dump());  // nlohmann orders object keys: the same options, the same text
  for (const std::string& id : image_ids) {
    hash.Update("\n");
    hash.Update(id);
  }
  return absl::StrCat("pixq-process-", hash.HexDigest());
}

absl::StatusOr<std::string> ContentId(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return errors::Make(errors::Reason::kStorageError, absl::StrCat(path, ": cannot be read"));
  crypto::Sha256 hash;
  std::vector<char> buffer(1 << 16);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    hash.Update(std::string_view(buffer.data(), static_cast<size_t>(in.gcount())));
  }
  if (in.bad()) {
    return errors::Make(errors::Reason::kStorageError, absl::StrCat(path, ": cannot be read"));
  }
  return hash.HexDigest();
}

ProcessReport RunProcess(Client& client, const std::vector<PlannedItem>& plan,
                         const ProcessOptions& options, Progress& progress) {
  ProcessReport report;
  report.inputs = static_cast<int>(plan.size());
  const auto failure = [&](const PlannedItem& item, const std::string& reason,
                           const std::string& message) {
    report.failures.push_back({.source = item.source, .reason = reason, .message = message});
    return absl::StrCat(item.source, ": ", reason, ": ", message);
  };
  const auto fail = [&](const PlannedItem& item, const absl::Status& status) {
    progress.Step(true, failure(item, errors::ReasonOf(status), std::string(status.message())));
  };

  std::vector<const PlannedItem*> usable;
  bool work = false;
  for (const PlannedItem& item : plan) {
    if (!item.missing.empty()) {
      (void)failure(item, "SourceMissing", item.missing);
    } else {
      usable.push_back(&item);
      if (item.present) {
        ++report.skipped;
      } else {
        work = true;
      }
    }
  }
  if (!work) return report;  // everything is there: nothing to ask the API

  // Every input goes into the batch, done or not, so that the batch is the same on every run
  // over the same inputs and options: a run after an interruption finds the first run's batch
  // (its Idempotency-Key and body are the same) and its jobs, and queues nothing twice. The API
  // is sent only the images it does not have yet (the id is the content's SHA-256, found here
  // without uploading).
  struct Image {
    const PlannedItem* item;
    std::string id;
  };
  std::vector<Image> images;
  progress.Begin("upload", static_cast<int>(usable.size()));
  for (const PlannedItem* item : usable) {
    absl::StatusOr<std::string> id = ContentId(item->source);
    absl::StatusOr<bool> known = id.ok() ? client.HasImage(*id) : absl::StatusOr<bool>(id.status());
    const bool upload = known.ok() && !*known;
    if (upload) {
      absl::StatusOr<json> image =
          client.Upload(item->source, fs::path(item->source).filename().string());
      if (!image.ok()) known = image.status();
    }
    if (!known.ok()) {
      // Its output is there already: left out of the batch, nothing to report.
      if (item->present) {
        progress.Step(false, item->source);
      } else {
        fail(*item, known.status());
      }
      continue;
    }
    images.push_back({item, *id});
    progress.Step(false, upload          ? item->source
                         : item->present ? absl::StrCat(item->source, " (output there already)")
                                         : absl::StrCat(item->source, " (the API has it already)"));
  }
  progress.End();

  // The batches (1000 jobs at most each), then each job whose output is missing, to its end,
  // and its output downloaded.
  const json rest = BatchRest(options);
  struct Queued {
    const PlannedItem* item;
    std::string job_id;
  };
  std::vector<Queued> queued;
  for (size_t first = 0; first < images.size(); first += kMaxBatch) {
    const size_t last = std::min(images.size(), first + kMaxBatch);
    std::vector<std::string> ids;
    for (size_t i = first; i < last; ++i) ids.push_back(images[i].id);
    json body = rest;
    body["images"] = ids;
    absl::StatusOr<json> batch = client.CreateBatch(body, BatchKey(rest, ids));
    const json* job_ids = nullptr;
    if (batch.ok() && batch->contains("status") && (*batch)["status"].contains("jobIds")) {
      job_ids = &(*batch)["status"]["jobIds"];
    }
    if (job_ids == nullptr || !job_ids->is_array() || job_ids->size() != ids.size()) {
      const absl::Status why =
          batch.ok() ? errors::Make(errors::Reason::kInternal, "the batch lists no job per image")
                     : batch.status();
      for (size_t i = first; i < last; ++i) {
        if (images[i].item->present) continue;
        (void)failure(*images[i].item, errors::ReasonOf(why), std::string(why.message()));
      }
      continue;
    }
    for (size_t i = first; i < last; ++i) {
      if (images[i].item->present) continue;
      queued.push_back({images[i].item, (*job_ids)[i - first].get<std::string>()});
    }
  }
  if (queued.empty()) return report;

  // What downloads of an interrupted run left half-written goes before this run writes anew.
  std::vector<std::string> outputs;
  for (const Queued& q : queued) outputs.push_back(q.item->output);
  (void)fetch::RemoveAbandonedDownloads(outputs);

  progress.Begin("process", static_cast<int>(queued.size()));
  for (const auto& [item, job_id] : queued) {
    absl::StatusOr<json> job = client.AwaitEnd(job_id);
    if (!job.ok()) {
      fail(*item, job.status());
      continue;
    }
    if (PhaseOf(*job) != "Succeeded") {
      const json& status = (*job)["status"];
      const json reason = status.value("reason", json());
      const json message = status.value("message", json());
      progress.Step(true,
                    failure(*item, reason.is_string() ? reason.get<std::string>() : "JobFailed",
                            message.is_string() ? message.get<std::string>() : ""));
      continue;
    }
    std::error_code ec;
    fs::create_directories(fs::path(item->output).parent_path(), ec);
    if (absl::Status downloaded = client.Download(job_id, item->output); !downloaded.ok()) {
      fail(*item, downloaded);
      continue;
    }
    ++report.processed;
    progress.Step(false, absl::StrCat(item->source, " -> ", item->output));
  }
  progress.End();
  return report;
}

}  // namespace pixq::client
