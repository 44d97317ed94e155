// pixq-devbroker keeps its topics on disk: stopped with SIGTERM or killed with SIGKILL and started
// again on the same data directory, it serves the same records (pkg/queue/dev_persistence.h).

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include <gtest/gtest.h>

#include "pkg/queue/consumer.h"
#include "pkg/queue/producer.h"
#include "pkg/queue/table_reader.h"
#include "tests/support/figures.h"
#include "tests/support/process.h"
#include "tests/support/system.h"

namespace pixq::queue {
namespace {

using ::pixq::testing::Eventually;
using ::pixq::testing::Process;
using ::pixq::testing::ReadFile;
using ::pixq::testing::TempDir;

namespace fs = std::filesystem;
using PartitionKey = std::pair<std::string, int32_t>;
using Partitions = std::map<PartitionKey, std::vector<Message>>;

constexpr int kPartitions = 3;

std::string Trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

class DurabilityTest : public ::testing::Test {
 protected:
  void Start() {
    std::error_code ec;
    fs::remove(bootstrap_file(), ec);  // a SIGKILL leaves the old address behind
    const absl::Time started = absl::Now();
    broker_ =
        Process::Start({::pixq::testing::BinaryDir() + "/cmd/devbroker/pixq-devbroker",
                        "--partitions", std::to_string(kPartitions), "--bootstrap-file",
                        bootstrap_file(), "--data-dir", data_dir(), "--offsets-interval-ms", "100"},
                       {}, absl::StrCat(dir_.path(), "/broker-", ++starts_, ".log"));
    ASSERT_TRUE(Eventually([&] { return !ReadFile(bootstrap_file()).empty(); }, absl::Seconds(60)))
        << broker_->Log();
    client_.bootstrap_servers = Trimmed(ReadFile(bootstrap_file()));
    ready_after_ = absl::Now() - started;
  }

  void Stop(int signal) {
    broker_->Signal(signal);
    ASSERT_TRUE(broker_->Wait(absl::Seconds(30)).has_value()) << broker_->Log();
    last_log_ = broker_->Log();
    broker_.reset();
  }

  // Every record of `topics`, per partition in offset order, as the broker holds them now.
  Partitions ReadAll(const std::vector<std::string>& topics) {
    Partitions out;
    std::mutex mu;
    auto reader = TableReader::Start(client_, topics, [&](const Message& m) {
      std::lock_guard<std::mutex> lock(mu);
      out[{m.topic, m.partition}].push_back(m);
    });
    EXPECT_TRUE(reader.ok()) << reader.status();
    if (!reader.ok()) return out;
    EXPECT_TRUE((*reader)->CatchUp(absl::Seconds(30)).ok());
    reader->reset();
    return out;
  }

  std::unique_ptr<KafkaProducer> Producer() {
    auto producer = KafkaProducer::Create(client_, absl::Seconds(10));
    EXPECT_TRUE(producer.ok()) << producer.status();
    return producer.ok() ? *std::move(producer) : nullptr;
  }

  // The current generation's log of a partition.
  std::string LogPath(const std::string& topic, int32_t partition) {
    return absl::StrCat(data_dir(), "/", Trimmed(ReadFile(data_dir() + "/CURRENT")), "/", topic,
                        "~", partition, ".log");
  }

  std::string bootstrap_file() const { return dir_.path() + "/kafka.bootstrap"; }
  std::string data_dir() const { return dir_.path() + "/broker"; }

