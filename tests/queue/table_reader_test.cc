// The table reader's batches and resumption against pixq-devbroker (a real Kafka wire-protocol
// peer): a sink that kept its positions is resumed where it stopped, and one whose positions no
// longer describe the topics is reset and read from the beginning; a sink that cannot store (a
// full store) is what CatchUp reports, and its batch is applied once it can.

#include "pkg/queue/table_reader.h"

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pkg/errors/errors.h"
#include "pkg/queue/producer.h"
#include "tests/support/process.h"
#include "tests/support/system.h"

namespace pixq::queue {
namespace {

using ::pixq::testing::Eventually;
using ::pixq::testing::Process;
using ::pixq::testing::ReadFile;
using ::pixq::testing::TempDir;

// A sink that keeps what a store would: the latest value per key and every partition's position.
class MemorySink final : public TableSink {
 public:
  std::vector<StoredPosition> Stored() override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<StoredPosition> out;
    for (const auto& [key, p] : positions_) out.push_back(p);
    return out;
  }
  absl::Status Reset(std::string_view why) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++resets_;
    reset_reason_ = std::string(why);
    table_.clear();
    positions_.clear();
    return absl::OkStatus();
  }
  absl::Status Apply(const std::vector<Message>& records,
                     const std::vector<StoredPosition>& positions) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!failure_.ok()) return failure_;
    ++batches_;
    for (const Message& m : records) {
      ++applied_;
      if (m.value) {
        table_[m.key] = *m.value;
      } else {
        table_.erase(m.key);
      }
    }
    for (const StoredPosition& p : positions) positions_[{p.topic, p.partition}] = p;
    return absl::OkStatus();
  }

  // Every Apply fails with `status` until it is ok again (a store that is full, then has room).
  void FailWith(absl::Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    failure_ = std::move(status);
  }
  void Corrupt() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [key, p] : positions_) p.last_hash ^= 1;
  }
  void MovePast(int64_t by) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [key, p] : positions_) p.next_offset += by;
  }

  int applied() {
    std::lock_guard<std::mutex> lock(mu_);
    return applied_;
  }
  int batches() {
    std::lock_guard<std::mutex> lock(mu_);
    return batches_;
  }
  int resets() {
    std::lock_guard<std::mutex> lock(mu_);
    return resets_;
  }
  std::map<std::string, std::string> table() {
    std::lock_guard<std::mutex> lock(mu_);
    return table_;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::string> table_;
  std::map<std::pair<std::string, int32_t>, StoredPosition> positions_;
  int applied_ = 0;
  int batches_ = 0;
  int resets_ = 0;
  std::string reset_reason_;
  absl::Status failure_;
};

class TableReaderTest : public ::testing::Test {
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
    auto producer = KafkaProducer::Create(client_, absl::Seconds(5));
    ASSERT_TRUE(producer.ok()) << producer.status();
    producer_ = *std::move(producer);
  }

  void Send(int from, int to) {
    for (int i = from; i < to; ++i) {
      ASSERT_TRUE(producer_
                      ->Send({.topic = topics_.job_status,
                              .key = "k" + std::to_string(i),
                              .value = "v" + std::to_string(i)},
                             absl::Seconds(5))
                      .ok());
    }
  }

  // Reads the topic into `sink` until caught up, then stops the reader.
  void ReadInto(MemorySink& sink) {
    auto reader = TableReader::Start(client_, {topics_.job_status}, sink);
    ASSERT_TRUE(reader.ok()) << reader.status();
    ASSERT_TRUE((*reader)->CatchUp(absl::Seconds(20)).ok());
  }

  TempDir dir_;
  std::unique_ptr<Process> broker_;
  ClientOptions client_;
  std::unique_ptr<KafkaProducer> producer_;
  Topics topics_ = Topics::WithPrefix("pixq.");
};

TEST_F(TableReaderTest, AppliesRecordsInBatchesWithThePositionsTheyReached) {
  Send(0, 300);
  MemorySink sink;
  ReadInto(sink);
  EXPECT_EQ(sink.applied(), 300);
  EXPECT_LT(sink.batches(), 300);  // many records per transaction, not one each
  EXPECT_EQ(sink.table().size(), 300u);
  int64_t next = 0;
  for (const StoredPosition& p : sink.Stored()) next += p.next_offset;
  EXPECT_EQ(next, 300);
}

TEST_F(TableReaderTest, ResumesEachPartitionAtItsStoredOffset) {
  Send(0, 100);
  MemorySink sink;
  ReadInto(sink);
  Send(100, 130);
  ReadInto(sink);
  EXPECT_EQ(sink.applied(), 130);  // the first 100 were not read again
  EXPECT_EQ(sink.resets(), 0);
  EXPECT_EQ(sink.table().size(), 130u);
}

TEST_F(TableReaderTest, ReadsEverythingAgainWhenTheLastAppliedRecordIsAnotherOne) {
  Send(0, 50);
  MemorySink sink;
  ReadInto(sink);
  sink.Corrupt();  // as after a restore that renumbered the log, or a recreated topic
  ReadInto(sink);
  EXPECT_EQ(sink.resets(), 1);
  EXPECT_EQ(sink.applied(), 100);
  EXPECT_EQ(sink.table().size(), 50u);
}

TEST_F(TableReaderTest, ReadsEverythingAgainWhenTheStoredOffsetIsPastTheLogEnd) {
  Send(0, 20);
  MemorySink sink;
  ReadInto(sink);
  sink.MovePast(1000);
  ReadInto(sink);
  EXPECT_EQ(sink.resets(), 1);
  EXPECT_EQ(sink.table().size(), 20u);
}

TEST_F(TableReaderTest, ASinkThatCannotStoreIsWhatCatchUpReportsUntilItHasRoomAgain) {
  Send(0, 10);
  MemorySink sink;
  sink.FailWith(errors::Make(errors::Reason::kStateStoreFull, "store: put: full"));
  auto reader = TableReader::Start(client_, {topics_.job_status}, sink);
  ASSERT_TRUE(reader.ok()) << reader.status();
  // Not the broker's fault: the reader read the records and its store would not take them.
  const absl::Status full = (*reader)->CatchUp(absl::Seconds(3));
  EXPECT_EQ(errors::ReasonOf(full), "StateStoreFull") << full;
  sink.FailWith(absl::OkStatus());
  // The same batch is tried again (every second) and nothing of it is lost.
  EXPECT_TRUE((*reader)->CatchUp(absl::Seconds(20)).ok());
  EXPECT_EQ(sink.table().size(), 10u);
  EXPECT_EQ(sink.applied(), 10);
}

}  // namespace
}  // namespace pixq::queue
