#include "pkg/client/commands.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

#include "pkg/errors/errors.h"
#include "pkg/fetch/endpoint.h"

namespace pixq::client {
namespace {

std::string Describe(const absl::Status& status) {
  return absl::StrCat(errors::ReasonOf(status), ": ", status.message());
}

std::string StringAt(const json& j, std::initializer_list<const char*> keys) {
  const json* at = &j;
  for (const char* key : keys) {
    if (!at->is_object()) return "";
    auto it = at->find(key);
    if (it == at->end()) return "";
    at = &*it;
  }
  if (at->is_string()) return at->get<std::string>();
  if (at->is_number_integer()) return std::to_string(at->get<int64_t>());
  return "";
}

// "Failed  attempts 2  SourceUnavailable: gave up after 2 attempts: …"
std::string JobLine(const json& job) {
  std::string line = absl::StrCat(StringAt(job, {"metadata", "id"}), "  ", PhaseOf(job));
  if (const std::string attempts = StringAt(job, {"status", "attempts"}); !attempts.empty()) {
    absl::StrAppend(&line, "  attempts ", attempts);
  }
  if (const std::string retries = StringAt(job, {"status", "retries"}); !retries.empty()) {
    absl::StrAppend(&line, "  retries ", retries);
  }
  if (const std::string reason = StringAt(job, {"status", "reason"}); !reason.empty()) {
    absl::StrAppend(&line, "  ", reason, ": ", StringAt(job, {"status", "message"}));
  }
  return line;
}

}  // namespace

int ProcessCommand(Client& client, const ProcessOptions& options, Progress& progress,
                   std::ostream& out, std::ostream& err) {
  absl::StatusOr<std::vector<PlannedItem>> plan = Plan(options);
  if (!plan.ok()) {
    err << "pixq: " << plan.status().message() << "\n";
    return 2;
  }
  const ProcessReport report = RunProcess(client, *plan, options, progress);
  out << report.inputs << " inputs: " << report.processed << " processed, " << report.skipped
      << " already in " << options.out_dir << ", " << report.failures.size() << " failed\n";
  if (report.failures.empty()) return 0;
  err << "failed:\n";
  for (const Failure& f : report.failures) {
    err << "  " << f.source << ": " << f.reason << ": " << f.message << "\n";
  }
  return 1;
}

int UploadCommand(Client& client, const std::vector<std::string>& files, const std::string& title,
                  std::ostream& out, std::ostream& err) {
  int failed = 0;
  for (const std::string& file : files) {
    absl::StatusOr<json> image = client.Upload(
        file, title.empty() ? std::filesystem::path(file).filename().string() : title);
    if (!image.ok()) {
      err << "pixq: " << file << ": " << Describe(image.status()) << "\n";
      ++failed;
      continue;
    }
    out << StringAt(*image, {"id"}) << "  " << file << "\n";
  }
  if (failed > 0) err << failed << " of " << files.size() << " uploads failed\n";
  return failed > 0 ? 1 : 0;
}

int JobsCommand(Client& client, const std::string& phases, int limit, std::ostream& out,
                std::ostream& err) {
  absl::StatusOr<json> page = client.ListJobs(phases, limit, "");
  if (!page.ok()) {
    err << "pixq: " << Describe(page.status()) << "\n";
    return 1;
  }
  out << absl::StrFormat("%-28s %-10s %-8s %-24s %s\n", "JOB", "PHASE", "ATTEMPTS", "CREATED",
                         "REASON");
  const json& items = (*page)["items"];
  for (const json& job : items.is_array() ? items : json::array()) {
    out << absl::StrFormat("%-28s %-10s %-8s %-24s %s\n", StringAt(job, {"metadata", "id"}),
                           PhaseOf(job), StringAt(job, {"status", "attempts"}),
                           StringAt(job, {"metadata", "createdAt"}),
                           StringAt(job, {"status", "reason"}));
  }
  if (page->value("nextPageToken", json()).is_string()) {
    out << "(more: raise --limit to see them)\n";
  }
  return 0;
}

int WatchCommand(Client& client, const std::string& id, std::ostream& out, std::ostream& err) {
  absl::StatusOr<json> job = client.GetJob(id, absl::ZeroDuration(), false);
  std::string shown;
  while (job.ok()) {
    const std::string line = JobLine(*job);
    if (line != shown) {
      out << line << "\n" << std::flush;
      shown = line;
    }
    if (HasEnded(*job)) return PhaseOf(*job) == "Succeeded" ? 0 : 1;
    job = client.GetJob(id, absl::Seconds(30), false);
  }
  err << "pixq: " << Describe(job.status()) << "\n";
  return 1;
}

int RetryCommand(Client& client, const std::string& id, std::ostream& out, std::ostream& err) {
  absl::StatusOr<json> job = client.Retry(id);
  if (!job.ok()) {
    err << "pixq: " << id << ": " << Describe(job.status()) << "\n";
    return 1;
  }
  out << JobLine(*job) << "\n";
  return 0;
}

int GetCommand(Client& client, const std::string& id, const std::string& file, std::ostream& out,
               std::ostream& err) {
  absl::StatusOr<json> job = client.AwaitEnd(id);
  if (!job.ok()) {
    err << "pixq: " << id << ": " << Describe(job.status()) << "\n";
    return 1;
  }
  if (PhaseOf(*job) != "Succeeded") {
    err << "pixq: " << JobLine(*job) << "\n";
    return 1;
  }
  (void)fetch::RemoveAbandonedDownloads({file});  // what a killed `pixq get` left half-written
  if (absl::Status written = client.Download(id, file); !written.ok()) {
    err << "pixq: " << id << ": " << Describe(written) << "\n";
    return 1;
  }
  out << "wrote " << file << " (" << StringAt(*job, {"status", "output", "bytes"}) << " bytes, "
      << StringAt(*job, {"status", "output", "width"}) << "x"
      << StringAt(*job, {"status", "output", "height"}) << ")\n";
  return 0;
}

}  // namespace pixq::client