  TempDir dir_;
  int starts_ = 0;
  std::unique_ptr<Process> broker_;
  std::string last_log_;
  absl::Duration ready_after_;  // of the last Start: restored and ready
  ClientOptions client_;
  Topics topics_ = Topics::WithPrefix("pixq.");
};

// What a record carries, without where it sits.
std::string Content(const Message& m) {
  std::string text =
      absl::StrCat(m.key, "=", m.value.value_or("<tombstone>"), " @", m.timestamp_ms);
  for (const Header& h : m.headers) absl::StrAppend(&text, " ", h.key, ":", h.value);
  return text;
}

std::vector<std::string> Contents(const std::vector<Message>& messages) {
  std::vector<std::string> out;
  for (const Message& m : messages) out.push_back(Content(m));
  return out;
}

// A compacted partition as a consumer of the table sees it: the latest per key, none deleted.
std::vector<std::string> Latest(const std::vector<Message>& messages) {
  std::map<std::string, size_t> latest;
  for (size_t i = 0; i < messages.size(); ++i) latest[messages[i].key] = i;
  std::vector<std::string> out;
  for (size_t i = 0; i < messages.size(); ++i) {
    if (latest[messages[i].key] == i && messages[i].value) out.push_back(Content(messages[i]));
  }
  return out;
}

TEST_F(DurabilityTest, EveryTopicComesBackInOrderAfterSigtermRestarts) {
  Start();
  auto producer = Producer();
  ASSERT_NE(producer, nullptr);
  auto send = [&](OutgoingMessage m) { ASSERT_TRUE(producer->Send(m, absl::Seconds(10)).ok()); };
  for (int i = 0; i < 30; ++i) {
    send({.topic = topics_.jobs,
          .key = absl::StrCat("job", i),
          .value = absl::StrCat("{\"n\":", i, "}"),
          .headers = {{"pixq-attempt", "1"}, {"traceparent", absl::StrCat("00-", i)}}});
  }
  for (int i = 0; i < 5; ++i) {
    send({.topic = topics_.retry,
          .key = absl::StrCat("retry", i),
          .value = "spec",
          .headers = {{"pixq-not-before", "1700000000000"}}});
  }
  for (int i = 0; i < 3; ++i) {
    send({.topic = topics_.dlq, .key = absl::StrCat("dead", i), .value = "spec+error"});
  }
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 10; ++i) {
      send({.topic = topics_.job_status,
            .key = absl::StrCat("j", i),
            .value = absl::StrCat("phase", round)});
    }
  }
  send({.topic = topics_.job_status, .key = "j0", .tombstone = true});
  for (int i = 0; i < 5; ++i) {
    send({.topic = topics_.images, .key = absl::StrCat("img", i), .value = "{\"title\":\"t\"}"});
  }
  send({.topic = topics_.images, .key = "img4", .tombstone = true});
  producer.reset();
  const Partitions before = ReadAll(topics_.All());

  ASSERT_NO_FATAL_FAILURE(Stop(SIGTERM));
  ASSERT_NO_FATAL_FAILURE(Start());
  const Partitions after = ReadAll(topics_.All());

  const std::set<std::string> compacted = {topics_.job_status, topics_.images};
  int jobs = 0;
  for (const auto& [partition, messages] : before) {
    SCOPED_TRACE(absl::StrCat(partition.first, "/", partition.second));
    const std::vector<Message> empty;
    const auto it = after.find(partition);
    const std::vector<Message>& restored = it == after.end() ? empty : it->second;
    if (compacted.contains(partition.first)) {
      EXPECT_EQ(Contents(restored), Latest(messages));
    } else {
      EXPECT_EQ(Contents(restored), Contents(messages));  // nothing was committed: all of it
    }
    for (size_t i = 0; i < restored.size(); ++i) EXPECT_EQ(restored[i].offset, int64_t(i));
    if (partition.first == topics_.jobs) jobs += static_cast<int>(restored.size());
  }
  EXPECT_EQ(jobs, 30);

  // Records produced after a restart are kept too, once and after the restored ones.
  producer = Producer();
  ASSERT_NE(producer, nullptr);
  for (int i = 0; i < 6; ++i) {
    send({.topic = topics_.jobs, .key = absl::StrCat("late", i), .value = "spec"});
  }
  producer.reset();
  ASSERT_NO_FATAL_FAILURE(Stop(SIGTERM));
  ASSERT_NO_FATAL_FAILURE(Start());
  std::multiset<std::string> keys;
  for (const auto& [partition, messages] : ReadAll({topics_.jobs})) {
    for (const Message& m : messages) keys.insert(m.key);
  }
  EXPECT_EQ(keys.size(), 36u);
  const std::set<std::string> distinct(keys.begin(), keys.end());
  EXPECT_EQ(distinct.size(), 36u);  // none twice
  ::pixq::testing::RecordFault(
      {.fault = "The local broker stopped (SIGTERM) and started again",
       .injected = "SIGTERM to pixq-devbroker holding 30 jobs, 5 retries, 3 dead letters, 31 "
                   "job-status and 6 image records (2 tombstones); started on its data, then "
                   "6 more jobs and the same again",
       .jobs = 36,
       .lost = 36 - static_cast<int>(distinct.size()),
       .redeliveries = absl::StrCat(keys.size() - distinct.size(),
                                    " records restored twice; compacted topics came back as "
                                    "their latest record per key"),
       .recovery = absl::StrCat("ready (restored, bootstrap file written) ",
                                ::pixq::testing::Took(ready_after_), " after the start")});
}

