#include "pkg/api/seed.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

#include "pkg/errors/errors.h"

namespace pixq::api {
namespace {

using nlohmann::json;

absl::Status FieldError(std::string_view field, std::string_view what) {
  return errors::Make(errors::Reason::kInvalidSpec,
                      absl::StrCat(errors::Sv(field), ": ", errors::Sv(what)));
}

// At most `max` bytes of valid UTF-8 `text`, cut before a character, never inside one.
std::string CutUtf8(std::string_view text, size_t max) {
  if (text.size() <= max) return std::string(text);
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end));
}

}  // namespace

job::Format FormatForFileName(std::string_view file_name) {
  const size_t dot = file_name.rfind('.');
  if (dot == std::string_view::npos) return job::Format::kJpeg;
  const std::string ext = absl::AsciiStrToLower(errors::Sv(file_name.substr(dot + 1)));
  return job::ParseFormat(ext).value_or(job::Format::kJpeg);
}

absl::StatusOr<job::JobSpec> DownloadSpec(std::string_view body,
                                          const job::ValidationLimits& limits) {
  const json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return errors::Make(errors::Reason::kMalformedJson, "the request body is not valid JSON");
  }
  if (!doc.is_object()) {
    return FieldError("body", "must be a JSON object with image_url and file_name");
  }
  // Other fields are ignored, as the downloader ignored them.
  auto url = doc.find("image_url");
  if (url == doc.end() || url->is_null()) return FieldError("image_url", "is required");
  if (!url->is_string()) return FieldError("image_url", "must be a string");
  std::string file_name;
  if (auto it = doc.find("file_name"); it != doc.end() && !it->is_null()) {
    if (!it->is_string()) return FieldError("file_name", "must be a string");
    file_name = it->get<std::string>();
  }
  json labels = {{kSeedLabel, "download"}};
  if (!file_name.empty()) labels[kFileNameLabel] = CutUtf8(file_name, kMaxFileNameLabel);
  const json spec = {{"source", {{"url", *url}}},
                     {"steps", json::array()},
                     {"output", {{"format", job::FormatName(FormatForFileName(file_name))}}},
                     {"labels", std::move(labels)}};
  absl::StatusOr<job::JobSpec> parsed = job::JobSpecFromJson(spec, limits);
  constexpr std::string_view kUrlField = "source.url: ";
  if (const std::string message(parsed.status().message());
      !parsed.ok() && absl::StartsWith(message, errors::Sv(kUrlField))) {
    // Said in the downloader's words.
    return FieldError("image_url", std::string_view(message).substr(kUrlField.size()));
  }
  return parsed;
}

const char* CeleryState(job::Phase phase) {
  switch (phase) {
    case job::Phase::kPending:
      return "PENDING";
    case job::Phase::kRunning:
      return "STARTED";
    case job::Phase::kSucceeded:
      return "SUCCESS";
    case job::Phase::kFailed:
      return "FAILURE";
  }
  return "PENDING";
}

json CeleryTaskJson(const job::JobRecord& record) {
  const job::JobStatus& status = record.status;
  const std::string state = CeleryState(status.phase);
  json out = {{"task_id", record.id}, {"state", state}, {"status", state}, {"result", nullptr}};
  std::string file_name;
  if (auto it = record.spec.labels.find(kFileNameLabel); it != record.spec.labels.end()) {
    file_name = it->second;
  }
  if (status.phase == job::Phase::kSucceeded && status.output) {
    out["result"] = {{"url", absl::StrCat("/v1/jobs/", record.id, "/output")},
                     {"file_name", file_name},
                     {"image_id", status.image_id},
                     {"format", job::FormatName(status.output->format)},
                     {"width", status.output->width},
                     {"height", status.output->height},
                     {"bytes", status.output->bytes}};
  } else if (status.phase == job::Phase::kFailed) {
    // Celery's result for a failed task is the exception; its clients show it as a string.
    out["result"] =
        status.message.empty() ? status.reason : absl::StrCat(status.reason, ": ", status.message);
    out["error"] = {{"reason", status.reason}, {"message", status.message}};
  }
  return out;
}

}  // namespace pixq::api
