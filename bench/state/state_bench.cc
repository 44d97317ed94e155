// pixq-bench-state: fills a table store through the real Apply path (state::StoreFeed, batches of
// 1000 records with their offsets, as the table reader writes them) and measures, in one run:
//   - JobTable::Get throughput over random ids (of all, and of the last 8,192 applied, which its
//     cache of parsed records holds), 1 and N threads, against the in-memory map the tables used
//     before this store (an RcuMap of parsed records: the old JobTable::Get);
//   - ?phase= (ListInPhases, one page of 50) and ?title= (ListByTitle, one page of 50) latency
//     percentiles.
// Prints one JSON object. The local broker cannot hold millions of records (5 MiB a partition),
// so the store is filled directly, not through Kafka.
//
//   pixq-bench-state --jobs 2000000 --images 200000 --dir /tmp/pixq-bench-state --seconds 5

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <random>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/state/records.h"
#include "nlohmann/json.hpp"

#include "pkg/job/ids.h"
#include "pkg/job/json.h"
#include "pkg/state/rcu_map.h"
#include "pkg/state/store.h"
#include "pkg/state/store_feed.h"
#include "pkg/state/tables.h"

namespace {

using namespace pixq;
using bench::Job;
using bench::JobId;

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// Calls `get` on random ids from `threads` threads for `seconds`; gets per second.
// Ids are drawn from [from, n): all of them, or the last ones applied (the jobs clients poll).
template <typename Get>
double Throughput(int64_t from, int64_t n, int threads, double seconds, Get get) {
  std::atomic<bool> stop{false};
  std::atomic<int64_t> total{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::mt19937_64 rng(t + 1);
      int64_t count = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        for (int k = 0; k < 64; ++k) {
          if (!get(JobId(from + static_cast<int64_t>(rng() % static_cast<uint64_t>(n - from))))) {
            std::abort();
          }
        }
        count += 64;
      }
      total += count;
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (std::thread& th : pool) th.join();
  return static_cast<double>(total.load()) / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"pixq-bench-state"};
  int64_t jobs = 200000;
  int64_t images = 20000;
  std::string dir = "/tmp/pixq-bench-state";
  double seconds = 3;
  int threads = 4;
  bool keep = false;
  app.add_option("--jobs", jobs);
  app.add_option("--images", images);
  app.add_option("--dir", dir, "the store's directory (emptied first unless --keep)");
  app.add_option("--seconds", seconds, "per throughput measurement");
  app.add_option("--threads", threads);
  app.add_flag("--keep", keep, "use the store in --dir as it is (filled by an earlier run)");
  CLI11_PARSE(app, argc, argv);

  if (!keep) std::filesystem::remove_all(dir);
  auto store = state::Store::Open({.dir = dir});
  if (!store.ok()) {
    std::cerr << store.status() << "\n";
    return 1;
  }
  state::JobTable job_table(**store);
  state::ImageTable image_table(**store);
  const queue::Topics topics = queue::Topics::WithPrefix("pixq.");
  state::StoreFeed feed(**store, job_table, image_table, topics);

