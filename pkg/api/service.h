#pragma once

// What the HTTP API does, apart from HTTP: images (upload, read, list, delete), jobs (create,
// read, list, forget), batches, variants. Plain functions over the seams (store, producer,
// tables, clock), so tests call them directly with fakes. One class, its methods defined by
// resource: images.cc, jobs.cc, batches.cc, variants.cc, idempotency.cc; service.cc holds what
// they share.
//
// The tables lag the log: a record another replica (or this one) wrote a moment ago may not be
// here yet. Every read that finds nothing catches up with the log end and looks once more
// (LookCatchingUp) before it answers "not found".
//
// Thread-safe: every method may be called from any HTTP thread at once.

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "pkg/api/batches.h"
#include "pkg/api/variants.h"
#include "pkg/clock/clock.h"
#include "pkg/errors/errors.h"
#include "pkg/job/json.h"
#include "pkg/job/spec.h"
#include "pkg/observability/metrics.h"
#include "pkg/observability/trace.h"
#include "pkg/queue/message.h"
#include "pkg/queue/producer.h"
#include "pkg/state/image_records.h"
#include "pkg/state/status_writer.h"
#include "pkg/state/tables.h"
#include "pkg/storage/store.h"

namespace pixq::api {

struct ServiceOptions {
  queue::Topics topics = queue::Topics::WithPrefix("pixq.");
  absl::Duration produce_timeout = absl::Seconds(5);
  absl::Duration catch_up_timeout = absl::Seconds(5);
  job::ValidationLimits validation;
  int64_t max_pixels = 100'000'000;
  // The backpressure gate, asked before anything is stored or produced: an error (e.g.
  // "BrokerUnavailable" while Kafka is known unreachable, see Readiness::Admit) refuses the
  // request at once. Unset: always admitted.
  std::function<absl::Status()> admit;
  // The gate for new work only, asked when a job would be queued (not for a cache hit, an
  // upload, a read or a delete): an error (e.g. "BacklogFull" while the work topics are near
  // what they can keep, see Admission::Admit) refuses the job before anything is sent. Unset:
  // always admitted.
  std::function<absl::Status()> admit_work;
};

// Brings the tables up to the current log end (see queue::TableReader::CatchUp).
using CatchUpFn = std::function<absl::Status(absl::Duration)>;

// How a job came to be: the request's Idempotency-Key (scoped to the caller) and body hash, and
// its batch.
struct CreateOptions {
  std::string idempotency_key;
  std::string request_hash;
  std::string batch_id;
  int batch_index = -1;
};

struct UploadResult {
  job::ImageMeta meta;
  bool created = false;  // false: the same bytes were uploaded before (same id)
};

// GET /v1/images: the catalogue, oldest first (createdAt, then id).
struct ImageQuery {
  std::string title;  // substring of the title, ASCII letters in any case; empty: every image
  int limit = 50;
  std::string page_token;  // empty: the first page
};
struct ImagePage {
  std::vector<job::ImageMeta> items;
  std::string next_page_token;  // empty on the last page
};

// GET /v1/jobs: jobs in creation order (job ids are time-ordered), or newest first.
struct JobQuery {
  std::vector<job::Phase> phases;  // empty: every phase
  std::string image_id;            // empty: every image; else the jobs that read this image
  // nullopt: the page token's order, or ascending on a first page. One that differs from the
  // token's is refused ("InvalidPageToken").
  std::optional<state::Order> order;
  int limit = 50;
  std::string page_token;
};
struct JobPage {
  std::vector<job::JobRecord> items;
  std::string next_page_token;
};

// A variant of an image (see variants.h), resolved to the output that holds it.
struct Variant {
  job::ImageMeta image;
  job::JobSpec spec;        // the job that makes it
  std::string output_key;   // job::OutputKey(image id, spec)
  std::string output_path;  // relative to the volume root
  bool stored = false;      // the output exists: serve it, no job needed
};

// What DeleteImage removed.
struct DeleteImageResult {
  int outputs_removed = 0;  // output files named by the image's jobs that were there
};

class Service final {
 public:
  Service(ServiceOptions options, storage::Store& store, queue::Producer& producer,
          state::JobTable& jobs, state::ImageTable& images, CatchUpFn catch_up,
          observability::Metrics& metrics, observability::Tracer& tracer, clock::Clock& clock);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // --- images (images.cc) ---

  // Checks the bytes (format from magic bytes, dimensions from the header, pixel limit), stores
  // them content-addressed and publishes the image's metadata. `sha256`: the bytes' SHA-256 as
  // lowercase hex when the caller has it already (hashed while they were received); else it is
  // computed here. Errors: "UnsupportedMediaType" (415), "CorruptImage" (400), "ImageTooLarge"
  // (422), Kafka's (503), storage's.
  [[nodiscard]] absl::StatusOr<UploadResult> UploadImage(
      std::string_view bytes, std::string title, std::string filename,
      const std::optional<std::string>& sha256 = std::nullopt);

