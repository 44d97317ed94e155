// pkg/queue against pixq-devbroker running as its own process (librdkafka's mock cluster): real
// produce acknowledgements, consumer-group offsets and table catch-up over the wire protocol.

#include <chrono>
#include <future>
#include <map>
#include <set>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "pkg/errors/errors.h"
#include "pkg/queue/capacity.h"
#include "pkg/queue/consumer.h"
#include "pkg/queue/producer.h"
#include "pkg/queue/table_reader.h"
#include "tests/support/process.h"
#include "tests/support/system.h"

namespace pixq::queue {
namespace {

using ::pixq::testing::Eventually;
using ::pixq::testing::Process;
using ::pixq::testing::ReadFile;
using ::pixq::testing::TempDir;

class QueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string file = dir_.path() + "/bootstrap";
    broker_ = Process::Start({::pixq::testing::BinaryDir() + "/cmd/devbroker/pixq-devbroker",
                              "--partitions", "3", "--bootstrap-file", file},
                             {}, dir_.path() + "/broker.log");
    ASSERT_TRUE(Eventually([&] { return !ReadFile(file).empty(); }, absl::Seconds(20)))
        << broker_->Log();
    std::string text = ReadFile(file);
    while (!text.empty() && (text.back() == '\n')) text.pop_back();
    client_.bootstrap_servers = text;
  }

  TempDir dir_;
  std::unique_ptr<Process> broker_;
  ClientOptions client_;
  Topics topics_ = Topics::WithPrefix("pixq.");
};

TEST_F(QueueTest, AcknowledgedRecordsAreInTheTableAfterCatchUp) {
  auto producer = KafkaProducer::Create(client_, absl::Seconds(5));
  ASSERT_TRUE(producer.ok()) << producer.status();
  std::map<std::string, std::string> table;
  std::mutex mu;
  auto reader = TableReader::Start(client_, {topics_.job_status}, [&](const Message& m) {
    std::lock_guard<std::mutex> lock(mu);
    if (m.value) {
      table[m.key] = *m.value;
    } else {
      table.erase(m.key);
    }
  });
  ASSERT_TRUE(reader.ok()) << reader.status();
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE((*producer)
                    ->Send({.topic = topics_.job_status,
                            .key = "k" + std::to_string(i % 10),
                            .value = "v" + std::to_string(i)},
                           absl::Seconds(5))
                    .ok());
  }
  ASSERT_TRUE(
      (*producer)
          ->Send({.topic = topics_.job_status, .key = "k0", .tombstone = true}, absl::Seconds(5))
          .ok());
  ASSERT_TRUE((*reader)->CatchUp(absl::Seconds(10)).ok());
  EXPECT_TRUE((*reader)->CaughtUpOnce());
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(table.size(), 9u);    // k0 was deleted
  EXPECT_EQ(table["k9"], "v49");  // the latest value per key
  EXPECT_EQ(table.count("k0"), 0u);
}

TEST_F(QueueTest, ASecondTableReaderSeesEverythingFromTheBeginning) {
  auto producer = KafkaProducer::Create(client_, absl::Seconds(5));
  ASSERT_TRUE(producer.ok());
  ASSERT_TRUE((*producer)
                  ->Send({.topic = topics_.images, .key = "a", .value = "1"}, absl::Seconds(5))
                  .ok());
  int seen = 0;
  auto reader = TableReader::Start(client_, {topics_.images}, [&](const Message&) { ++seen; });
  ASSERT_TRUE(reader.ok());
  ASSERT_TRUE((*reader)->CatchUp(absl::Seconds(10)).ok());
  EXPECT_EQ(seen, 1);
}

TEST_F(QueueTest, CarriesHeadersAndStoredOffsetsSurviveTheConsumer) {
  auto producer = KafkaProducer::Create(client_, absl::Seconds(5));
  ASSERT_TRUE(producer.ok());
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE((*producer)
                    ->Send({.topic = topics_.jobs,
                            .key = "job" + std::to_string(i),
                            .value = std::to_string(i),
                            .headers = {{"pixq-attempt", "1"}}},
                           absl::Seconds(5))
                    .ok());
  }
  std::set<std::string> done;
  {
    auto consumer =
        GroupConsumer::Create(client_, GroupOptions{.group_id = "g1",
                                                    .topics = {topics_.jobs},
                                                    .session_timeout = absl::Seconds(6)});
    ASSERT_TRUE(consumer.ok()) << consumer.status();
    ASSERT_TRUE(Eventually(
        [&] {
          if (auto m = (*consumer)->Poll(absl::Milliseconds(100))) {
            EXPECT_EQ(m->HeaderValue("pixq-attempt"), "1");
            // Mark only the first 20 as done.
            if (std::stoi(*m->value) < 20) {
              done.insert(m->key);
              EXPECT_TRUE((*consumer)->StoreOffset(*m).ok());
            }
          }
          return done.size() == 20;
        },
        absl::Seconds(60)));
    (*consumer)->Close();  // commits what was stored
  }
  // A new member of the group gets only what was not stored: offsets are per partition, so every
  // record from the first unstored one of each partition on comes again.
  auto again = GroupConsumer::Create(client_, GroupOptions{.group_id = "g1",
                                                           .topics = {topics_.jobs},
                                                           .session_timeout = absl::Seconds(6)});
  ASSERT_TRUE(again.ok());
  std::set<std::string> redelivered;
  Eventually(
      [&] {
        if (auto m = (*again)->Poll(absl::Milliseconds(100))) redelivered.insert(m->key);
        return redelivered.size() >= 10;
      },
      absl::Seconds(60));
  for (int i = 20; i < 30; ++i) {
    EXPECT_TRUE(redelivered.contains("job" + std::to_string(i))) << i;
  }
  EXPECT_LE(redelivered.size(), 30u);
}

