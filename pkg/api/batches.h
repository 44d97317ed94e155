#pragma once

// Batches: many jobs in one request (POST /v1/batches), created in order under one batch id and
// read back together (GET /v1/batches/{id}). Two forms: {"jobs": [spec, …]}, or
// {"images": [id, …], "steps": […], "output": {…}, …}, one job per image with the shared rest.
// api::Service::CreateBatch and GetBatch (batches.cc) create and read them.

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

#include "pkg/job/json.h"
#include "pkg/job/spec.h"

namespace pixq::api {

// The most jobs one batch may hold.
inline constexpr size_t kMaxBatchJobs = 1000;

struct BatchResult {
  std::string id;
  std::vector<job::JobRecord> jobs;  // in the order of the request
  bool created = true;  // false: the same request (Idempotency-Key) was answered before
};

// The job specs of a batch request's document, in order, each checked (before any job is
// created). Errors: "InvalidSpec" (422) for the batch's shape, "TooManyJobs" (422), and the
// reasons of job::JobSpecFromJson with the job's index ("jobs[3]: …", "images[3]: …").
[[nodiscard]] absl::StatusOr<std::vector<job::JobSpec>> BatchSpecs(
    const nlohmann::json& doc, const job::ValidationLimits& limits);

// A batch as the API shows it: its jobs counted by phase, whether all are done, their ids.
[[nodiscard]] nlohmann::json BatchJson(const std::string& id,
                                       const std::vector<job::JobRecord>& jobs);

}  // namespace pixq::api