  // Errors: "ImageNotFound" (404), also for ids that are not image ids.
  [[nodiscard]] absl::StatusOr<job::ImageMeta> GetImage(const std::string& id);

  // A page of the catalogue. The first page (no token) catches up to the log end first, so that
  // an upload acknowledged by any replica is listed. Errors: "InvalidPageToken" (400), catch-up's
  // (503).
  [[nodiscard]] absl::StatusOr<ImagePage> ListImages(const ImageQuery& query);

  // Removes the image: the output files of every job that read it (spec.source.imageId or
  // status.imageId), then the original, then publishes a tombstone on pixq.images so that every
  // replica forgets it; this replica catches up before it returns. Job records stay (their
  // outputs answer 404 ContentGone). Output files whose job records were already forgotten are
  // not known here; the expiry sweep removes them. Safe to repeat: a failure leaves the image
  // listed, and deleting it again finishes the work. Errors: "ImageNotFound" (404), Kafka's (503),
  // storage's.
  [[nodiscard]] absl::StatusOr<DeleteImageResult> DeleteImage(const std::string& id);

  // --- jobs (jobs.cc) ---

  // Validates the source, and either answers from an existing output (born Succeeded, cacheHit;
  // queued all the same when it has a callbackUrl, so that the worker calls back) or publishes a
  // Pending status and then the job, each acknowledged by Kafka. The returned record is what was
  // published. Errors: "ImageNotFound" (422: the spec names an image nobody uploaded), Kafka's (503
  // with the job not accepted). The job's trace continues from `parent` (the request's span) when
  // given.
  [[nodiscard]] absl::StatusOr<job::JobRecord> CreateJob(
      job::JobSpec spec, const observability::SpanContext* parent = nullptr,
      const CreateOptions& create = {});

  // The same without blocking on Kafka: `done` runs once with what CreateJob would return, on the
  // producer's thread once Kafka settled the job, or on the caller's before this returns when
  // nothing was sent (the source unknown, not admitted, the send refused at once). The service
  // must outlive its calls; its destructor waits for those under way.
  using JobCallback = std::function<void(absl::StatusOr<job::JobRecord>)>;
  void CreateJobAsync(job::JobSpec spec, const observability::SpanContext* parent,
                      const CreateOptions& create, JobCallback done);

  // The job's latest record; catches up to the log end before answering "JobNotFound" (404).
  [[nodiscard]] absl::StatusOr<job::JobRecord> GetJob(const std::string& id);

  // A page of jobs. The first page catches up first, like ListImages. Errors: "InvalidPageToken"
  // (400), catch-up's (503).
  [[nodiscard]] absl::StatusOr<JobPage> ListJobs(const JobQuery& query);

  // Forgets a finished job: a tombstone on pixq.job-status, so every replica drops it; this
  // replica catches up before it returns. Its output file stays (other jobs may share it) until
  // the expiry sweep finds no job naming it. Errors: "JobNotFound" (404); "JobNotFinished" (409)
  // while it is Pending or Running, since a worker would publish its status again; Kafka's (503).
  [[nodiscard]] absl::Status DeleteJob(const std::string& id);

  // Runs a Failed job (dead-lettered ones included) again: the same id, back to Pending with
  // `retries` one more (attempts, reason and message of the failure kept until a worker starts
  // it), published on pixq.job-status and then re-published to pixq.jobs with its spec and a
  // fresh budget of automatic retries (pixq-attempt 1). Answers once Kafka acknowledged both,
  // after this replica caught up, so that a repeat here sees the new attempt. Idempotent: while
  // the retried attempt is Pending or Running, and for a repeat with the same Idempotency-Key
  // (create.idempotency_key, whatever the phase since), it returns the record as it is and
  // publishes nothing. Errors: "JobNotFound" (404), "JobNotFailed" (409) for a job that is not
  // Failed and was not retried, "IdempotencyKeyReused" (422), admission's and Kafka's (503; the
  // job stays Failed when the status was published but not the job, if Kafka lets us say so).
  // The retried attempt's trace continues from `parent` when given.
  [[nodiscard]] absl::StatusOr<job::JobRecord> RetryJob(const std::string& id,
                                                        const observability::SpanContext* parent,
                                                        const CreateOptions& create);

  // --- idempotency (idempotency.cc) ---

  // The job an earlier request with this Idempotency-Key created (after catching up with the
  // log), nullopt when none did. Errors: "IdempotencyKeyReused" (422) when that request's body
  // differed.
  [[nodiscard]] absl::StatusOr<std::optional<job::JobRecord>> FindIdempotent(
      const std::string& key, const std::string& request_hash);

