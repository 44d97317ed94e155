#include "pkg/api/batches.h"

#include <map>
#include <utility>

#include "absl/strings/str_cat.h"

#include "pkg/api/service.h"
#include "pkg/errors/errors.h"
#include "pkg/job/ids.h"

namespace pixq::api {

using nlohmann::json;

json BatchJson(const std::string& id, const std::vector<job::JobRecord>& jobs) {
  json counts = json::object();
  for (const char* phase : {"Pending", "Running", "Succeeded", "Failed"}) counts[phase] = 0;
  json ids = json::array();
  std::string created_at;
  for (const job::JobRecord& r : jobs) {
    counts[std::string(job::PhaseName(r.status.phase))] =
        counts[std::string(job::PhaseName(r.status.phase))].get<int>() + 1;
    ids.push_back(r.id);
    if (created_at.empty() || r.created_at < created_at) created_at = r.created_at;
  }
  const bool done = counts["Pending"] == 0 && counts["Running"] == 0;
  return {{"apiVersion", "pixq/v1"},
          {"kind", "ImageBatch"},
          {"metadata", {{"id", id}, {"createdAt", created_at}}},
          {"status", {{"jobs", jobs.size()}, {"counts", counts}, {"done", done}, {"jobIds", ids}}}};
}

absl::StatusOr<std::vector<job::JobSpec>> BatchSpecs(const json& doc,
                                                     const job::ValidationLimits& limits) {
  if (!doc.is_object())
    return errors::Make(errors::Reason::kInvalidSpec, "a batch must be an object");
  // Counted before anything is copied: the shared part is copied once per image.
  for (const char* list : {"jobs", "images"}) {
    if (doc.contains(list) && doc[list].is_array() && doc[list].size() > kMaxBatchJobs) {
      return errors::Make(
          errors::Reason::kTooManyJobs,
          absl::StrCat("a batch holds at most ", kMaxBatchJobs, " jobs, got ", doc[list].size()));
    }
  }
  std::vector<json> specs;
  if (doc.contains("jobs")) {
    if (doc.size() != 1 || !doc["jobs"].is_array()) {
      return errors::Make(errors::Reason::kInvalidSpec,
                          "jobs: must be the only field, a list of job specs");
    }
    for (const json& spec : doc["jobs"]) specs.push_back(spec);
  } else if (doc.contains("images")) {
    if (!doc["images"].is_array())
      return errors::Make(errors::Reason::kInvalidSpec, "images: must be a list");
    json shared = doc;
    shared.erase("images");
    for (const json& image : doc["images"]) {
      json spec = shared;
      spec["source"] = {{"imageId", image}};
      specs.push_back(std::move(spec));
    }
  } else {
    return errors::Make(errors::Reason::kInvalidSpec,
                        "a batch needs jobs, or images and the shared steps");
  }
  if (specs.empty())
    return errors::Make(errors::Reason::kInvalidSpec, "a batch needs at least one job");
  std::vector<job::JobSpec> parsed;
  for (size_t i = 0; i < specs.size(); ++i) {
    absl::StatusOr<job::JobSpec> spec = job::JobSpecFromJson(specs[i], limits);
    if (!spec.ok()) {
      return errors::WithMessage(spec.status(),
                                 absl::StrCat(doc.contains("jobs") ? "jobs[" : "images[", i,
                                              "]: ", spec.status().message()));
    }
    parsed.push_back(*std::move(spec));
  }
  return parsed;
}

absl::StatusOr<BatchResult> Service::CreateBatch(std::vector<job::JobSpec> specs,
                                                 const observability::SpanContext* parent,
                                                 const std::string& idempotency_key,
                                                 const std::string& request_hash) {
  BatchResult result;
  std::map<int, job::JobRecord> existing;
  if (!idempotency_key.empty()) {
    absl::StatusOr<std::optional<job::JobRecord>> earlier =
        FindIdempotent(idempotency_key, request_hash);
    if (!earlier.ok()) return earlier.status();
    if (*earlier) {
      // Every job the first request created is in the log: read up to its end before deciding
      // which are missing.
      PIXQ_RETURN_IF_ERROR(catch_up_(options_.catch_up_timeout));
      result.id = (*earlier)->batch_id;
      result.created = false;
      for (job::JobRecord& r : jobs_.Batch(result.id)) {
        absl::StatusOr<bool> kept = RequeueIfStranded(r);
        if (!kept.ok()) return kept.status();
        if (*kept) existing.emplace(r.batch_index, std::move(r));
      }
    }
  }
  // Every image named must exist before any job is created (one catch-up for all).
  bool caught_up = false;
  for (size_t i = 0; i < specs.size(); ++i) {
    const std::string& image = specs[i].source.image_id;
    if (image.empty() || existing.count(static_cast<int>(i)) != 0) continue;
    if (HasImage(image)) continue;
    if (!caught_up) {
      PIXQ_RETURN_IF_ERROR(catch_up_(options_.catch_up_timeout));
      caught_up = true;
      if (HasImage(image)) continue;
    }
    return errors::Make(errors::Reason::kImageNotFoundInSpec,
                        absl::StrCat("job ", i, ": spec.source.imageId: no image ", image,
                                     "; no job of the batch was created"));
  }
  if (result.id.empty()) result.id = "b_" + job::NewJobId().substr(2);
  for (size_t i = 0; i < specs.size(); ++i) {
    const int index = static_cast<int>(i);
    if (auto it = existing.find(index); it != existing.end()) {
      result.jobs.push_back(std::move(it->second));
      continue;
    }
    absl::StatusOr<job::JobRecord> record =
        CreateJob(std::move(specs[i]), parent,
                  CreateOptions{.idempotency_key = idempotency_key,
                                .request_hash = request_hash,
                                .batch_id = result.id,
                                .batch_index = index});
    if (!record.ok()) {
      return errors::WithMessage(
          record.status(), absl::StrCat("batch ", result.id, ": job ", i, " of ", specs.size(),
                                        " not accepted (", result.jobs.size(),
                                        " were; the same request with the same Idempotency-Key "
                                        "completes the batch): ",
                                        record.status().message()));
    }
    result.jobs.push_back(*std::move(record));
  }
  return result;
}

absl::StatusOr<std::vector<job::JobRecord>> Service::GetBatch(const std::string& id) {
  if (id.size() < 3 || id.rfind("b_", 0) != 0 || !job::IsJobId("j_" + id.substr(2))) {
    return errors::Make(errors::Reason::kBatchNotFound, "no such batch");
  }
  absl::StatusOr<std::vector<job::JobRecord>> jobs =
      LookCatchingUp([&] { return jobs_.Batch(id); });
  if (!jobs.ok()) return jobs.status();
  if (jobs->empty())
    return errors::Make(errors::Reason::kBatchNotFound, absl::StrCat("no batch ", id));
  return jobs;
}

}  // namespace pixq::api
