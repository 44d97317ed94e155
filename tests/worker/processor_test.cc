#include "pkg/worker/processor.h"

#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "pkg/crypto/hmac.h"
#include "pkg/crypto/sha256.h"
#include "pkg/errors/errors.h"
#include "pkg/job/json.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_fetcher.h"
#include "tests/fakes/fake_producer.h"
#include "tests/fakes/memory_store.h"

namespace pixq::worker {
namespace {

std::string Jpeg(int width, int height) {
  std::vector<uchar> out;
  cv::imencode(".jpg", cv::Mat(height, width, CV_8UC3, cv::Scalar(40, 90, 200)), out);
  return std::string(out.begin(), out.end());
}

class ProcessorTest : public ::testing::Test {
 protected:
  ProcessorTest()
      : pipeline_(imaging::Limits{}),
        processor_(ProcessorOptions{.worker_name = "w-test",
                                    .retry = {.max_attempts = 3,
                                              .backoff = absl::Seconds(2),
                                              .max_backoff = absl::Seconds(10)},
                                    .webhook = {.secret = "hook-secret",
                                                .max_attempts = 3,
                                                .backoff = absl::Milliseconds(1)}},
                   pipeline_, store_, fetcher_, producer_, metrics_, tracer_, stopping_, clock_) {}

  // A job as pixq-api would have queued it.
  queue::Message JobMessage(const std::string& image_id, const std::string& spec_json) {
    job::JobRecord record;
    record.id = "j_01HV3K9Q6Y0S4W7T1F2D5G8B9C";
    record.created_at = "2026-11-22T10:00:00.000Z";
    record.spec =
        *job::ParseJobSpec(R"({"source":{"imageId":")" + image_id + R"("},)" + spec_json + "}", {});
    record.output_key = job::OutputKey(image_id, record.spec);
    return queue::Message{.topic = "pixq.jobs",
                          .partition = 0,
                          .offset = 7,
                          .key = record.id,
                          .value = job::ToJson(record).dump(),
                          .headers = {{"pixq-attempt", "1"}}};
  }

  // A job whose source is a URL, on its `attempt`th delivery.
  queue::Message UrlJobMessage(const std::string& url, int attempt = 1) {
    job::JobRecord record;
    record.id = "j_01HV3K9Q6Y0S4W7T1F2D5G8B9D";
    record.created_at = "2026-11-22T10:00:00.000Z";
    record.spec = *job::ParseJobSpec(
        R"({"source":{"url":")" + url + R"("},"steps":[{"op":"resize","width":50}]})", {});
    return queue::Message{.topic = attempt == 1 ? "pixq.jobs" : "pixq.jobs.retry",
                          .partition = 0,
                          .offset = 9,
                          .key = record.id,
                          .value = job::ToJson(record).dump(),
                          .headers = {{"pixq-attempt", std::to_string(attempt)}}};
  }

  std::vector<job::JobRecord> Statuses() {
    std::vector<job::JobRecord> out;
    for (const auto& m : producer_.SentTo("pixq.job-status")) {
      out.push_back(*job::RecordFromJson(m.value));
    }
    return out;
  }

  std::string StoreImage(const std::string& bytes) {
    const std::string id = crypto::Sha256Hex(bytes);
    EXPECT_TRUE(store_.PutOriginal(id, bytes).ok());
    return id;
  }

