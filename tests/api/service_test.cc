#include "pkg/api/service.h"

#include <optional>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "pkg/crypto/sha256.h"
#include "pkg/errors/errors.h"
#include "pkg/job/json.h"
#include "tests/api/service_fixture.h"

namespace pixq::api {
namespace {

class ServiceTest : public ServiceFixture {
 protected:
  job::JobSpec Spec(const std::string& image_id) {
    return *job::ParseJobSpec(
        R"({"source":{"imageId":")" + image_id +
            R"("},"steps":[{"op":"resize","width":10}],"output":{"format":"webp"}})",
        {});
  }
};

TEST_F(ServiceTest, StoresAndPublishesANewImage) {
  const std::string png = Png(40, 30);
  absl::StatusOr<UploadResult> result = service_.UploadImage(png, "A title", "a.png");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->created);
  EXPECT_EQ(result->meta.width, 40);
  EXPECT_EQ(result->meta.height, 30);
  EXPECT_EQ(result->meta.format, job::Format::kPng);
  EXPECT_EQ(result->meta.bytes, static_cast<int64_t>(png.size()));
  EXPECT_TRUE(store_.HasOriginal(result->meta.id));
  const auto published = producer_.SentTo("pixq.images");
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].key, result->meta.id);
}

TEST_F(ServiceTest, KnowsTheSameBytesUploadedTwice) {
  const std::string png = Png(40, 30);
  absl::StatusOr<UploadResult> first = service_.UploadImage(png, "one", "");
  ASSERT_TRUE(first.ok());
  ApplyPublished();
  absl::StatusOr<UploadResult> second = service_.UploadImage(png, "two", "");
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->created);
  EXPECT_EQ(second->meta.id, first->meta.id);
  EXPECT_EQ(second->meta.title, "one");
}

TEST_F(ServiceTest, RefusesWhatIsNotAnImage) {
  absl::StatusOr<UploadResult> result = service_.UploadImage("hello, world", "", "");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(errors::ReasonOf(result.status()), "UnsupportedMediaType");
  EXPECT_EQ(errors::HttpStatusOf(result.status()), 415);
  EXPECT_TRUE(producer_.Sent().empty());
}

TEST_F(ServiceTest, RefusesImagesOverThePixelLimitBeforeStoringThem) {
  absl::StatusOr<UploadResult> result = service_.UploadImage(Png(1001, 1000), "", "");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(errors::ReasonOf(result.status()), "ImageTooLarge");
  EXPECT_EQ(errors::HttpStatusOf(result.status()), 422);
  EXPECT_TRUE(producer_.Sent().empty());
}

TEST_F(ServiceTest, PublishesPendingBeforeTheJob) {
  absl::StatusOr<UploadResult> image = service_.UploadImage(Png(40, 30), "", "");
  ASSERT_TRUE(image.ok());
  ApplyPublished();
  absl::StatusOr<job::JobRecord> record = service_.CreateJob(Spec(image->meta.id));
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->status.phase, job::Phase::kPending);
  EXPECT_EQ(record->output_key, job::OutputKey(image->meta.id, record->spec));
  const auto sent = producer_.Sent();
  ASSERT_EQ(sent.size(), 3u);  // image, Pending status, job
  EXPECT_EQ(sent[1].topic, "pixq.job-status");
  EXPECT_EQ(sent[1].key, record->id);
  EXPECT_EQ(sent[2].topic, "pixq.jobs");
  EXPECT_EQ(sent[2].key, record->id);
  ASSERT_EQ(sent[2].headers.size(), 2u);
  EXPECT_EQ(sent[2].headers[0].key, "pixq-attempt");
  // The trace goes along (a new one here: the call had no parent), valid for the worker to read.
  EXPECT_EQ(sent[2].headers[1].key, "traceparent");
  EXPECT_TRUE(observability::ParseTraceparent(sent[2].headers[1].value).has_value());
  absl::StatusOr<job::JobRecord> queued = job::RecordFromJson(sent[2].value);
  ASSERT_TRUE(queued.ok());
  EXPECT_EQ(queued->id, record->id);
}

