#pragma once

// `pixq process`: a folder (or files) through one batch, outputs into a folder, safe to run
// again. Three parts, each usable alone:
//   - Plan: the inputs (folders walked in name order, hidden files and the output folder left
//     out) and the output each one gets (its path relative to the folder it came from, the
//     extension of the output format; two inputs that would share an output keep their own
//     extension too: a.jpg.webp, a.png.webp). An output already present is skipped: outputs
//     are written whole or not at all, so a present one is complete.
//   - BatchKey: the batch's Idempotency-Key, from the inputs' content (their image ids are their
//     SHA-256) and the options, so that a run interrupted after the batch was created finds the
//     same batch again instead of making another.
//   - RunProcess: unless every output is present, finds each input's image id (the SHA-256 of
//     its content, computed here), uploads the images the API does not have yet, creates the
//     batch over every input, done or not (1000 at most per batch; more make several), so that
//     a run after an interruption is answered the first run's batch and its jobs instead of
//     queueing them again, waits for the jobs whose outputs are missing, downloads each output,
//     and reports what failed and why.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

#include "pkg/client/client.h"
#include "pkg/client/progress.h"

namespace pixq::client {

struct ProcessOptions {
  std::vector<std::string> sources;  // files and folders
  std::string out_dir;
  int width = 0;  // --resize WxH; 0 on both: no resize
  int height = 0;
  std::string fit = "inside";
  std::string format = "webp";  // jpeg, png, webp
  int quality = 0;              // 0: the format's default
};

// "800x800", "800x" (width only), "x600" (height only). Errors: "InvalidArgument".
[[nodiscard]] absl::Status ParseResize(std::string_view text, int& width, int& height);

struct PlannedItem {
  std::string source;    // as found: the argument, or a file under a folder argument
  std::string output;    // where its output goes
  bool present = false;  // the output exists already: nothing to do
  std::string missing;   // non-empty: the source cannot be used (why)
};

// The plan for `options` (see above). Errors: "InvalidArgument" for an unknown format.
[[nodiscard]] absl::StatusOr<std::vector<PlannedItem>> Plan(const ProcessOptions& options);

// The batch's shared part: {"steps":[…],"output":{…},"labels":{"client":"pixq"}}.
[[nodiscard]] nlohmann::json BatchRest(const ProcessOptions& options);

// "pixq-process-<sha256 of the shared part and the image ids, in order>".
[[nodiscard]] std::string BatchKey(const nlohmann::json& rest,
                                   const std::vector<std::string>& image_ids);

struct Failure {
  std::string source;
  std::string reason;  // the API's, or the transport's ("EndpointUnreachable", "StorageError")
  std::string message;
};

struct ProcessReport {
  int inputs = 0;
  int skipped = 0;    // outputs already present
  int processed = 0;  // outputs written by this run
  std::vector<Failure> failures;
};

// An image's id as pixq-api gives it: the SHA-256 of the file's content, lowercase hex.
// Errors: "StorageError" naming the file when it cannot be read.
[[nodiscard]] absl::StatusOr<std::string> ContentId(const std::string& path);

// Runs `plan` (see above), reporting each step to `progress`.
[[nodiscard]] ProcessReport RunProcess(Client& client, const std::vector<PlannedItem>& plan,
                                       const ProcessOptions& options, Progress& progress);

}  // namespace pixq::client