  testing::FakeClock clock_;
  testing::MemoryStore store_;
  testing::FakeProducer producer_;
  testing::FakeFetcher fetcher_;
  std::atomic<bool> stopping_{false};
  observability::Metrics metrics_{observability::MetricsRole::kWorker};
  observability::Tracer tracer_{observability::TracingOptions{}, nullptr};
  imaging::Pipeline pipeline_;
  JobProcessor processor_;
};

TEST_F(ProcessorTest, CountsTheQueueTimeFromWhenThisAttemptWasQueued) {
  // A job created long ago and retried by a client 250 ms ago: it waited 250 ms, not since then.
  queue::Message retried = JobMessage(StoreImage(Jpeg(40, 30)), R"("output":{"format":"png"})");
  retried.timestamp_ms = absl::ToUnixMillis(clock_.Now() - absl::Milliseconds(250));
  ASSERT_TRUE(processor_.Process(retried).ok());
  const std::vector<job::JobRecord> statuses = Statuses();
  ASSERT_EQ(statuses.size(), 2u);
  EXPECT_EQ(statuses[1].status.timings.queue_ms, 250);
}

TEST_F(ProcessorTest, RunsTheStepsStoresTheOutputAndPublishesRunningThenSucceeded) {
  const std::string id = StoreImage(Jpeg(400, 300));
  ASSERT_TRUE(processor_
                  .Process(JobMessage(id, R"("steps":[{"op":"resize","width":100},)"
                                          R"({"op":"rotate","degrees":90}],)"
                                          R"("output":{"format":"png"})"))
                  .ok());
  const std::vector<job::JobRecord> statuses = Statuses();
  ASSERT_EQ(statuses.size(), 2u);
  EXPECT_EQ(statuses[0].status.phase, job::Phase::kRunning);
  EXPECT_EQ(statuses[0].status.worker, "w-test");
  EXPECT_EQ(statuses[0].status.attempts, 1);
  const job::JobStatus& done = statuses[1].status;
  ASSERT_EQ(done.phase, job::Phase::kSucceeded) << done.reason << ": " << done.message;
  ASSERT_TRUE(done.output.has_value());
  EXPECT_EQ(done.output->width, 75);
  EXPECT_EQ(done.output->height, 100);
  EXPECT_EQ(done.output->format, job::Format::kPng);
  EXPECT_TRUE(store_.Exists(done.output->path));
  EXPECT_EQ(done.output->path, store_.OutputPath(statuses[1].output_key, "png"));
  EXPECT_FALSE(done.finished_at.empty());
  EXPECT_GT(done.timings.queue_ms, 0);
  const std::string exposed = metrics_.Render();
  EXPECT_NE(
      exposed.find("pixq_jobs_completed_total{format=\"png\",reason=\"\",result=\"succeeded\"} 1"),
      std::string::npos)
      << exposed;
  EXPECT_NE(exposed.find("pixq_job_step_duration_seconds_count{op=\"rotate\"} 1"),
            std::string::npos);
}

TEST_F(ProcessorTest, RunningTwiceWritesTheSameBytesToTheSamePath) {
  const std::string id = StoreImage(Jpeg(200, 100));
  const queue::Message m =
      JobMessage(id, R"("steps":[{"op":"mirror"}],"output":{"format":"webp"})");
  ASSERT_TRUE(processor_.Process(m).ok());
  ASSERT_TRUE(processor_.Process(m).ok());
  const std::vector<job::JobRecord> statuses = Statuses();
  ASSERT_EQ(statuses.size(), 4u);
  ASSERT_TRUE(statuses[1].status.output && statuses[3].status.output);
  EXPECT_EQ(statuses[1].status.output->path, statuses[3].status.output->path);
  EXPECT_EQ(statuses[1].status.output->bytes, statuses[3].status.output->bytes);
}

TEST_F(ProcessorTest, FailsAJobWhoseOriginalIsMissing) {
  ASSERT_TRUE(processor_.Process(JobMessage(std::string(64, 'd'), R"("steps":[])")).ok());
  const std::vector<job::JobRecord> statuses = Statuses();
  ASSERT_EQ(statuses.size(), 2u);
  EXPECT_EQ(statuses[1].status.phase, job::Phase::kFailed);
  EXPECT_EQ(statuses[1].status.reason, "ImageNotFound");
}

TEST_F(ProcessorTest, FailsAJobWhoseImageDoesNotDecode) {
  const std::string id = StoreImage(std::string("\x89PNG\r\n\x1a\n", 8) + std::string(100, 'x'));
  ASSERT_TRUE(processor_.Process(JobMessage(id, R"("steps":[{"op":"flip"}])")).ok());
  const std::vector<job::JobRecord> statuses = Statuses();
  ASSERT_EQ(statuses.size(), 2u);
  EXPECT_EQ(statuses[1].status.phase, job::Phase::kFailed);
  EXPECT_FALSE(statuses[1].status.reason.empty());
  EXPECT_FALSE(statuses[1].status.message.empty());
}

TEST_F(ProcessorTest, SkipsARecordThatIsNotAJob) {
  queue::Message m{.topic = "pixq.jobs", .key = "x", .value = std::string("not json")};
  EXPECT_TRUE(processor_.Process(m).ok());
  EXPECT_TRUE(producer_.Sent().empty());
}

TEST_F(ProcessorTest, ReportsAnErrorWhenTheFinalStatusCannotBePublished) {
  const std::string id = StoreImage(Jpeg(50, 50));
  producer_.FailTopic("pixq.job-status");
  stopping_ = true;  // otherwise it keeps retrying
  absl::Status done = processor_.Process(JobMessage(id, R"("steps":[])"));
  ASSERT_FALSE(done.ok());
  EXPECT_EQ(errors::ReasonOf(done), "StatusNotPublished");
  EXPECT_TRUE(errors::IsRetriable(done));
}

TEST_F(ProcessorTest, DownloadsAUrlSourceIntoTheCatalogueAndRunsTheJob) {
  const std::string bytes = Jpeg(200, 100);
  const std::string id = crypto::Sha256Hex(bytes);
  fetcher_.Serve("https://images.example/cats/tabby.jpg?size=big", bytes);
  ASSERT_TRUE(
      processor_.Process(UrlJobMessage("https://images.example/cats/tabby.jpg?size=big")).ok());

  EXPECT_TRUE(store_.HasOriginal(id));
  const auto images = producer_.SentTo("pixq.images");
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0].key, id);
  const nlohmann::json meta = nlohmann::json::parse(images[0].value);
  EXPECT_EQ(meta["filename"], "tabby.jpg");
  EXPECT_EQ(meta["width"], 200);
  const std::vector<job::JobRecord> statuses = Statuses();
  ASSERT_EQ(statuses.size(), 2u);
  const job::JobRecord& done = statuses[1];
  ASSERT_EQ(done.status.phase, job::Phase::kSucceeded) << done.status.message;
  EXPECT_EQ(done.status.image_id, id);
  EXPECT_EQ(done.output_key, job::OutputKey(id, done.spec));
  EXPECT_FALSE(done.status.cache_hit);
  ASSERT_TRUE(done.status.output.has_value());
  EXPECT_EQ(done.status.output->width, 50);
}