TEST_F(DurabilityTest, JobsTheWorkersCommittedAreNotRestoredAndTheOthersAre) {
  Start();
  auto producer = Producer();
  ASSERT_NE(producer, nullptr);
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(
        producer
            ->Send(
                {.topic = topics_.jobs, .key = absl::StrCat("job", i), .value = std::to_string(i)},
                absl::Seconds(10))
            .ok());
  }
  producer.reset();
  // The workers' group runs (and commits) the first 20; offsets are per partition, so a partition
  // is done up to its last record below 20.
  {
    auto consumer =
        GroupConsumer::Create(client_, GroupOptions{.group_id = "pixq-workers",
                                                    .topics = {topics_.jobs},
                                                    .session_timeout = absl::Seconds(6)});
    ASSERT_TRUE(consumer.ok()) << consumer.status();
    int seen = 0;
    ASSERT_TRUE(Eventually(
        [&] {
          while (auto m = (*consumer)->Poll(absl::Milliseconds(100))) {
            ++seen;
            if (std::stoi(*m->value) < 20) {
              EXPECT_TRUE((*consumer)->StoreOffset(*m).ok());
            }
          }
          return seen == 30;
        },
        absl::Seconds(60)));
    (*consumer)->Close();  // commits what was stored
  }
  // The broker stores the group's offsets every 100 ms (--offsets-interval-ms).
  ASSERT_TRUE(Eventually(
      [&] {
        int64_t committed = 0;
        const std::string text = ReadFile(absl::StrCat(
            data_dir(), "/", Trimmed(ReadFile(data_dir() + "/CURRENT")), "/group-offsets"));
        for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
          std::vector<std::string> fields = absl::StrSplit(line, ' ');
          if (fields.size() == 3 && fields[0] == topics_.jobs) committed += std::stoll(fields[2]);
        }
        return committed == 20;
      },
      absl::Seconds(10)));

  ASSERT_NO_FATAL_FAILURE(Stop(SIGTERM));
  ASSERT_NO_FATAL_FAILURE(Start());
  std::set<std::string> left;
  for (const auto& [partition, messages] : ReadAll({topics_.jobs})) {
    for (const Message& m : messages) left.insert(*m.value);
  }
  std::set<std::string> expected;
  for (int i = 20; i < 30; ++i) expected.insert(std::to_string(i));
  EXPECT_EQ(left, expected);

  // And the group, with nothing committed in the new cluster, starts at the first of them.
  auto consumer = GroupConsumer::Create(client_, GroupOptions{.group_id = "pixq-workers",
                                                              .topics = {topics_.jobs},
                                                              .session_timeout = absl::Seconds(6)});
  ASSERT_TRUE(consumer.ok());
  std::set<std::string> delivered;
  EXPECT_TRUE(Eventually(
      [&] {
        while (auto m = (*consumer)->Poll(absl::Milliseconds(100))) delivered.insert(*m->value);
        return delivered.size() >= expected.size();
      },
      absl::Seconds(60)));
  EXPECT_EQ(delivered, expected);
}