  // Marks `key` as being worked on by this replica until the returned guard goes; "" is no key.
  // Errors: "IdempotencyKeyInUse" (409) while another request with it is under way here.
  class KeyGuard;
  [[nodiscard]] absl::StatusOr<std::unique_ptr<KeyGuard>> Claim(const std::string& key);

  // --- batches (batches.cc) ---

  // Creates the jobs of a batch (validated already), in order. With an Idempotency-Key, a repeat
  // of the request answers the same batch, creating only the jobs an interrupted first request
  // did not get to. Errors: those of CreateJob (the jobs created so far stay; the same request
  // with the same key completes the batch), "IdempotencyKeyReused" (422).
  [[nodiscard]] absl::StatusOr<BatchResult> CreateBatch(std::vector<job::JobSpec> specs,
                                                        const observability::SpanContext* parent,
                                                        const std::string& idempotency_key,
                                                        const std::string& request_hash);
  // The batch's jobs as they are now. Errors: "BatchNotFound" (404).
  [[nodiscard]] absl::StatusOr<std::vector<job::JobRecord>> GetBatch(const std::string& id);

  // --- variants (variants.cc) ---

  // The variant `request` of the image `image_id`: its job spec and where its output is, and
  // whether that output is stored already. Errors: "ImageNotFound" (404).
  [[nodiscard]] absl::StatusOr<Variant> ResolveVariant(const std::string& image_id,
                                                       const VariantRequest& request);

  [[nodiscard]] const ServiceOptions& options() const { return options_; }

 private:
  // Looks with `look`; when `found` says it found nothing, catches up with the log end and looks
  // once more. Errors: catch-up's (503).
  template <typename Look, typename Found>
  absl::StatusOr<std::invoke_result_t<Look>> LookCatchingUp(Look look, Found found) {
    std::invoke_result_t<Look> seen = look();
    if (!found(seen)) {
      PIXQ_RETURN_IF_ERROR(catch_up_(options_.catch_up_timeout));
      seen = look();
    }
    return seen;
  }
  // The same, where nothing is an empty optional or container, or false.
  template <typename Look>
  absl::StatusOr<std::invoke_result_t<Look>> LookCatchingUp(Look look) {
    return LookCatchingUp(look, [](const auto& seen) {
      if constexpr (std::is_same_v<std::decay_t<decltype(seen)>, bool>) {
        return seen;
      } else if constexpr (requires { seen.has_value(); }) {
        return seen.has_value();
      } else {
        return !seen.empty();
      }
    });
  }
  // Whether the image is known here and its original stored (no catch-up).
  bool HasImage(const std::string& id) const;
  // Now on the service's clock, as records carry it (job::NowRfc3339's form).
  std::string NowRfc3339() const;

  // Sends `message` once admitted (ServiceOptions::admit) and waits for Kafka's acknowledgement;
  // counts a failure. Errors: admission's, the producer's.
  absl::Status Send(const queue::OutgoingMessage& message);
  // Sends without waiting (not admission-checked); counts a failure.
  void SendRecord(const queue::OutgoingMessage& message, queue::Producer::DeliveryCallback done);
  struct Submission;
  // The job itself, once its Pending record is acknowledged.
  void QueueJob(const std::shared_ptr<Submission>& submission);
  // A submission under way (Begin) and settled (Complete: runs its callback).
  void Begin();
  void Complete(Submission& submission, absl::StatusOr<job::JobRecord> outcome);
  // For a job found by its Idempotency-Key: false when it was never accepted (to be made anew);
  // true otherwise, after queueing it again if it has not started long after it was created (it
  // may never have been queued). Errors: Kafka's.
  absl::StatusOr<bool> RequeueIfStranded(const job::JobRecord& record);

  ServiceOptions options_;
  storage::Store& store_;
  queue::Producer& producer_;
  state::ImageWriter image_records_;  // pixq.images, through Send
  state::StatusWriter statuses_;      // pixq.job-status, through Send and SendRecord
  state::JobTable& jobs_;
  state::ImageTable& images_;
  CatchUpFn catch_up_;
  observability::Metrics& metrics_;
  observability::Tracer& tracer_;
  clock::Clock& clock_;
  std::mutex claims_mu_;
  std::set<std::string> claims_;  // Idempotency-Keys of requests under way here
  std::mutex submissions_mu_;
  std::condition_variable submissions_cv_;
  int submissions_ = 0;  // CreateJobAsync calls whose callback has not run yet
};

class Service::KeyGuard {
 public:
  KeyGuard(Service& service, std::string key) : service_(service), key_(std::move(key)) {}
  ~KeyGuard();
  KeyGuard(const KeyGuard&) = delete;
  KeyGuard& operator=(const KeyGuard&) = delete;

 private:
  Service& service_;
  std::string key_;
};

}  // namespace pixq::api