  nlohmann::json out;
  if (!keep) {
    const absl::Time start = absl::Now();
    std::vector<queue::Message> batch;
    int64_t offset = 0;
    auto flush = [&](const std::string& topic) {
      if (batch.empty()) return;
      queue::StoredPosition p{.topic = topic,
                              .next_offset = offset,
                              .last_offset = offset - 1,
                              .last_hash = queue::RecordHash(batch.back())};
      if (absl::Status s = feed.Apply(batch, {p}); !s.ok()) {
        std::cerr << s << "\n";
        std::exit(1);
      }
      batch.clear();
    };
    for (int64_t i = 0; i < jobs; ++i) {
      batch.push_back({.topic = topics.job_status,
                       .offset = offset++,
                       .key = JobId(i),
                       .value = job::ToJson(Job(i)).dump()});
      if (batch.size() == 1000) flush(topics.job_status);
    }
    flush(topics.job_status);
    offset = 0;
    for (int64_t i = 0; i < images; ++i) {
      job::ImageMeta meta{.id = absl::StrCat(std::string(48, 'c'), 1000000000000000 + i),
                          .title = absl::StrCat("Holiday photo ", i),
                          .filename = absl::StrCat("IMG_", i, ".jpg"),
                          .width = 4032,
                          .height = 3024,
                          .bytes = 2500000,
                          .created_at = job::UnixMillisToRfc3339(1790000000000 + i * 1000)};
      batch.push_back({.topic = topics.images,
                       .offset = offset++,
                       .key = meta.id,
                       .value = job::ToJson(meta).dump()});
      if (batch.size() == 1000) flush(topics.images);
    }
    flush(topics.images);
    out["fill_s"] = absl::ToDoubleSeconds(absl::Now() - start);
  }
  jobs = static_cast<int64_t>(job_table.size());
  images = static_cast<int64_t>(image_table.size());
  out["jobs"] = jobs;
  out["images"] = images;
  std::error_code ec;
  out["store_bytes"] = std::filesystem::file_size(std::filesystem::path(dir) / "data.mdb", ec);

  // The baseline: the in-memory map of parsed records that JobTable::Get read before.
  state::RcuMap<job::JobRecord> memory;
  for (int64_t i = 0; i < jobs; ++i)
    memory.Put(JobId(i), std::make_shared<const job::JobRecord>(Job(i)));
  for (int t : {1, threads}) {
    auto lmdb_get = [&](const std::string& id) { return job_table.Get(id).has_value(); };
    auto heap_get = [&](const std::string& id) { return memory.Get(id).has_value(); };
    const double lmdb = Throughput(0, jobs, t, seconds, lmdb_get);
    const double heap = Throughput(0, jobs, t, seconds, heap_get);
    // The last 8,192 jobs: what the cache of parsed records holds after the fill.
    const int64_t hot_from = std::max<int64_t>(0, jobs - 8192);
    const double lmdb_hot = Throughput(hot_from, jobs, t, seconds, lmdb_get);
    const double heap_hot = Throughput(hot_from, jobs, t, seconds, heap_get);
    out[absl::StrCat("get_per_s_lmdb_recent_", t, "t")] = lmdb_hot;
    out[absl::StrCat("get_ratio_recent_", t, "t")] = lmdb_hot / heap_hot;
    out[absl::StrCat("get_per_s_lmdb_", t, "t")] = lmdb;
    out[absl::StrCat("get_per_s_memory_", t, "t")] = heap;
    out[absl::StrCat("get_ratio_", t, "t")] = lmdb / heap;
  }

  std::vector<double> phase_ms;
  std::vector<double> title_ms;
  std::mt19937_64 rng(7);
  for (int k = 0; k < 200; ++k) {
    const std::string after =
        k % 2 == 0 ? "" : JobId(static_cast<int64_t>(rng() % static_cast<uint64_t>(jobs)));
    absl::Time t0 = absl::Now();
    (void)job_table.ListInPhases(after, 50, {job::Phase::kPending, job::Phase::kRunning});
    phase_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
    // A rare title (one image) scans the whole order index: the worst case.
    const std::string title = absl::StrCat("photo ", rng() % static_cast<uint64_t>(images), "x");
    t0 = absl::Now();
    (void)image_table.ListByTitle(std::nullopt, 50, k % 2 == 0 ? "holiday" : title);
    title_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
  }
  out["phase_p50_ms"] = Percentile(phase_ms, 0.5);
  out["phase_p99_ms"] = Percentile(phase_ms, 0.99);
  out["title_p50_ms"] = Percentile(title_ms, 0.5);
  out["title_p99_ms"] = Percentile(title_ms, 0.99);
  std::cout << out.dump(2) << "\n";
  return 0;
}