TEST_F(DurabilityTest, ATornTailIsCutOffAtStartAndTheWholeRecordsStay) {
  Start();
  auto producer = Producer();
  ASSERT_NE(producer, nullptr);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(
        producer
            ->Send({.topic = topics_.images, .key = absl::StrCat("img", i), .value = "meta"},
                   absl::Seconds(10))
            .ok());
  }
  producer.reset();
  ASSERT_NO_FATAL_FAILURE(Stop(SIGTERM));
  // A write cut short: the frame header of a record whose payload never made it.
  std::string torn_log;
  for (int32_t p = 0; p < kPartitions && torn_log.empty(); ++p) {
    if (fs::file_size(LogPath(topics_.images, p)) > 0) torn_log = LogPath(topics_.images, p);
  }
  ASSERT_FALSE(torn_log.empty());
  const uintmax_t whole = fs::file_size(torn_log);
  {
    std::ofstream out(torn_log, std::ios::app | std::ios::binary);
    out << std::string("\x40\x00\x00\x00\x12\x34", 6);
  }
  ASSERT_NO_FATAL_FAILURE(Start());
  EXPECT_TRUE(
      Eventually([&] { return broker_->Log().find("torn tail truncated") != std::string::npos; },
                 absl::Seconds(1)));
  EXPECT_NE(broker_->Log().find("\"bytes_dropped\":6"), std::string::npos) << broker_->Log();
  int restored = 0;
  for (const auto& [partition, messages] : ReadAll({topics_.images})) restored += messages.size();
  EXPECT_EQ(restored, 10);
  ASSERT_NO_FATAL_FAILURE(Stop(SIGTERM));
  // The repaired file was carried into the next generation whole.
  uintmax_t total = 0;
  for (int32_t p = 0; p < kPartitions; ++p) total += fs::file_size(LogPath(topics_.images, p));
  EXPECT_GE(total, whole);
}

TEST_F(DurabilityTest, ACompactedTopicsFileStaysBoundedUnderManyUpdatesOfOneKey) {
  Start();
  auto producer = Producer();
  ASSERT_NE(producer, nullptr);
  const std::string value(1000, 'v');
  constexpr int kUpdates = 4000;  // 4 MB written to one partition
  std::atomic<int> failed{0};
  for (int i = 0; i < kUpdates; ++i) {
    producer->SendAsync(
        {.topic = topics_.job_status, .key = "hot", .value = value + std::to_string(i)},
        [&failed](absl::Status s) {
          if (!s.ok()) failed.fetch_add(1);
        });
  }
  ASSERT_TRUE(producer->Flush(absl::Seconds(60)).ok());
  EXPECT_EQ(failed.load(), 0);
  producer.reset();
  ASSERT_NO_FATAL_FAILURE(Stop(SIGTERM));  // drains the rest to disk
  EXPECT_NE(last_log_.find("log compacted"), std::string::npos) << last_log_;
  uintmax_t largest = 0;
  for (int32_t p = 0; p < kPartitions; ++p) {
    largest = std::max(largest, fs::file_size(LogPath(topics_.job_status, p)));
  }
  // Compaction runs once a file reaches 1 MiB and twice its live bytes (one 1 KB record here).
  EXPECT_LT(largest, (1u << 20) + 64 * 1024);
  ASSERT_NO_FATAL_FAILURE(Start());
  std::vector<std::string> hot;
  for (const auto& [partition, messages] : ReadAll({topics_.job_status})) {
    for (const Message& m : messages) hot.push_back(*m.value);
  }
  ASSERT_EQ(hot.size(), 1u);
  EXPECT_EQ(hot[0], value + std::to_string(kUpdates - 1));
}

