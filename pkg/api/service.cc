#include "pkg/api/service.h"

#include <algorithm>
#include <future>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"

#include "pkg/api/listing.h"
#include "pkg/crypto/sha256.h"
#include "pkg/errors/errors.h"
#include "pkg/imaging/sniff.h"
#include "pkg/job/ids.h"
#include "pkg/observability/log.h"

namespace pixq::api {
namespace {

constexpr size_t kMaxTitle = 512;
constexpr size_t kMaxFilename = 255;

// At most `max` bytes, and valid UTF-8 (the records are JSON): bytes that are not, also a
// character the cut split, become U+FFFD.
std::string Truncated(std::string s, size_t max) {
  if (s.size() > max) s.resize(max);
  using nlohmann::json;
  return json::parse(json(std::move(s)).dump(-1, ' ', false, json::error_handler_t::replace))
      .get<std::string>();
}

}  // namespace

Service::Service(ServiceOptions options, storage::Store& store, queue::Producer& producer,
                 state::JobTable& jobs, state::ImageTable& images, CatchUpFn catch_up,
                 observability::Metrics& metrics, observability::Tracer& tracer)
    : options_(std::move(options)),
      store_(store),
      producer_(producer),
      jobs_(jobs),
      images_(images),
      catch_up_(std::move(catch_up)),
      metrics_(metrics),
      tracer_(tracer) {}

absl::Status Service::Publish(const std::string& topic, const std::string& key,
                              const std::string& value) {
  if (options_.admit) PIXQ_RETURN_IF_ERROR(options_.admit());
  absl::Status sent =
      producer_.Send({.topic = topic, .key = key, .value = value}, options_.produce_timeout);
  if (!sent.ok()) metrics_.CountProduceError(topic);
  return sent;
}

absl::StatusOr<UploadResult> Service::UploadImage(std::string_view bytes, std::string title,
                                                  std::string filename,
                                                  const std::optional<std::string>& sha256) {
  absl::StatusOr<imaging::ImageInfo> info = imaging::SniffWithin(bytes, options_.max_pixels);
  if (!info.ok()) return info.status();
  const std::string id = sha256 ? *sha256 : crypto::Sha256Hex(bytes);
  // Known, unless it was just deleted (its original gone, the tombstone not yet read here).
  std::optional<job::ImageMeta> known = images_.Get(id);
  if (!known && store_.HasOriginal(id)) {
    // Stored, but its metadata not read here yet: uploaded a moment ago, here or elsewhere.
    PIXQ_RETURN_IF_ERROR(catch_up_(options_.catch_up_timeout));
    known = images_.Get(id);
  }
  if (known && store_.HasOriginal(id)) {
    metrics_.CountUpload(false, static_cast<int64_t>(bytes.size()));
    return UploadResult{.meta = *known, .created = false};
  }
  if (options_.admit) PIXQ_RETURN_IF_ERROR(options_.admit());
  PIXQ_RETURN_IF_ERROR(store_.PutOriginal(id, bytes));
  job::ImageMeta meta{.id = id,
                      .title = Truncated(std::move(title), kMaxTitle),
                      .filename = Truncated(std::move(filename), kMaxFilename),
                      .format = info->format,
                      .width = info->DisplayWidth(),
                      .height = info->DisplayHeight(),
                      .bytes = static_cast<int64_t>(bytes.size()),
                      .created_at = job::NowRfc3339()};
  PIXQ_RETURN_IF_ERROR(Publish(options_.topics.images, id, job::ToJson(meta).dump()));
  metrics_.CountUpload(true, static_cast<int64_t>(bytes.size()));
  return UploadResult{.meta = std::move(meta), .created = true};
}

absl::StatusOr<job::ImageMeta> Service::GetImage(const std::string& id) {
  if (!job::IsSha256Hex(id)) return errors::NotFound("ImageNotFound", "no such image");
  if (std::optional<job::ImageMeta> meta = images_.Get(id)) return *meta;
  PIXQ_RETURN_IF_ERROR(catch_up_(options_.catch_up_timeout));
  if (std::optional<job::ImageMeta> meta = images_.Get(id)) return *meta;
  return errors::NotFound("ImageNotFound", absl::StrCat("no image ", id));
}

absl::StatusOr<job::JobRecord> Service::CreateJob(job::JobSpec spec,
                                                  const observability::SpanContext* parent,
                                                  const CreateOptions& create) {
  auto outcome = std::make_shared<std::promise<absl::StatusOr<job::JobRecord>>>();
  std::future<absl::StatusOr<job::JobRecord>> result = outcome->get_future();
  CreateJobAsync(std::move(spec), parent, create,
                 [outcome](absl::StatusOr<job::JobRecord> r) { outcome->set_value(std::move(r)); });
  // Each of the two records is settled (acknowledged or failed) by librdkafka within its message
  // timeout, which produce_timeout exceeds; this bound is only a backstop.
  if (result.wait_for(absl::ToChronoMilliseconds(2 * options_.produce_timeout)) !=
      std::future_status::ready) {
    return errors::Make(absl::StatusCode::kDeadlineExceeded, "ProduceTimeout",
                        "no acknowledgement from Kafka for the job");
  }
  return result.get();
}

// One job on its way into Kafka, from the Pending record's send to the job's acknowledgement.
struct Service::Submission {
  job::JobRecord record;
  std::string value;  // the record as published
  std::optional<observability::SpanContext> parent;
  JobCallback done;
};

void Service::CreateJobAsync(job::JobSpec spec, const observability::SpanContext* parent,
                             const CreateOptions& create, JobCallback done) {
  // A URL source is downloaded by the worker (behind the SSRF guard): its image, and so its
  // output key, are known only then.
  const bool from_url = !spec.source.url.empty();
  const std::string& image_id = spec.source.image_id;
  if (!from_url && (!images_.Get(image_id) || !store_.HasOriginal(image_id))) {
    // Another replica may have taken the upload a moment ago.
    if (absl::Status caught_up = catch_up_(options_.catch_up_timeout); !caught_up.ok()) {
      done(caught_up);
      return;
    }
    if (!images_.Get(image_id) || !store_.HasOriginal(image_id)) {
      done(errors::Make(absl::StatusCode::kFailedPrecondition, "ImageNotFound",
                        absl::StrCat("spec.source.imageId: no image ", image_id)));
      return;
    }
  }
  if (options_.admit) {
    if (absl::Status admitted = options_.admit(); !admitted.ok()) {
      done(admitted);
      return;
    }
  }

  auto submission = std::make_shared<Submission>();
  job::JobRecord& record = submission->record;
  record.id = job::NewJobId();
  record.created_at = job::NowRfc3339();
  record.idempotency_key = create.idempotency_key;
  record.request_hash = create.request_hash;
  record.batch_id = create.batch_id;
  record.batch_index = create.batch_index;
  if (!from_url) record.output_key = job::OutputKey(image_id, spec);
  record.spec = std::move(spec);
  if (parent != nullptr) submission->parent = *parent;
  submission->done = std::move(done);

  const std::string path =
      store_.OutputPath(record.output_key, job::FormatExtension(record.spec.output.format));
  // A job with a callbackUrl is queued even then: the worker finds the output and calls back.
  const bool shortcut = !from_url && record.spec.callback_url.empty();
  if (std::optional<job::OutputInfo> output =
          shortcut ? jobs_.FindOutput(record.output_key) : std::nullopt;
      output && store_.Exists(path)) {
    // The same image with the same steps and output was made before: born Succeeded, and that
    // record is all there is to publish.
    record.status.phase = job::Phase::kSucceeded;
    record.status.cache_hit = true;
    record.status.output = *output;
    record.status.started_at = record.created_at;
    record.status.finished_at = record.created_at;
  }

  // Otherwise Pending first, acknowledged, then the job: a worker can only publish Running after
  // it read the job, so the status log never has Pending after Running. Neither send blocks a
  // thread: the job goes out from the Pending record's delivery report, and `done` runs from the
  // job's.
  submission->value = job::ToJson(record).dump();
  Begin();
  SendRecord({.topic = options_.topics.job_status, .key = record.id, .value = submission->value},
             [this, submission](absl::Status sent) {
               if (!sent.ok()) {
                 Complete(*submission, sent);
               } else if (submission->record.status.cache_hit) {
                 metrics_.CountJobSubmitted(/*cache_hit=*/true);
                 Complete(*submission, std::move(submission->record));
               } else {
                 QueueJob(submission);
               }
             });
}

void Service::QueueJob(const std::shared_ptr<Submission>& submission) {
  const job::JobRecord& record = submission->record;
  // The producer span's context travels in the message, so the worker's span continues the trace.
  auto publish = std::make_shared<observability::Span>(
      tracer_.StartSpan(options_.topics.jobs + " publish", observability::SpanKind::kProducer,
                        submission->parent ? &*submission->parent : nullptr));
  publish->SetAttribute("messaging.system", std::string("kafka"));
  publish->SetAttribute("messaging.operation", std::string("publish"));
  publish->SetAttribute("messaging.destination.name", options_.topics.jobs);
  publish->SetAttribute("pixq.job.id", record.id);
  SendRecord({.topic = options_.topics.jobs,
              .key = record.id,
              .value = submission->value,
              .headers = {{"pixq-attempt", "1"},
                          {"traceparent", observability::FormatTraceparent(publish->context())}}},
             [this, submission, publish](absl::Status queued) {
               if (queued.ok()) {
                 publish->End();
                 metrics_.CountJobSubmitted(/*cache_hit=*/false);
                 Complete(*submission, std::move(submission->record));
                 return;
               }
               publish->SetError(std::string(queued.message()));
               publish->End();
               // The client is told the job was not accepted; make the record say so too, if Kafka
               // lets us.
               job::JobRecord failed = submission->record;
               failed.status.phase = job::Phase::kFailed;
               failed.status.reason = "NotAccepted";
               failed.status.message = std::string(queued.message());
               failed.status.finished_at = job::NowRfc3339();
               producer_.SendAsync({.topic = options_.topics.job_status,
                                    .key = failed.id,
                                    .value = job::ToJson(failed).dump()},
                                   [](absl::Status) {});
               observability::LogWarn(
                   "job not accepted",
                   {{"job_id", failed.id}, {"error", std::string(queued.message())}});
               Complete(*submission, queued);
             });
}

void Service::SendRecord(const queue::OutgoingMessage& message,
                         queue::Producer::DeliveryCallback done) {
  producer_.SendAsync(message,
                      [this, topic = message.topic, done = std::move(done)](absl::Status sent) {
                        if (!sent.ok()) metrics_.CountProduceError(topic);
                        done(std::move(sent));
                      });
}

void Service::Begin() {
  std::lock_guard<std::mutex> lock(submissions_mu_);
  ++submissions_;
}

void Service::Complete(Submission& submission, absl::StatusOr<job::JobRecord> outcome) {
  {
    // Gone before the count drops: what it holds (an Idempotency-Key's claim) refers to this
    // service, which the destructor may release once the count is zero.
    JobCallback done = std::move(submission.done);
    done(std::move(outcome));
  }
  std::lock_guard<std::mutex> lock(submissions_mu_);
  if (--submissions_ == 0) submissions_cv_.notify_all();
}

Service::~Service() {
  // Delivery reports still to come call back into this object. librdkafka settles every record
  // within its message timeout while the producer runs (it outlives the service).
  std::unique_lock<std::mutex> lock(submissions_mu_);
  if (!submissions_cv_.wait_for(lock, absl::ToChronoMilliseconds(2 * options_.produce_timeout),
                                [this] { return submissions_ == 0; })) {
    observability::LogError("jobs still on their way to Kafka at shutdown",
                            {{"jobs", submissions_}});
  }
}

absl::StatusOr<std::optional<job::JobRecord>> Service::FindIdempotent(
    const std::string& key, const std::string& request_hash) {
  std::optional<job::JobRecord> found = jobs_.FindByIdempotencyKey(key);
  if (!found) {
    // Another replica may have taken the first request.
    PIXQ_RETURN_IF_ERROR(catch_up_(options_.catch_up_timeout));
    found = jobs_.FindByIdempotencyKey(key);
  }
  if (found && found->request_hash != request_hash) {
    return errors::Make(absl::StatusCode::kFailedPrecondition, "IdempotencyKeyReused",
                        "this Idempotency-Key was used with another request body");
  }
  if (found) {
    absl::StatusOr<bool> kept = Settle(*found);
    if (!kept.ok()) return kept.status();
    if (!*kept) return std::optional<job::JobRecord>();
  }
  return found;
}

absl::StatusOr<bool> Service::Settle(const job::JobRecord& record) {
  // Its first request was answered 503: it was never accepted, so it is made anew.
  if (record.status.phase == job::Phase::kFailed && record.status.reason == "NotAccepted") {
    return false;
  }
  // Not started long after it was created: perhaps queued behind others, perhaps never queued
  // (the first request failed between its status and its job, and the NotAccepted record was
  // lost too). Queue it again; a job delivered twice finds its output and does nothing more.
  // A repeat within twice the produce timeout finds the first request's outcome settled.
  const int64_t created = job::Rfc3339ToUnixMillis(record.created_at);
  const bool stale =
      created > 0 && absl::FromUnixMillis(created) + 2 * options_.produce_timeout < absl::Now();
  if (record.status.phase == job::Phase::kPending && record.status.attempts == 0 &&
      !record.status.cache_hit && stale) {
    if (options_.admit) PIXQ_RETURN_IF_ERROR(options_.admit());
    absl::Status queued = producer_.Send({.topic = options_.topics.jobs,
                                          .key = record.id,
                                          .value = job::ToJson(record).dump(),
                                          .headers = {{"pixq-attempt", "1"}}},
                                         options_.produce_timeout);
    if (!queued.ok()) {
      metrics_.CountProduceError(options_.topics.jobs);
      return queued;
    }
  }
  return true;
}

Service::KeyGuard::~KeyGuard() {
  std::lock_guard<std::mutex> lock(service_.claims_mu_);
  service_.claims_.erase(key_);
}

absl::StatusOr<std::unique_ptr<Service::KeyGuard>> Service::Claim(const std::string& key) {
  if (key.empty()) return std::unique_ptr<KeyGuard>();
  std::lock_guard<std::mutex> lock(claims_mu_);
  if (!claims_.insert(key).second) {
    return errors::Make(absl::StatusCode::kAborted, "IdempotencyKeyInUse",
                        "a request with this Idempotency-Key is under way; try again shortly");
  }
  return std::make_unique<KeyGuard>(*this, key);
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
        absl::StatusOr<bool> kept = Settle(r);
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
    if (images_.Get(image) && store_.HasOriginal(image)) continue;
    if (!caught_up) {
      PIXQ_RETURN_IF_ERROR(catch_up_(options_.catch_up_timeout));
      caught_up = true;
      if (images_.Get(image) && store_.HasOriginal(image)) continue;
    }
    return errors::Make(absl::StatusCode::kFailedPrecondition, "ImageNotFound",
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
      return errors::Make(record.status().code(), errors::ReasonOf(record.status()),
                          absl::StrCat("batch ", result.id, ": job ", i, " of ", specs.size(),
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
    return errors::NotFound("BatchNotFound", "no such batch");
  }
  std::vector<job::JobRecord> jobs = jobs_.Batch(id);
  if (jobs.empty()) {
    PIXQ_RETURN_IF_ERROR(catch_up_(options_.catch_up_timeout));
    jobs = jobs_.Batch(id);
  }
  if (jobs.empty()) return errors::NotFound("BatchNotFound", absl::StrCat("no batch ", id));
  return jobs;
}

absl::StatusOr<job::JobRecord> Service::GetJob(const std::string& id) {
  if (!job::IsJobId(id)) return errors::NotFound("JobNotFound", "no such job");
  if (std::optional<job::JobRecord> record = jobs_.Get(id)) return *record;
  PIXQ_RETURN_IF_ERROR(catch_up_(options_.catch_up_timeout));
  if (std::optional<job::JobRecord> record = jobs_.Get(id)) return *record;
  return errors::NotFound("JobNotFound", absl::StrCat("no job ", id));
}

absl::Status Service::Forget(const std::string& topic, const std::string& key) {
  if (options_.admit) PIXQ_RETURN_IF_ERROR(options_.admit());
  absl::Status sent =
      producer_.Send({.topic = topic, .key = key, .tombstone = true}, options_.produce_timeout);
  if (!sent.ok()) metrics_.CountProduceError(topic);
  return sent;
}

absl::StatusOr<ImagePage> Service::ListImages(const ImageQuery& query) {
  // The filter as the token remembers it: the title compared without case.
  const std::string filter = absl::AsciiStrToLower(query.title);
  std::optional<state::ImageTable::Position> after;
  if (query.page_token.empty()) {
    PIXQ_RETURN_IF_ERROR(catch_up_(options_.catch_up_timeout));
  } else {
    absl::StatusOr<PageCursor> cursor = DecodePageToken(query.page_token, "images", filter);
    if (!cursor.ok()) return cursor.status();
    after = state::ImageTable::Position(cursor->created_ms, cursor->id);
  }
  state::ImageTable::Page page = images_.List(
      after, static_cast<size_t>(std::max(query.limit, 1)), [&](const job::ImageMeta& meta) {
        return filter.empty() ||
               absl::AsciiStrToLower(meta.title).find(filter) != std::string::npos;
      });
  ImagePage out;
  if (page.more && !page.items.empty()) {
    const state::ImageTable::Position last = state::ImageTable::PositionOf(page.items.back());
    out.next_page_token =
        EncodePageToken("images", filter, {.created_ms = last.first, .id = last.second});
  }
  out.items = std::move(page.items);
  return out;
}

absl::StatusOr<DeleteImageResult> Service::DeleteImage(const std::string& id) {
  absl::StatusOr<job::ImageMeta> meta = GetImage(id);
  if (!meta.ok()) return meta.status();
  // Nothing is removed while Kafka is known to be unreachable: the tombstone could not follow.
  if (options_.admit) PIXQ_RETURN_IF_ERROR(options_.admit());

  // Every output made from it: an output key is a hash over the image id, so these files belong
  // to this image alone.
  const state::JobTable::Page jobs =
      jobs_.List("", jobs_.size() + 1, [&id](const job::JobRecord& record) {
        return record.spec.source.image_id == id || record.status.image_id == id;
      });
  std::set<std::string> paths;
  for (const job::JobRecord& record : jobs.items) {
    if (record.status.output && !record.status.output->path.empty()) {
      paths.insert(record.status.output->path);
    }
    if (!record.output_key.empty()) {
      paths.insert(
          store_.OutputPath(record.output_key, job::FormatExtension(record.spec.output.format)));
    }
  }
  DeleteImageResult result;
  // The files first and the tombstone last: if anything fails, the image is still listed and
  // deleting it again finishes the work.
  for (const std::string& path : paths) {
    const bool existed = store_.Exists(path);
    PIXQ_RETURN_IF_ERROR(store_.Remove(path));
    if (existed) ++result.outputs_removed;
  }
  PIXQ_RETURN_IF_ERROR(store_.RemoveOriginal(id));
  PIXQ_RETURN_IF_ERROR(Forget(options_.topics.images, id));
  // This replica's next read should not show it any more; the delete is done either way.
  if (absl::Status caught_up = catch_up_(options_.catch_up_timeout); !caught_up.ok()) {
    observability::LogWarn("no catch-up after a delete",
                           {{"image_id", id}, {"error", std::string(caught_up.message())}});
  }
  observability::LogInfo("image deleted", {{"image_id", id},
                                           {"jobs", static_cast<int64_t>(jobs.items.size())},
                                           {"outputs_removed", result.outputs_removed}});
  return result;
}

absl::StatusOr<JobPage> Service::ListJobs(const JobQuery& query) {
  std::vector<job::Phase> phases = query.phases;
  std::sort(phases.begin(), phases.end());
  phases.erase(std::unique(phases.begin(), phases.end()), phases.end());
  std::string filter;
  for (job::Phase phase : phases) absl::StrAppend(&filter, job::PhaseName(phase), ",");
  std::string after;
  if (query.page_token.empty()) {
    PIXQ_RETURN_IF_ERROR(catch_up_(options_.catch_up_timeout));
  } else {
    absl::StatusOr<PageCursor> cursor = DecodePageToken(query.page_token, "jobs", filter);
    if (!cursor.ok()) return cursor.status();
    after = cursor->id;
  }
  state::JobTable::Page page = jobs_.List(
      after, static_cast<size_t>(std::max(query.limit, 1)), [&](const job::JobRecord& record) {
        return phases.empty() ||
               std::find(phases.begin(), phases.end(), record.status.phase) != phases.end();
      });
  JobPage out;
  if (page.more && !page.items.empty()) {
    out.next_page_token = EncodePageToken("jobs", filter, {.id = page.items.back().id});
  }
  out.items = std::move(page.items);
  return out;
}

absl::Status Service::DeleteJob(const std::string& id) {
  absl::StatusOr<job::JobRecord> record = GetJob(id);
  if (!record.ok()) return record.status();
  if (!job::IsTerminal(record->status.phase)) {
    return errors::Make(absl::StatusCode::kAborted, "JobNotFinished",
                        absl::StrCat("the job is ", job::PhaseName(record->status.phase),
                                     "; it can be deleted once it has Succeeded or Failed"));
  }
  PIXQ_RETURN_IF_ERROR(Forget(options_.topics.job_status, id));
  if (absl::Status caught_up = catch_up_(options_.catch_up_timeout); !caught_up.ok()) {
    observability::LogWarn("no catch-up after a delete",
                           {{"job_id", id}, {"error", std::string(caught_up.message())}});
  }
  return absl::OkStatus();
}

absl::StatusOr<Variant> Service::ResolveVariant(const std::string& image_id,
                                                const VariantRequest& request) {
  absl::StatusOr<job::ImageMeta> image = GetImage(image_id);
  if (!image.ok()) return image.status();
  Variant variant;
  variant.spec = VariantSpec(*image, request);
  variant.output_key = job::OutputKey(image->id, variant.spec);
  variant.output_path =
      store_.OutputPath(variant.output_key, job::FormatExtension(variant.spec.output.format));
  variant.stored = store_.Exists(variant.output_path);
  variant.image = *std::move(image);
  return variant;
}

}  // namespace pixq::api