TEST_F(ServiceTest, TheJobKeepsTheTraceOfTheRequestThatCreatedIt) {
  absl::StatusOr<UploadResult> image = service_.UploadImage(Png(40, 30), "", "");
  ASSERT_TRUE(image.ok());
  ApplyPublished();
  const std::optional<observability::SpanContext> request =
      observability::ParseTraceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  ASSERT_TRUE(request.has_value());
  absl::StatusOr<job::JobRecord> record = service_.CreateJob(Spec(image->meta.id), &*request);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->trace_id, "0af7651916cd43dd8448eb211c80319c");
  // In the Pending record and the job's message, whose traceparent carries the same trace.
  const auto statuses = producer_.SentTo("pixq.job-status");
  ASSERT_FALSE(statuses.empty());
  EXPECT_EQ(job::RecordFromJson(statuses.back().value)->trace_id, record->trace_id);
  const auto queued = producer_.SentTo("pixq.jobs");
  ASSERT_EQ(queued.size(), 1u);
  EXPECT_EQ(job::RecordFromJson(queued[0].value)->trace_id, record->trace_id);
  EXPECT_EQ(observability::ParseTraceparent(queued[0].headers[1].value)->TraceIdHex(),
            record->trace_id);
}

TEST_F(ServiceTest, DoesNotAcceptAJobKafkaDidNotAcknowledge) {
  absl::StatusOr<UploadResult> image = service_.UploadImage(Png(40, 30), "", "");
  ASSERT_TRUE(image.ok());
  ApplyPublished();
  producer_.FailTopic("pixq.jobs");
  absl::StatusOr<job::JobRecord> record = service_.CreateJob(Spec(image->meta.id));
  ASSERT_FALSE(record.ok());
  EXPECT_EQ(errors::HttpStatusOf(record.status()), 503);
  EXPECT_TRUE(errors::IsRetriable(record.status()));
  // The Pending record is superseded by one that says the job was not accepted.
  const auto statuses = producer_.SentTo("pixq.job-status");
  ASSERT_EQ(statuses.size(), 2u);
  absl::StatusOr<job::JobRecord> last = job::RecordFromJson(statuses.back().value);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->status.phase, job::Phase::kFailed);
  EXPECT_EQ(last->status.reason, "NotAccepted");
}

TEST_F(ServiceTest, RefusesAtOnceWhatTheGateDoesNotAdmit) {
  absl::StatusOr<UploadResult> image = service_.UploadImage(Png(40, 30), "", "");
  ASSERT_TRUE(image.ok());
  ApplyPublished();
  const size_t sent_before = producer_.Sent().size();
  absl::Status gate = errors::Make(errors::Reason::kBrokerUnavailable, "down");
  Service gated(
      ServiceOptions{.max_pixels = 1'000'000, .admit = [&gate] { return gate; }}, store_, producer_,
      jobs_, images_, [](absl::Duration) { return absl::OkStatus(); }, metrics_, tracer_, clock_);
  absl::StatusOr<UploadResult> refused = gated.UploadImage(Png(41, 30), "", "");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(errors::ReasonOf(refused.status()), "BrokerUnavailable");
  EXPECT_FALSE(store_.HasOriginal(crypto::Sha256Hex(Png(41, 30)))) << "nothing stored";
  absl::StatusOr<job::JobRecord> job = gated.CreateJob(Spec(image->meta.id));
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(errors::HttpStatusOf(job.status()), 503);
  EXPECT_EQ(producer_.Sent().size(), sent_before) << "nothing produced";
  gate = absl::OkStatus();
  EXPECT_TRUE(gated.CreateJob(Spec(image->meta.id)).ok()) << "admitted again once it is back";
}

TEST_F(ServiceTest, RefusesAJobOnAnUnknownImage) {
  absl::StatusOr<job::JobRecord> record = service_.CreateJob(Spec(std::string(64, 'e')));
  ASSERT_FALSE(record.ok());
  EXPECT_EQ(errors::ReasonOf(record.status()), "ImageNotFound");
  EXPECT_EQ(errors::HttpStatusOf(record.status()), 422);
  EXPECT_EQ(catch_ups_, 1);  // another replica might have had it
}

