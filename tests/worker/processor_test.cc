#include "pkg/worker/processor.h"

#include <vector>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "pkg/crypto/sha256.h"
#include "pkg/errors/errors.h"
#include "pkg/job/json.h"
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
        processor_(ProcessorOptions{.worker_name = "w-test"}, pipeline_, store_, producer_,
                   metrics_, tracer_, stopping_) {}

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

  testing::MemoryStore store_;
  testing::FakeProducer producer_;
  std::atomic<bool> stopping_{false};
  observability::Metrics metrics_{observability::MetricsRole::kWorker};
  observability::Tracer tracer_{observability::TracingOptions{}, nullptr};
  imaging::Pipeline pipeline_;
  JobProcessor processor_;
};

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

}  // namespace
}  // namespace pixq::worker
