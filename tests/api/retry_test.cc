#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "pkg/api/service.h"
#include "pkg/errors/errors.h"
#include "pkg/job/json.h"
#include "pkg/job/spec_parser.h"
#include "tests/api/service_fixture.h"

namespace pixq::api {
namespace {

class RetryTest : public ServiceFixture {
 protected:
  // A job created, then failed by a worker (its Failed record applied, as the table would).
  job::JobRecord FailedJob(const std::string& reason = "FetchTimeout") {
    absl::StatusOr<UploadResult> image = service_.UploadImage(Png(40, 30), "", "");
    EXPECT_TRUE(image.ok());
    ApplyPublished();
    absl::StatusOr<job::JobRecord> record = service_.CreateJob(
        *job::ParseJobSpec(R"({"source":{"imageId":")" + image->meta.id +
                               R"("},"steps":[{"op":"grayscale"}],"output":{"format":"png"}})",
                           {}));
    EXPECT_TRUE(record.ok()) << record.status();
    ApplyPublished();
    Publish(record->id, [&](job::JobStatus& status) {
      status.phase = job::Phase::kFailed;
      status.attempts = 5;
      status.reason = reason;
      status.message = "gave up after 5 attempts: timed out";
      status.started_at = "2026-11-22T10:00:01.000Z";
      status.finished_at = "2026-11-22T10:00:02.000Z";
      status.worker = "w-1";
    });
    return *service_.GetJob(record->id);
  }

  // Applies a worker's change of the job's status to the table.
  template <typename Change>
  void Publish(const std::string& id, Change change) {
    job::JobRecord record = *service_.GetJob(id);
    change(record.status);
    ASSERT_TRUE(jobs_.Apply(id, job::ToJson(record).dump()).ok());
  }
};

TEST_F(RetryTest, TheRetryGetsTheTraceOfItsOwnRequest) {
  const job::JobRecord failed = FailedJob();
  const std::optional<observability::SpanContext> request =
      observability::ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  ASSERT_TRUE(request.has_value());
  absl::StatusOr<job::JobRecord> retried = service_.RetryJob(failed.id, &*request, {});
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(retried->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  const auto queued = producer_.SentTo("pixq.jobs");
  ASSERT_FALSE(queued.empty());
  EXPECT_EQ(job::RecordFromJson(queued.back().value)->trace_id, retried->trace_id);
  EXPECT_EQ(observability::ParseTraceparent(queued.back().headers[1].value)->TraceIdHex(),
            retried->trace_id);
}

TEST_F(RetryTest, PutsAFailedJobBackToPendingAndQueuesItWithItsSpec) {
  const job::JobRecord failed = FailedJob();
  const size_t statuses_before = producer_.SentTo("pixq.job-status").size();
  absl::StatusOr<job::JobRecord> retried = service_.RetryJob(failed.id, nullptr, {});
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(retried->id, failed.id);
  EXPECT_EQ(retried->status.phase, job::Phase::kPending);
  EXPECT_EQ(retried->status.retries, 1);
  EXPECT_EQ(retried->status.attempts, 5) << "kept until a worker starts the new attempt";
  EXPECT_EQ(retried->status.reason, "FetchTimeout") << "the last failure stays readable";
  EXPECT_TRUE(retried->status.finished_at.empty());
  ASSERT_EQ(producer_.SentTo("pixq.job-status").size(), statuses_before + 1);
  const auto queued = producer_.SentTo("pixq.jobs");
  ASSERT_EQ(queued.size(), 2u);  // the first attempt's, and the retry's
  EXPECT_EQ(queued[1].key, failed.id);
  ASSERT_FALSE(queued[1].headers.empty());
  EXPECT_EQ(queued[1].headers[0].key, "pixq-attempt");
  EXPECT_EQ(queued[1].headers[0].value, "1") << "a fresh budget of attempts";
  absl::StatusOr<job::JobRecord> message = job::RecordFromJson(queued[1].value);
  ASSERT_TRUE(message.ok()) << message.status();
  EXPECT_EQ(message->spec.steps.size(), failed.spec.steps.size());
  EXPECT_EQ(message->output_key, failed.output_key);
  EXPECT_EQ(message->status.retries, 1);
  // This replica caught up: the table says Pending already.
  EXPECT_EQ(service_.GetJob(failed.id)->status.phase, job::Phase::kPending);
}

TEST_F(RetryTest, AnswersTheSameWithoutPublishingWhileTheRetriedAttemptIsUnderWay) {
  const job::JobRecord failed = FailedJob();
  ASSERT_TRUE(service_.RetryJob(failed.id, nullptr, {}).ok());
  const size_t sent = producer_.Sent().size();
  absl::StatusOr<job::JobRecord> again = service_.RetryJob(failed.id, nullptr, {});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->status.phase, job::Phase::kPending);
  EXPECT_EQ(again->status.retries, 1);
  Publish(failed.id, [](job::JobStatus& status) { status.phase = job::Phase::kRunning; });
  again = service_.RetryJob(failed.id, nullptr, {});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->status.phase, job::Phase::kRunning);
  EXPECT_EQ(producer_.Sent().size(), sent) << "nothing published again";
}

