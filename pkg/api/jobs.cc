#include <algorithm>
#include <future>
#include <utility>

#include "absl/strings/str_cat.h"

#include "pkg/api/listing.h"
#include "pkg/api/service.h"
#include "pkg/errors/errors.h"
#include "pkg/job/ids.h"
#include "pkg/observability/log.h"

// api::Service's jobs: create (the Pending record, then the job, each acknowledged by Kafka),
// retry, read, list, forget.

namespace pixq::api {
namespace {

std::string TraceIdOf(const observability::SpanContext* parent) {
  return parent != nullptr && parent->valid() ? parent->TraceIdHex() : std::string();
}

}  // namespace

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
    return errors::Make(errors::Reason::kProduceTimeout,
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
  if (!from_url) {
    // Another replica may have taken the upload a moment ago.
    absl::StatusOr<bool> known = LookCatchingUp([&] { return HasImage(image_id); });
    if (!known.ok()) {
      done(known.status());
      return;
    }
    if (!*known) {
      done(errors::Make(errors::Reason::kImageNotFoundInSpec,
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
  record.created_at = NowRfc3339();
  record.idempotency_key = create.idempotency_key;
  record.request_hash = create.request_hash;
  record.batch_id = create.batch_id;
  record.batch_index = create.batch_index;
  if (!from_url) record.output_key = job::OutputKey(image_id, spec);
  record.spec = std::move(spec);
  // The request's trace is the job's: the producer span below and the worker's spans continue it.
  record.trace_id = TraceIdOf(parent);
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
  } else if (options_.admit_work) {
    // New work, which the work topics must keep until a worker runs it.
    if (absl::Status admitted = options_.admit_work(); !admitted.ok()) {
      submission->done(admitted);
      return;
    }
  }

  // Otherwise Pending first, acknowledged, then the job: a worker can only publish Running after
  // it read the job, so the status log never has Pending after Running. Neither send blocks a
  // thread: the job goes out from the Pending record's delivery report, and `done` runs from the
  // job's.
  const queue::OutgoingMessage pending = statuses_.Record(record);
  submission->value = pending.value;  // the job's message carries the same JSON
  Begin();
  SendRecord(pending, [this, submission](absl::Status sent) {
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
               failed.status.finished_at = NowRfc3339();
               SendRecord(statuses_.Record(failed), [](absl::Status) {});
               observability::LogWarn(
                   "job not accepted",
                   {{"job_id", failed.id}, {"error", std::string(queued.message())}});
               Complete(*submission, queued);
             });
}

absl::StatusOr<job::JobRecord> Service::GetJob(const std::string& id) {
  if (!job::IsJobId(id)) return errors::Make(errors::Reason::kJobNotFound, "no such job");
  absl::StatusOr<std::optional<job::JobRecord>> record =
      LookCatchingUp([&] { return jobs_.Get(id); });
  if (!record.ok()) return record.status();
  if (!*record) return errors::Make(errors::Reason::kJobNotFound, absl::StrCat("no job ", id));
  return **record;
}

absl::StatusOr<JobPage> Service::ListJobs(const JobQuery& query) {
  std::vector<job::Phase> phases = query.phases;
  std::sort(phases.begin(), phases.end());
  phases.erase(std::unique(phases.begin(), phases.end()), phases.end());
  // The filter as the token remembers it; without an image it reads as it did before ?image=, so
  // tokens handed out then still continue.
  std::string filter;
  for (job::Phase phase : phases) absl::StrAppend(&filter, job::PhaseName(phase), ",");
  if (!query.image_id.empty()) absl::StrAppend(&filter, "image=", query.image_id);
  std::string after;
  state::Order order = query.order.value_or(state::Order::kAscending);
  if (query.page_token.empty()) {
    PIXQ_RETURN_IF_ERROR(catch_up_(options_.catch_up_timeout));
  } else {
    absl::StatusOr<PageCursor> cursor = DecodePageToken(query.page_token, "jobs", filter);
    if (!cursor.ok()) return cursor.status();
    if (query.order && *query.order != cursor->order) {
      return errors::Make(errors::Reason::kInvalidPageToken,
                          "pageToken: made for the other order; use the nextPageToken of the "
                          "previous page with the same order, or leave order out");
    }
    after = cursor->id;
    order = cursor->order;
  }
  // Read from the image or phase index: the jobs of other images or phases are never read.
  state::JobTable::Page page =
      jobs_.ListJobs(after, static_cast<size_t>(std::max(query.limit, 1)),
                     {.phases = std::move(phases), .image_id = query.image_id, .order = order});
  JobPage out;
  if (page.more && !page.items.empty()) {
    out.next_page_token =
        EncodePageToken("jobs", filter, {.id = page.items.back().id, .order = order});
  }
  out.items = std::move(page.items);
  return out;
}

absl::StatusOr<job::JobRecord> Service::RetryJob(const std::string& id,
                                                 const observability::SpanContext* parent,
                                                 const CreateOptions& create) {
  absl::StatusOr<job::JobRecord> found = GetJob(id);
  if (!found.ok()) return found.status();
  const job::JobRecord& current = *found;
  if (!create.idempotency_key.empty() && current.retry_idempotency_key == create.idempotency_key) {
    if (current.retry_request_hash != create.request_hash) {
      return errors::Make(errors::Reason::kIdempotencyKeyReused,
                          "this Idempotency-Key was used with another request body");
    }
    return current;  // the same request again: the same answer, with the job as it is now
  }
  const job::Phase phase = current.status.phase;
  if (current.status.retries > 0 && !job::IsTerminal(phase)) {
    return current;  // the retried attempt is under way: one is enough
  }
  if (phase != job::Phase::kFailed) {
    return errors::Make(
        errors::Reason::kJobNotFailed,
        absl::StrCat("the job is ", job::PhaseName(phase), "; only a Failed job can be retried"));
  }
  // New work, which the work topics must keep until a worker runs it (Send asks `admit`).
  if (options_.admit_work) PIXQ_RETURN_IF_ERROR(options_.admit_work());

  job::JobRecord retried = current;
  job::JobStatus& status = retried.status;
  status.phase = job::Phase::kPending;
  ++status.retries;
  // The failure stays readable until a worker starts the new attempt (a Pending job with a
  // reason is one waiting for its next attempt); the output, times and cache flag are the
  // finished attempt's, gone with it.
  status.message = absl::StrCat("retry ", status.retries,
                                " requested; the last attempt failed: ", current.status.message);
  status.output.reset();
  status.cache_hit = false;
  status.started_at.clear();
  status.finished_at.clear();
  status.timings = job::Timings();
  // The retry's own request starts the new attempt's trace.
  retried.trace_id = TraceIdOf(parent);
  retried.retry_idempotency_key = create.idempotency_key;
  retried.retry_request_hash = create.request_hash;

  const queue::OutgoingMessage pending = statuses_.Record(retried);
  PIXQ_RETURN_IF_ERROR(Send(pending));
  observability::Span publish = tracer_.StartSpan(options_.topics.jobs + " publish",
                                                  observability::SpanKind::kProducer, parent);
  publish.SetAttribute("messaging.system", std::string("kafka"));
  publish.SetAttribute("messaging.operation", std::string("publish"));
  publish.SetAttribute("messaging.destination.name", options_.topics.jobs);
  publish.SetAttribute("pixq.job.id", id);
  publish.SetAttribute("pixq.retries", int64_t{status.retries});
  // Attempt 1 again: the worker counts a retried job's attempts afresh, with the whole budget
  // of automatic retries for transient failures.
  if (absl::Status queued =
          Send({.topic = options_.topics.jobs,
                .key = id,
                .value = pending.value,
                .headers = {{"pixq-attempt", "1"},
                            {"traceparent", observability::FormatTraceparent(publish.context())}}});
      !queued.ok()) {
    publish.SetError(std::string(queued.message()));
    publish.End();
    // The record says Pending for a job that was not queued: put the failure back, so that it
    // reads as it did and can be retried again.
    SendRecord(statuses_.Record(current), [](absl::Status) {});
    observability::LogWarn("job retry not accepted",
                           {{"job_id", id}, {"error", std::string(queued.message())}});
    return queued;
  }
  publish.End();
  metrics_.CountJobSubmitted(/*cache_hit=*/false);
  observability::LogInfo("job retried", {{"job_id", id}, {"retries", status.retries}});
  if (absl::Status caught_up = catch_up_(options_.catch_up_timeout); !caught_up.ok()) {
    observability::LogWarn("no catch-up after a retry",
                           {{"job_id", id}, {"error", std::string(caught_up.message())}});
  }
  return retried;
}

absl::Status Service::DeleteJob(const std::string& id) {
  absl::StatusOr<job::JobRecord> record = GetJob(id);
  if (!record.ok()) return record.status();
  if (!job::IsTerminal(record->status.phase)) {
    return errors::Make(errors::Reason::kJobNotFinished,
                        absl::StrCat("the job is ", job::PhaseName(record->status.phase),
                                     "; it can be deleted once it has Succeeded or Failed"));
  }
  PIXQ_RETURN_IF_ERROR(Send(statuses_.Tombstone(id)));
  if (absl::Status caught_up = catch_up_(options_.catch_up_timeout); !caught_up.ok()) {
    observability::LogWarn("no catch-up after a delete",
                           {{"job_id", id}, {"error", std::string(caught_up.message())}});
  }
  return absl::OkStatus();
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

}  // namespace pixq::api
