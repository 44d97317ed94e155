#include "pkg/state/status_writer.h"

#include <gtest/gtest.h>

#include "pkg/job/json.h"
#include "pkg/state/tables.h"
#include "tests/fakes/fake_producer.h"

namespace pixq::state {
namespace {

job::JobRecord Record(const std::string& id, job::Phase phase) {
  job::JobRecord record;
  record.id = id;
  record.created_at = "2027-01-15T08:00:00.000Z";
  record.spec.source.image_id = std::string(64, 'b');
  record.output_key = std::string(64, 'c');
  record.status.phase = phase;
  return record;
}

TEST(StatusWriterTest, WritesWhatTheJobTableReads) {
  testing::FakeProducer producer;
  StatusWriter writer(producer, "pixq.job-status");
  ASSERT_TRUE(
      writer.Write(Record("j_01HV3K9Q6Y0S4W7T1F2D5G8B91", job::Phase::kPending), absl::Seconds(1))
          .ok());
  bool delivered = false;
  writer.WriteAsync(Record("j_01HV3K9Q6Y0S4W7T1F2D5G8B91", job::Phase::kSucceeded),
                    [&delivered](absl::Status s) { delivered = s.ok(); });
  EXPECT_TRUE(delivered);

  JobTable table;
  for (const queue::OutgoingMessage& m : producer.SentTo("pixq.job-status")) {
    EXPECT_EQ(m.key, "j_01HV3K9Q6Y0S4W7T1F2D5G8B91");
    ASSERT_TRUE(table.Apply(m.key, m.value).ok());
  }
  std::optional<job::JobRecord> read = table.Get("j_01HV3K9Q6Y0S4W7T1F2D5G8B91");
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->status.phase, job::Phase::kSucceeded);
}

TEST(StatusWriterTest, ForgetsAJobWithATombstone) {
  testing::FakeProducer producer;
  StatusWriter writer(producer, "pixq.job-status");
  ASSERT_TRUE(writer.Forget("j_01HV3K9Q6Y0S4W7T1F2D5G8B92", absl::Seconds(1)).ok());
  const auto sent = producer.SentTo("pixq.job-status");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].key, "j_01HV3K9Q6Y0S4W7T1F2D5G8B92");
  EXPECT_TRUE(sent[0].tombstone);
  EXPECT_TRUE(sent[0].value.empty());
}

TEST(StatusWriterTest, GivesTheMessageForCallersThatSendItThemselves) {
  testing::FakeProducer producer;
  StatusWriter writer(producer, "pixq.job-status");
  const job::JobRecord record = Record("j_01HV3K9Q6Y0S4W7T1F2D5G8B93", job::Phase::kRunning);
  const queue::OutgoingMessage m = writer.Record(record);
  EXPECT_EQ(m.topic, "pixq.job-status");
  EXPECT_EQ(m.key, "j_01HV3K9Q6Y0S4W7T1F2D5G8B93");
  EXPECT_EQ(m.value, job::ToJson(record).dump());
  EXPECT_TRUE(producer.Sent().empty());
}

TEST(StatusWriterTest, ReportsAnUnacknowledgedRecord) {
  testing::FakeProducer producer;
  producer.FailTopic("pixq.job-status");
  StatusWriter writer(producer, "pixq.job-status");
  EXPECT_FALSE(
      writer.Write(Record("j_01HV3K9Q6Y0S4W7T1F2D5G8B94", job::Phase::kFailed), absl::Seconds(1))
          .ok());
  EXPECT_FALSE(writer.Forget("j_01HV3K9Q6Y0S4W7T1F2D5G8B94", absl::Seconds(1)).ok());
}

}  // namespace
}  // namespace pixq::state