TEST_F(RetryTest, RetriesAgainWhenTheRetriedAttemptFailedToo) {
  const job::JobRecord failed = FailedJob();
  ASSERT_TRUE(service_.RetryJob(failed.id, nullptr, {}).ok());
  Publish(failed.id, [](job::JobStatus& status) { status.phase = job::Phase::kFailed; });
  absl::StatusOr<job::JobRecord> second = service_.RetryJob(failed.id, nullptr, {});
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->status.retries, 2);
  EXPECT_EQ(producer_.SentTo("pixq.jobs").size(), 3u);
}

TEST_F(RetryTest, HonoursTheIdempotencyKeyWhateverThePhaseSince) {
  const job::JobRecord failed = FailedJob();
  const CreateOptions keyed{.idempotency_key = "retry:c:k", .request_hash = "h"};
  ASSERT_TRUE(service_.RetryJob(failed.id, nullptr, keyed).ok());
  // The retried attempt failed too; the same request again answers the same, retrying nothing.
  Publish(failed.id, [](job::JobStatus& status) { status.phase = job::Phase::kFailed; });
  const size_t sent = producer_.Sent().size();
  absl::StatusOr<job::JobRecord> repeat = service_.RetryJob(failed.id, nullptr, keyed);
  ASSERT_TRUE(repeat.ok()) << repeat.status();
  EXPECT_EQ(repeat->status.retries, 1);
  EXPECT_EQ(producer_.Sent().size(), sent);
  EXPECT_EQ(errors::ReasonOf(service_
                                 .RetryJob(failed.id, nullptr,
                                           {.idempotency_key = "retry:c:k", .request_hash = "x"})
                                 .status()),
            "IdempotencyKeyReused");
  // Another key is another request: a second retry.
  absl::StatusOr<job::JobRecord> other =
      service_.RetryJob(failed.id, nullptr, {.idempotency_key = "retry:c:k2", .request_hash = "h"});
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(other->status.retries, 2);
}

TEST_F(RetryTest, RefusesAJobThatHasNotFailed) {
  const job::JobRecord failed = FailedJob();
  Publish(failed.id, [](job::JobStatus& status) {
    status.phase = job::Phase::kSucceeded;
    status.reason.clear();
  });
  absl::StatusOr<job::JobRecord> refused = service_.RetryJob(failed.id, nullptr, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(errors::ReasonOf(refused.status()), "JobNotFailed");
  EXPECT_EQ(errors::HttpStatusOf(refused.status()), 409);
  Publish(failed.id, [](job::JobStatus& status) { status.phase = job::Phase::kPending; });
  EXPECT_EQ(errors::ReasonOf(service_.RetryJob(failed.id, nullptr, {}).status()), "JobNotFailed")
      << "a job never retried that has not ended";
}

TEST_F(RetryTest, AnswersNotFoundForAnUnknownJob) {
  absl::StatusOr<job::JobRecord> missing =
      service_.RetryJob("j_01HV3K9Q6Y0S4W7T1F2D5G8B9C", nullptr, {});
  EXPECT_EQ(errors::ReasonOf(missing.status()), "JobNotFound");
  EXPECT_EQ(errors::ReasonOf(service_.RetryJob("nonsense", nullptr, {}).status()), "JobNotFound");
}

TEST_F(RetryTest, LeavesTheJobFailedWhenKafkaDoesNotTakeIt) {
  const job::JobRecord failed = FailedJob();
  producer_.FailTopic("pixq.jobs");
  absl::StatusOr<job::JobRecord> refused = service_.RetryJob(failed.id, nullptr, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(errors::HttpStatusOf(refused.status()), 503);
  absl::StatusOr<job::JobRecord> last =
      job::RecordFromJson(producer_.SentTo("pixq.job-status").back().value);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->status.phase, job::Phase::kFailed) << "the failure put back";
  EXPECT_EQ(last->status.retries, 0);
  producer_.FailTopic("");
  ApplyPublished();
  EXPECT_TRUE(service_.RetryJob(failed.id, nullptr, {}).ok()) << "and it can be retried again";
}

TEST_F(RetryTest, RefusesWhatTheWorkGateDoesNotAdmit) {
  const job::JobRecord failed = FailedJob();
  const size_t sent = producer_.Sent().size();
  Service gated(
      ServiceOptions{
          .max_pixels = 1'000'000,
          .admit_work = [] { return errors::Make(errors::Reason::kBacklogFull, "too many"); }},
      store_, producer_, jobs_, images_, [](absl::Duration) { return absl::OkStatus(); }, metrics_,
      tracer_, clock_);
  EXPECT_EQ(errors::ReasonOf(gated.RetryJob(failed.id, nullptr, {}).status()), "BacklogFull");
  EXPECT_EQ(producer_.Sent().size(), sent);
}

}  // namespace
}  // namespace pixq::api