TEST_F(ProcessorTest, TheSameBytesAgainAreACacheHitAndNotAnnouncedTwice) {
  const std::string bytes = Jpeg(120, 80);
  fetcher_.Serve("http://a.example/one.jpg", bytes);
  fetcher_.Serve("http://b.example/copy.jpg", bytes);
  ASSERT_TRUE(processor_.Process(UrlJobMessage("http://a.example/one.jpg")).ok());
  ASSERT_TRUE(processor_.Process(UrlJobMessage("http://b.example/copy.jpg")).ok());
  EXPECT_EQ(producer_.SentTo("pixq.images").size(), 1u);
  const std::vector<job::JobRecord> statuses = Statuses();
  ASSERT_EQ(statuses.size(), 4u);
  const job::JobStatus& first = statuses[1].status;
  const job::JobStatus& second = statuses[3].status;
  ASSERT_EQ(second.phase, job::Phase::kSucceeded) << second.message;
  EXPECT_FALSE(first.cache_hit);
  EXPECT_TRUE(second.cache_hit);
  ASSERT_TRUE(first.output && second.output);
  EXPECT_EQ(second.output->path, first.output->path);
  EXPECT_EQ(second.output->width, first.output->width);
  EXPECT_EQ(second.output->height, first.output->height);
  EXPECT_EQ(second.output->bytes, first.output->bytes);
}

TEST_F(ProcessorTest, AUrlImportNamesItsImageByTheUrlsLastSegmentCutWithoutSplittingACharacter) {
  const std::string bytes = Jpeg(40, 30);
  // 254 bytes of ASCII, then a three-byte character across the 255-byte limit.
  const std::string name = std::string(254, 'a') + "\xE2\x82\xAC.jpg";
  const std::string url = "https://images.example/photos/" + name;
  fetcher_.Serve(url, bytes);
  ASSERT_TRUE(processor_.Process(UrlJobMessage(url)).ok());
  const auto images = producer_.SentTo("pixq.images");
  ASSERT_EQ(images.size(), 1u);
  const nlohmann::json meta = nlohmann::json::parse(images[0].value);
  const std::string filename = meta["filename"];
  EXPECT_EQ(filename, std::string(254, 'a') + "\xEF\xBF\xBD") << "U+FFFD for the cut character";
  EXPECT_EQ(meta["title"], name) << "a title is cut at 512 bytes, as an upload's";
  EXPECT_EQ(meta["createdAt"], "2027-01-15T08:00:00.000Z") << "the processor's clock";
}