// Under load, with the workers' group consuming and committing, the broker is killed. What the
// cluster had acknowledged and the broker had not yet fsync'd is lost (the window of
// docs/reliability.md), and what the group had committed since the broker last stored its offsets
// is restored and run again: both are counted and held to their bounds.
TEST_F(DurabilityTest, ASigkillLosesOnlyWhatWasAcknowledgedWithinTheWindow) {
  Start();
  auto producer = KafkaProducer::Create(client_, absl::Seconds(3));
  ASSERT_TRUE(producer.ok()) << producer.status();
  std::mutex mu;
  std::map<std::string, absl::Time> acked;     // key -> when the broker acknowledged it
  std::map<std::string, absl::Time> consumed;  // offsets stored by the group ("run"), and when
  std::atomic<int> in_flight{0};
  std::atomic<bool> stop{false};
  std::thread load([&] {
    for (int i = 0; !stop.load(); ++i) {
      while (in_flight.load() >= 50 && !stop.load()) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      const std::string key = absl::StrCat("job", i);
      in_flight.fetch_add(1);
      (*producer)->SendAsync({.topic = topics_.jobs, .key = key, .value = "spec"},
                             [&, key](absl::Status s) {
                               if (s.ok()) {
                                 std::lock_guard<std::mutex> lock(mu);
                                 acked[key] = absl::Now();
                               }
                               in_flight.fetch_sub(1);
                             });
    }
  });
  auto group = GroupConsumer::Create(client_, GroupOptions{.group_id = "pixq-workers",
                                                           .topics = {topics_.jobs},
                                                           .session_timeout = absl::Seconds(6)});
  ASSERT_TRUE(group.ok()) << group.status();
  std::thread work([&] {
    while (!stop.load()) {
      if (auto m = (*group)->Poll(absl::Milliseconds(20))) {
        (void)(*group)->StoreOffset(*m);
        std::lock_guard<std::mutex> lock(mu);
        consumed[m->key] = absl::Now();
      }
    }
  });
  // Load for a few seconds, so the group has joined and committed several times.
  ASSERT_TRUE(Eventually(
      [&] {
        std::lock_guard<std::mutex> lock(mu);
        return consumed.size() >= 1000;
      },
      absl::Seconds(60)));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const absl::Time killed = absl::Now();
  ASSERT_NO_FATAL_FAILURE(Stop(SIGKILL));
  stop.store(true);
  load.join();
  work.join();
  (*group)->Close();  // its commit goes nowhere: the broker is gone
  group->reset();
  producer->reset();  // what was in flight fails within its 3 s timeout

  ASSERT_NO_FATAL_FAILURE(Start());
  std::set<std::string> restored;
  for (const auto& [partition, messages] : ReadAll({topics_.jobs})) {
    for (const Message& m : messages) restored.insert(m.key);
  }
  std::lock_guard<std::mutex> lock(mu);
  int lost = 0;
  absl::Duration oldest_lost = absl::ZeroDuration();
  int pending = 0;  // acknowledged and not run: must all come back
  for (const auto& [key, at] : acked) {
    if (restored.contains(key) || consumed.contains(key)) {
      if (!consumed.contains(key)) ++pending;
      continue;
    }
    ++lost;
    oldest_lost = std::max(oldest_lost, killed - at);
  }
  int again = 0;
  absl::Duration oldest_again = absl::ZeroDuration();
  for (const std::string& key : restored) {
    auto it = consumed.find(key);
    if (it == consumed.end()) continue;
    ++again;
    oldest_again = std::max(oldest_again, killed - it->second);
  }
  const std::string summary = absl::StrCat(
      acked.size(), " acknowledged, ", consumed.size(), " consumed by the group before the kill; ",
      lost, " acknowledged and not run were lost (the oldest acknowledged ",
      ::pixq::testing::Took(oldest_lost), " before the SIGKILL); ", again,
      " consumed ones restored to run again (the oldest consumed ",
      ::pixq::testing::Took(oldest_again), " before the SIGKILL)");
  std::cout << "SIGKILL: " << summary << "\n";
  // The window: acknowledged but not yet fetched (--fetch-wait-ms 10) and fsync'd.
  EXPECT_LE(oldest_lost, absl::Milliseconds(500)) << summary;
  // Run again: stored (consumed) but not yet committed by the group (every 1 s) or committed but
  // not yet stored by the broker (every 100 ms here) when it died.
  EXPECT_LE(oldest_again, absl::Milliseconds(2500)) << summary;
  ::pixq::testing::RecordFault(
      {.fault = "The local broker killed (SIGKILL) under load",
       .injected = "SIGKILL to pixq-devbroker while a producer sent jobs (50 in flight) and the "
                   "workers' group consumed and committed them; then started again on its data",
       .jobs = static_cast<int>(acked.size()),
       .lost = lost,
       .redeliveries =
           absl::StrCat(again, " already consumed restored to run again (consumed at most ",
                        ::pixq::testing::Took(oldest_again), " before the kill); ", pending,
                        " accepted and not yet run, all restored"),
       .recovery = absl::StrCat(lost, " acknowledged records lost, the oldest acknowledged ",
                                ::pixq::testing::Took(oldest_lost), " before the kill")});
}

}  // namespace
}  // namespace pixq::queue
