#pragma once

// Just enough of pixq-api, in memory, for the CLI's tests: uploads (a file whose content begins
// with "IMG" is an image, its id the content's SHA-256; anything else is 415), batches (with
// Idempotency-Key), jobs that end at once (Failed with CorruptImage when the image's content
// holds "BROKEN", else Succeeded), image lookups, outputs written to the file asked for.

#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

#include "pkg/client/transport.h"
#include "pkg/crypto/sha256.h"
#include "pkg/errors/errors.h"

namespace pixq::testing {

class FakeApi {
 public:
  using json = nlohmann::json;

  absl::StatusOr<client::HttpAnswer> operator()(const client::HttpCall& call) {
    std::lock_guard<std::mutex> lock(mu_);
    if (call.method == "POST" && call.path == "/v1/images") return Upload(call);
    if (call.method == "POST" && call.path == "/v1/batches") return Batch(call);
    if (call.method == "GET" && absl::StartsWith(call.path, "/v1/images/")) {
      const std::string id = call.path.substr(11);
      if (!images_.count(id)) return Answer(404, Problem("ImageNotFound", "no image " + id));
      return Answer(200, {{"id", id}});
    }
    if (call.method == "GET" && absl::StartsWith(call.path, "/v1/jobs/")) {
      std::string rest = call.path.substr(9);
      if (absl::EndsWith(rest, "/output")) return Output(rest.substr(0, rest.size() - 7), call);
      return Job(rest.substr(0, rest.find('?')));
    }
    return Answer(404, Problem("RouteNotFound", "no route"));
  }

  int uploads() const {
    std::lock_guard<std::mutex> lock(mu_);
    return uploads_;
  }
  int batches_created() const {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int>(batches_.size());
  }
  std::vector<json> batch_bodies() const {
    std::lock_guard<std::mutex> lock(mu_);
    return batch_bodies_;
  }
  // Downloads of this job fail as if the connection broke (an interrupted run).
  void BreakDownloadsOf(const std::string& image_id) {
    std::lock_guard<std::mutex> lock(mu_);
    broken_downloads_.insert(image_id);
  }
  void RepairDownloads() {
    std::lock_guard<std::mutex> lock(mu_);
    broken_downloads_.clear();
  }

 private:
  static client::HttpAnswer Answer(int status, const json& body) {
    return {.status = status, .body = body.dump(), .content_type = "application/json"};
  }
  static json Problem(const std::string& reason, const std::string& detail) {
    return {{"reason", reason}, {"detail", detail}};
  }

  absl::StatusOr<client::HttpAnswer> Upload(const client::HttpCall& call) {
    std::ifstream in(call.upload_file, std::ios::binary);
    if (!in)
      return errors::Make(errors::Reason::kStorageError, call.upload_file + ": cannot be read");
    const std::string bytes((std::istreambuf_iterator<char>(in)), {});
    ++uploads_;
    if (!absl::StartsWith(bytes, "IMG")) {
      // The API's own wording (pkg/imaging/sniff.cc).
      return Answer(415,
                    Problem("UnsupportedMediaType",
                            "not a JPEG, PNG, WebP, HEIC, HEIF, AVIF, GIF, TIFF or BMP image"));
    }
    const std::string id = crypto::Sha256Hex(bytes);
    images_[id] = bytes;
    return Answer(201, {{"id", id}});
  }

  absl::StatusOr<client::HttpAnswer> Batch(const client::HttpCall& call) {
    std::string key;
    for (const auto& [name, value] : call.headers) {
      if (name == "Idempotency-Key") key = value;
    }
    if (!key.empty() && batches_.count(key)) return Answer(202, batches_[key]);
    const json body = json::parse(call.body);
    batch_bodies_.push_back(body);
    json ids = json::array();
    for (const json& image : body["images"]) {
      const std::string job_id = absl::StrCat("j_", jobs_.size() + 1);
      const bool broken = absl::StrContains(images_[image.get<std::string>()], "BROKEN");
      jobs_[job_id] = {{"metadata", {{"id", job_id}}},
                       {"status",
                        {{"phase", broken ? "Failed" : "Succeeded"},
                         {"attempts", 1},
                         {"reason", broken ? json("CorruptImage") : json(nullptr)},
                         {"message", broken ? json("the image could not be decoded") : json()},
                         {"imageId", image}}}};
      ids.push_back(job_id);
    }
    json batch = {{"metadata", {{"id", absl::StrCat("b_", batches_.size() + 1)}}},
                  {"status", {{"jobIds", ids}}}};
    batches_[key.empty() ? absl::StrCat("#", batches_.size()) : key] = batch;
    return Answer(202, batch);
  }

  absl::StatusOr<client::HttpAnswer> Job(const std::string& id) {
    if (!jobs_.count(id)) return Answer(404, Problem("JobNotFound", "no job " + id));
    return Answer(200, jobs_[id]);
  }

  absl::StatusOr<client::HttpAnswer> Output(const std::string& id, const client::HttpCall& call) {
    if (!jobs_.count(id)) return Answer(404, Problem("JobNotFound", "no job " + id));
    const std::string image = jobs_[id]["status"]["imageId"];
    if (broken_downloads_.count(image)) {
      return errors::Make(errors::Reason::kEndpointUnreachable, "Connection reset by peer");
    }
    std::ofstream(call.output_file, std::ios::binary) << "OUT:" << image;
    return client::HttpAnswer{.status = 200, .content_type = "image/webp"};
  }

  mutable std::mutex mu_;
  int uploads_ = 0;
  std::map<std::string, std::string> images_;
  std::map<std::string, json> batches_;
  std::vector<json> batch_bodies_;
  std::map<std::string, json> jobs_;
  std::set<std::string> broken_downloads_;
};

}  // namespace pixq::testing