TEST_F(ProcessorTest, ATransientFailureGoesToTheRetryTopicWithABackoff) {
  fetcher_.Script("http://flaky.example/a.jpg",
                  {errors::Make(errors::Reason::kSourceUnavailable, "answered HTTP 503")});
  const absl::Time before = clock_.Now();
  ASSERT_TRUE(processor_.Process(UrlJobMessage("http://flaky.example/a.jpg", 2)).ok());
  const auto retries = producer_.SentTo("pixq.jobs.retry");
  ASSERT_EQ(retries.size(), 1u);
  const queue::OutgoingMessage& retry = retries[0];
  EXPECT_EQ(retry.key, "j_01HV3K9Q6Y0S4W7T1F2D5G8B9D");
  std::map<std::string, std::string> headers;
  for (const auto& h : retry.headers) headers[h.key] = h.value;
  EXPECT_EQ(headers["pixq-attempt"], "3");
  // Attempt 2 failed: the wait is 2 s × 2.
  const absl::Time not_before = absl::FromUnixMillis(std::stoll(headers["pixq-not-before"]));
  EXPECT_EQ(not_before, before + absl::Seconds(4)) << "the clock did not move meanwhile";
  EXPECT_FALSE(headers["traceparent"].empty());
  EXPECT_TRUE(job::RecordFromJson(retry.value).ok());

  const std::vector<job::JobRecord> statuses = Statuses();
  ASSERT_EQ(statuses.size(), 2u);
  const job::JobStatus& waiting = statuses[1].status;
  EXPECT_EQ(waiting.phase, job::Phase::kPending);
  EXPECT_EQ(waiting.attempts, 2);
  EXPECT_EQ(waiting.reason, "SourceUnavailable");
  EXPECT_NE(waiting.message.find("attempt 2 of 3 failed"), std::string::npos) << waiting.message;
  EXPECT_TRUE(producer_.SentTo("pixq.jobs.dlq").empty());
  EXPECT_NE(metrics_.Render().find("result=\"retried\""), std::string::npos);
}

TEST_F(ProcessorTest, TheLastAttemptGoesToTheDeadLetterTopicAndFails) {
  fetcher_.Script("http://down.example/a.jpg",
                  {errors::Make(errors::Reason::kSourceUnavailable, "connection refused")});
  ASSERT_TRUE(processor_.Process(UrlJobMessage("http://down.example/a.jpg", 3)).ok());
  EXPECT_TRUE(producer_.SentTo("pixq.jobs.retry").empty());
  const auto letters = producer_.SentTo("pixq.jobs.dlq");
  ASSERT_EQ(letters.size(), 1u);
  const nlohmann::json letter = nlohmann::json::parse(letters[0].value);
  EXPECT_EQ(letter["attempts"], 3);
  EXPECT_EQ(letter["error"]["reason"], "SourceUnavailable");
  EXPECT_EQ(letter["job"]["metadata"]["id"], "j_01HV3K9Q6Y0S4W7T1F2D5G8B9D");
  const std::vector<job::JobRecord> statuses = Statuses();
  ASSERT_EQ(statuses.size(), 2u);
  EXPECT_EQ(statuses[1].status.phase, job::Phase::kFailed);
  EXPECT_EQ(statuses[1].status.attempts, 3);
  EXPECT_EQ(statuses[1].status.reason, "SourceUnavailable");
  EXPECT_NE(statuses[1].status.message.find("gave up after 3 attempts"), std::string::npos);
  EXPECT_NE(metrics_.Render().find("pixq_jobs_dead_lettered_total 1"), std::string::npos);
}

TEST_F(ProcessorTest, APermanentFailureFailsAtOnce) {
  fetcher_.Script("http://127.0.0.1/secret",
                  {errors::Make(errors::Reason::kSourceForbidden,
                                "connecting to 127.0.0.1 (loopback) is not allowed")});
  ASSERT_TRUE(processor_.Process(UrlJobMessage("http://127.0.0.1/secret")).ok());
  EXPECT_TRUE(producer_.SentTo("pixq.jobs.retry").empty());
  EXPECT_TRUE(producer_.SentTo("pixq.jobs.dlq").empty());
  const std::vector<job::JobRecord> statuses = Statuses();
  ASSERT_EQ(statuses.size(), 2u);
  EXPECT_EQ(statuses[1].status.phase, job::Phase::kFailed);
  EXPECT_EQ(statuses[1].status.reason, "SourceForbidden");
  EXPECT_EQ(statuses[1].status.attempts, 1);
}

