// pixq-bench-state-ready: how long a new API replica (an empty table store) takes to hold every
// record of pixq.job-status, read through the real path (queue::TableReader into state::StoreFeed
// over LMDB) from a running broker, in one run:
//   - full replay: an empty store, every partition read from its beginning;
//   - from a snapshot: the first store's snapshot (state::WriteSnapshot) with `--tail` more
//     records sent after it; an empty store opened with the snapshot directory (Store::Open copies
//     and checks it), then the reader resumes from its offsets and reads only the tail.
// Each is timed from Store::Open to the first successful CatchUp, as a replica's readiness is.
// What the API adds around it (configuration, the HTTP server, the producer) is the same for both.
// Prints one JSON object. bench/state/ready.sh starts the local broker and runs it.
//
//   pixq-bench-state-ready --bootstrap 127.0.0.1:9092 --prefix bench. --jobs 200000 --tail 1000

#include <filesystem>
#include <iostream>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/state/records.h"
#include "nlohmann/json.hpp"

#include "pkg/job/json.h"
#include "pkg/queue/producer.h"
#include "pkg/queue/table_reader.h"
#include "pkg/state/snapshot.h"
#include "pkg/state/store.h"
#include "pkg/state/store_feed.h"
#include "pkg/state/tables.h"

namespace {

using namespace pixq;

int Fail(const absl::Status& status) {
  std::cerr << "pixq-bench-state-ready: " << status << "\n";
  return 1;
}

absl::Status Send(queue::Producer& producer, const std::string& topic, int64_t from, int64_t to) {
  std::atomic<int64_t> failed{0};
  for (int64_t i = from; i < to; ++i) {
    const job::JobRecord r = bench::Job(i);
    producer.SendAsync({.topic = topic, .key = r.id, .value = job::ToJson(r).dump()},
                       [&failed](const absl::Status& s) {
                         if (!s.ok()) ++failed;
                       });
  }
  if (absl::Status flushed = producer.Flush(absl::Minutes(10)); !flushed.ok()) return flushed;
  if (failed.load() != 0) {
    return absl::InternalError(absl::StrCat(failed.load(), " records not acknowledged"));
  }
  return absl::OkStatus();
}

struct Ready {
  absl::Duration took;
  int64_t records_read = 0;
  size_t jobs = 0;
  bool restored = false;
  bool rebuilt = false;
};

// A new replica's start: the store opened (from the snapshot when `snapshots` is set), the reader
// started and caught up.
absl::StatusOr<Ready> StartReplica(const queue::ClientOptions& client, const queue::Topics& topics,
                                   const std::string& dir, const std::string& snapshots,
                                   std::unique_ptr<state::Store>* kept) {
  const absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<state::Store>> store =
      state::Store::Open({.dir = dir, .snapshot_dir = snapshots});
  if (!store.ok()) return store.status();
  state::JobTable jobs(**store);
  state::ImageTable images(**store);
  state::StoreFeed feed(**store, jobs, images, topics);
  absl::StatusOr<std::unique_ptr<queue::TableReader>> reader =
      queue::TableReader::Start(client, {topics.job_status, topics.images}, feed);
  if (!reader.ok()) return reader.status();
  if (absl::Status caught_up = (*reader)->CatchUp(absl::Minutes(30)); !caught_up.ok()) {
    return caught_up;
  }
  Ready ready{.took = absl::Now() - start,
              .records_read = (*reader)->RecordsRead(),
              .jobs = jobs.size(),
              .restored = (*store)->restored(),
              .rebuilt = (*reader)->Rebuilt()};
  reader->reset();
  if (kept != nullptr) *kept = *std::move(store);
  return ready;
}

nlohmann::json ToJson(const Ready& r) {
  return {{"ready_ms", absl::ToDoubleMilliseconds(r.took)},
          {"records_read", r.records_read},
          {"jobs", r.jobs},
          {"restored_from_snapshot", r.restored},
          {"rebuilt", r.rebuilt}};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"pixq-bench-state-ready"};
  std::string bootstrap;
  std::string prefix = "bench.";
  int64_t jobs = 200000;
  int64_t tail = 1000;
  std::string dir = "/tmp/pixq-bench-state-ready";
  app.add_option("--bootstrap", bootstrap, "the broker, host:port")->required();
  app.add_option("--prefix", prefix, "topic prefix (its job-status and images topics must exist)");
  app.add_option("--jobs", jobs, "job records in the topic before the snapshot");
  app.add_option("--tail", tail, "job records sent after the snapshot");
  app.add_option("--dir", dir, "where the stores and the snapshot go (emptied first)");
  CLI11_PARSE(app, argc, argv);

  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const queue::ClientOptions client{.bootstrap_servers = bootstrap, .client_id = "pixq-bench"};
  const queue::Topics topics = queue::Topics::WithPrefix(prefix);
  auto producer = queue::KafkaProducer::Create(client, absl::Minutes(5));
  if (!producer.ok()) return Fail(producer.status());
  (void)(*producer)->Prepare({topics.job_status, topics.images}, absl::Seconds(10));
  const absl::Time sent_at = absl::Now();
  if (absl::Status sent = Send(**producer, topics.job_status, 0, jobs); !sent.ok()) {
    return Fail(sent);
  }
  const absl::Duration send_took = absl::Now() - sent_at;

  std::unique_ptr<state::Store> first;
  absl::StatusOr<Ready> replay = StartReplica(client, topics, dir + "/replay", "", &first);
  if (!replay.ok()) return Fail(replay.status());

  const std::string snapshots = dir + "/state-snapshots";
  const absl::Time snap_at = absl::Now();
  if (absl::Status written = state::WriteSnapshot(*first, snapshots); !written.ok()) {
    return Fail(written);
  }
  const absl::Duration snap_took = absl::Now() - snap_at;
  const int64_t store_bytes =
      static_cast<int64_t>(std::filesystem::file_size(first->dir() + "/data.mdb"));
  const int64_t snapshot_bytes =
      static_cast<int64_t>(std::filesystem::file_size(snapshots + "/" + state::kSnapshotFile));
  first.reset();

  if (absl::Status sent = Send(**producer, topics.job_status, jobs, jobs + tail); !sent.ok()) {
    return Fail(sent);
  }
  absl::StatusOr<Ready> restored =
      StartReplica(client, topics, dir + "/restored", snapshots, nullptr);
  if (!restored.ok()) return Fail(restored.status());

  nlohmann::json out = {
      {"jobs", jobs},
      {"tail", tail},
      {"send_ms", absl::ToDoubleMilliseconds(send_took)},
      {"full_replay", ToJson(*replay)},
      {"snapshot",
       {{"write_ms", absl::ToDoubleMilliseconds(snap_took)},
        {"store_bytes", store_bytes},
        {"snapshot_bytes", snapshot_bytes}}},
      {"from_snapshot", ToJson(*restored)},
  };
  std::cout << out.dump() << "\n";
  std::filesystem::remove_all(dir);
  return 0;
}