// A delivery callback runs inside librdkafka's poll; one that throws must not end the process
// nor stop the deliveries after it.
TEST_F(QueueTest, ADeliveryCallbackThatThrowsLeavesTheProducerWorking) {
  auto producer = KafkaProducer::Create(client_, absl::Seconds(5));
  ASSERT_TRUE(producer.ok()) << producer.status();
  std::promise<void> thrown;
  (*producer)->SendAsync({.topic = topics_.jobs, .key = "k", .value = "v"},
                         [&thrown](absl::Status) {
                           thrown.set_value();
                           throw std::runtime_error("a caller's bug");
                         });
  ASSERT_EQ(thrown.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_TRUE((*producer)
                  ->Send({.topic = topics_.jobs, .key = "k", .value = "after"}, absl::Seconds(10))
                  .ok());
}

TEST_F(QueueTest, SendAnswersWithinItsTimeoutWhenTheBrokerIsGone) {
  broker_.reset();  // stops the broker
  auto producer = KafkaProducer::Create(client_, absl::Seconds(2));
  ASSERT_TRUE(producer.ok());
  const absl::Time start = absl::Now();
  absl::Status sent =
      (*producer)->Send({.topic = topics_.jobs, .key = "k", .value = "v"}, absl::Seconds(3));
  const absl::Duration took = absl::Now() - start;
  EXPECT_FALSE(sent.ok());
  EXPECT_TRUE(errors::IsRetriable(sent)) << sent;
  EXPECT_LT(took, absl::Seconds(10));
}

}  // namespace
}  // namespace pixq::queue

namespace pixq::queue {
namespace {

// The backlog as the API's admission reads it: the local broker does not describe its topic
// configs, so its fixed limits are the room; the backlog is what the group has not committed.
TEST_F(QueueTest, BacklogIsTheLogEndMinusTheGroupsCommittedOffsetInTheLocalBrokersRoom) {
  auto kafka = KafkaProducer::Create(client_, absl::Seconds(5));
  ASSERT_TRUE(kafka.ok()) << kafka.status();
  RecordSizes sizes;
  MeasuredProducer producer(**kafka, sizes);
  auto source = KafkaBacklogSource::Create(client_,
                                           {.topics = {topics_.jobs, topics_.retry},
                                            .group_ids = {"g-backlog", RetryGroupOf("g-backlog")}},
                                           sizes, clock::RealClock());
  ASSERT_TRUE(source.ok()) << source.status();

  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(producer
                    .Send({.topic = topics_.jobs,
                           .key = "job" + std::to_string(i),
                           .value = std::string(200, 'x')},
                          absl::Seconds(5))
                    .ok());
  }
  absl::StatusOr<std::vector<PartitionBacklog>> backlog = (*source)->Read();
  ASSERT_TRUE(backlog.ok()) << backlog.status();
  ASSERT_EQ(backlog->size(), 6u) << "3 partitions of each work topic";
  int64_t waiting = 0;
  for (const PartitionBacklog& p : *backlog) {
    EXPECT_EQ(p.room, kLocalBrokerRoom) << p.topic;
    if (p.topic != topics_.jobs) continue;
    waiting += p.records;
    // 5 bytes of key, 200 of value and the overhead per record.
    EXPECT_EQ(p.bytes, p.records * (5 + 200 + RecordSizes::kOverheadBytes)) << p.partition;
  }
  EXPECT_EQ(waiting, 30);

  // The group runs 10 and commits them: 20 wait.
  {
    auto consumer = GroupConsumer::Create(
        client_, GroupOptions{.group_id = "g-backlog", .topics = {topics_.jobs}});
    ASSERT_TRUE(consumer.ok()) << consumer.status();
    int stored = 0;
    ASSERT_TRUE(Eventually(
        [&] {
          if (auto m = (*consumer)->Poll(absl::Milliseconds(100)); m && stored < 10) {
            // Records come in order per partition, so 10 stored are 10 consumed.
            EXPECT_TRUE((*consumer)->StoreOffset(*m).ok());
            ++stored;
          }
          return stored == 10;
        },
        absl::Seconds(60)));
    (*consumer)->Close();
  }
  backlog = (*source)->Read();
  ASSERT_TRUE(backlog.ok()) << backlog.status();
  waiting = 0;
  for (const PartitionBacklog& p : *backlog) {
    if (p.topic == topics_.jobs) waiting += p.records;
  }
  EXPECT_EQ(waiting, 20);
}

}  // namespace
}  // namespace pixq::queue