TEST_F(ServiceTest, AnswersFromAnExistingOutputWithoutQueueing) {
  absl::StatusOr<UploadResult> image = service_.UploadImage(Png(40, 30), "", "");
  ASSERT_TRUE(image.ok());
  ApplyPublished();
  // A first job ran and succeeded.
  job::JobRecord done;
  done.id = "j_01HV3K9Q6Y0S4W7T1F2D5G8B9C";
  done.spec = Spec(image->meta.id);
  done.output_key = job::OutputKey(image->meta.id, done.spec);
  absl::StatusOr<std::string> path = store_.PutOutput(done.output_key, "webp", "bytes");
  ASSERT_TRUE(path.ok());
  done.status.phase = job::Phase::kSucceeded;
  done.status.output = job::OutputInfo{
      .path = *path, .format = job::Format::kWebp, .width = 10, .height = 8, .bytes = 5};
  ASSERT_TRUE(jobs_.Apply(done.id, job::ToJson(done).dump()).ok());

  const size_t before = producer_.SentTo("pixq.jobs").size();
  absl::StatusOr<job::JobRecord> record = service_.CreateJob(Spec(image->meta.id));
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->status.phase, job::Phase::kSucceeded);
  EXPECT_TRUE(record->status.cache_hit);
  ASSERT_TRUE(record->status.output.has_value());
  EXPECT_EQ(record->status.output->height, 8);
  EXPECT_EQ(producer_.SentTo("pixq.jobs").size(), before);
  EXPECT_NE(record->id, done.id);
}

TEST_F(ServiceTest, CatchesUpBeforeAnsweringNotFound) {
  absl::StatusOr<job::JobRecord> missing = service_.GetJob("j_01HV3K9Q6Y0S4W7T1F2D5G8B9C");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(errors::HttpStatusOf(missing.status()), 404);
  EXPECT_EQ(catch_ups_, 1);
}

TEST_F(ServiceTest, AnswersNotFoundForMalformedIdsWithoutTouchingKafka) {
  EXPECT_EQ(errors::HttpStatusOf(service_.GetJob("../../etc/passwd").status()), 404);
  EXPECT_EQ(errors::HttpStatusOf(service_.GetImage("nope").status()), 404);
  EXPECT_EQ(catch_ups_, 0);
}

TEST_F(ServiceTest, FindsAJobPublishedByAnotherReplicaAfterCatchingUp) {
  absl::StatusOr<UploadResult> image = service_.UploadImage(Png(40, 30), "", "");
  ASSERT_TRUE(image.ok());
  ApplyPublished();
  absl::StatusOr<job::JobRecord> record = service_.CreateJob(Spec(image->meta.id));
  ASSERT_TRUE(record.ok());
  // Not applied yet: the GET must catch up rather than answer 404.
  absl::StatusOr<job::JobRecord> read = service_.GetJob(record->id);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->id, record->id);
}

TEST_F(ServiceTest, QueuesAgainAKeyedJobStillPendingLongAfterItWasCreated) {
  absl::StatusOr<UploadResult> image = service_.UploadImage(Png(40, 30), "", "");
  ASSERT_TRUE(image.ok());
  ApplyPublished();
  absl::StatusOr<job::JobRecord> record = service_.CreateJob(
      Spec(image->meta.id), nullptr, {.idempotency_key = "job:caller:key", .request_hash = "h"});
  ASSERT_TRUE(record.ok()) << record.status();
  ApplyPublished();
  ASSERT_EQ(producer_.SentTo("pixq.jobs").size(), 1u);
  // A repeat soon after: the first request's job, as it is.
  absl::StatusOr<std::optional<job::JobRecord>> found =
      service_.FindIdempotent("job:caller:key", "h");
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->id, record->id);
  EXPECT_EQ(producer_.SentTo("pixq.jobs").size(), 1u);
  // Still Pending past twice the produce timeout: perhaps never queued, so queued again.
  clock_.Advance(2 * service_.options().produce_timeout + absl::Seconds(1));
  found = service_.FindIdempotent("job:caller:key", "h");
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->id, record->id);
  ASSERT_EQ(producer_.SentTo("pixq.jobs").size(), 2u);
  EXPECT_EQ(producer_.SentTo("pixq.jobs")[1].key, record->id);
  // Another body under the same key is refused.
  EXPECT_EQ(errors::ReasonOf(service_.FindIdempotent("job:caller:key", "other").status()),
            "IdempotencyKeyReused");
}

}  // namespace
}  // namespace pixq::api