TEST_F(ProcessorTest, ADownloadThatIsNotAnImageFailsAndIsNotStored) {
  fetcher_.Serve("http://x.example/page.html", "<html>not an image</html>");
  ASSERT_TRUE(processor_.Process(UrlJobMessage("http://x.example/page.html")).ok());
  EXPECT_TRUE(producer_.SentTo("pixq.images").empty());
  EXPECT_FALSE(store_.HasOriginal(crypto::Sha256Hex("<html>not an image</html>")));
  const std::vector<job::JobRecord> statuses = Statuses();
  ASSERT_EQ(statuses.size(), 2u);
  EXPECT_EQ(statuses[1].status.phase, job::Phase::kFailed);
  EXPECT_EQ(statuses[1].status.reason, "UnsupportedMediaType");
}

TEST_F(ProcessorTest, CallsTheCallbackWithTheSignedJobAndRetriesATransientRefusal) {
  const std::string id = StoreImage(Jpeg(80, 60));
  const std::string hook = "https://hooks.example/pixq";
  fetcher_.Script(hook, {errors::Make(errors::Reason::kSourceUnavailable, "answered HTTP 503"),
                         fetch::Response{.status = 200}});
  absl::Status processed;
  std::thread job([&] {
    processed = processor_.Process(
        JobMessage(id, R"("steps":[{"op":"flip"}],"callbackUrl":")" + hook + R"(")"));
  });
  clock_.AwaitWaiters(1);  // the backoff after the refusal
  clock_.Advance(absl::Milliseconds(1));
  job.join();
  ASSERT_TRUE(processed.ok()) << processed;
  const auto posts = fetcher_.Posts();
  ASSERT_EQ(posts.size(), 2u);
  std::map<std::string, std::string> headers(posts[1].headers.begin(), posts[1].headers.end());
  EXPECT_EQ(headers["X-Pixq-Signature-256"],
            "sha256=" + crypto::HmacSha256Hex("hook-secret", posts[1].body));
  EXPECT_EQ(headers["X-Pixq-Event"], "job.succeeded");
  const nlohmann::json body = nlohmann::json::parse(posts[1].body);
  EXPECT_EQ(body["status"]["phase"], "Succeeded");
  EXPECT_EQ(body["status"]["output"]["url"], "/v1/jobs/j_01HV3K9Q6Y0S4W7T1F2D5G8B9C/output");
  EXPECT_NE(metrics_.Render().find("pixq_webhook_deliveries_total{result=\"delivered\"} 1"),
            std::string::npos);
}

TEST_F(ProcessorTest, DoesNotRetryACallbackThatIsRefusedForGood) {
  const std::string id = StoreImage(Jpeg(80, 60));
  const std::string hook = "http://10.0.0.5/hook";
  fetcher_.Script(
      hook, {errors::Make(errors::Reason::kSourceForbidden, "10.0.0.5 (private) is not allowed")});
  ASSERT_TRUE(
      processor_.Process(JobMessage(id, R"("steps":[],"callbackUrl":")" + hook + R"(")")).ok());
  EXPECT_EQ(fetcher_.Posts().size(), 1u);
  EXPECT_NE(metrics_.Render().find("pixq_webhook_deliveries_total{result=\"failed\"} 1"),
            std::string::npos);
}

TEST(RetryPolicyTest, DoublesTheWaitUpToTheCeiling) {
  const RetryPolicy policy{
      .max_attempts = 10, .backoff = absl::Milliseconds(500), .max_backoff = absl::Seconds(3)};
  EXPECT_EQ(policy.BackoffAfter(1), absl::Milliseconds(500));
  EXPECT_EQ(policy.BackoffAfter(2), absl::Seconds(1));
  EXPECT_EQ(policy.BackoffAfter(3), absl::Seconds(2));
  EXPECT_EQ(policy.BackoffAfter(4), absl::Seconds(3));
  EXPECT_EQ(policy.BackoffAfter(60), absl::Seconds(3));
}

}  // namespace
}  // namespace pixq::worker
