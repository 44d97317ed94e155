// pixq-bench-state-delete-image: what DeleteImage spends finding an image's jobs, over a store of
// N job records spread over M images (filled through the real Apply path, state::StoreFeed, in
// batches of 1000 as the table reader writes them), in one run:
//   - scan:  JobTable::List over every job with a match on the image (what DeleteImage did before
//            the job_image index; the same call, still in the table);
//   - index: JobTable::ListJobs with the image (what it does now, and GET /v1/jobs?image=).
// Both look up the same random images; the counts they find must agree (else it exits 1). The
// rest of DeleteImage (removing the files, one tombstone, a catch-up) is the same either way.
// Prints one JSON object.
//
//   pixq-bench-state-delete-image --jobs 100000 --images 10000 --lookups 50

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <limits>
#include <random>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/state/records.h"
#include "nlohmann/json.hpp"

#include "pkg/job/json.h"
#include "pkg/state/store.h"
#include "pkg/state/store_feed.h"
#include "pkg/state/tables.h"

namespace {

using namespace pixq;

std::string ImageId(int64_t i) { return absl::StrCat(std::string(48, 'c'), 1000000000000000 + i); }

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"pixq-bench-state-delete-image"};
  int64_t jobs = 100000;
  int64_t images = 10000;
  int lookups = 50;
  std::string dir = "/tmp/pixq-bench-delete-image";
  app.add_option("--jobs", jobs);
  app.add_option("--images", images, "the jobs' images: job i reads image i % images");
  app.add_option("--lookups", lookups, "images looked up, each both ways");
  app.add_option("--dir", dir, "the store's directory (emptied first, removed at the end)");
  CLI11_PARSE(app, argc, argv);

  std::filesystem::remove_all(dir);
  nlohmann::json out;
  {
    auto store = state::Store::Open({.dir = dir});
    if (!store.ok()) {
      std::cerr << store.status() << "\n";
      return 1;
    }
    state::JobTable job_table(**store);
    state::ImageTable image_table(**store);
    const queue::Topics topics = queue::Topics::WithPrefix("pixq.");
    state::StoreFeed feed(**store, job_table, image_table, topics);

    const absl::Time start = absl::Now();
    std::vector<queue::Message> batch;
    int64_t offset = 0;
    auto flush = [&] {
      if (batch.empty()) return;
      queue::StoredPosition p{.topic = topics.job_status,
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
      job::JobRecord r = bench::Job(i);
      r.spec.source.image_id = ImageId(i % images);
      r.status.image_id = r.spec.source.image_id;
      batch.push_back({.topic = topics.job_status,
                       .offset = offset++,
                       .key = r.id,
                       .value = job::ToJson(r).dump()});
      if (batch.size() == 1000) flush();
    }
    flush();
    out["fill_s"] = absl::ToDoubleSeconds(absl::Now() - start);
    out["jobs"] = job_table.size();
    out["images"] = images;
    out["lookups"] = lookups;

    std::mt19937_64 rng(11);
    std::vector<double> scan_ms;
    std::vector<double> index_ms;
    int64_t found = 0;
    for (int k = 0; k < lookups; ++k) {
      const std::string id = ImageId(static_cast<int64_t>(rng() % static_cast<uint64_t>(images)));
      absl::Time t0 = absl::Now();
      // The lookup DeleteImage made before the index, as it was written.
      const state::JobTable::Page scanned =
          job_table.List("", job_table.size() + 1, [&id](const job::JobRecord& record) {
            return record.spec.source.image_id == id || record.status.image_id == id;
          });
      scan_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
      t0 = absl::Now();
      const state::JobTable::Page indexed =
          job_table.ListJobs("", std::numeric_limits<size_t>::max() - 1, {.image_id = id});
      index_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
      if (scanned.items.size() != indexed.items.size()) {
        std::cerr << "the scan found " << scanned.items.size() << " jobs of " << id
                  << ", the index " << indexed.items.size() << "\n";
        return 1;
      }
      found += static_cast<int64_t>(indexed.items.size());
    }
    out["jobs_per_image"] = static_cast<double>(found) / lookups;
    out["scan_p50_ms"] = Percentile(scan_ms, 0.5);
    out["scan_p99_ms"] = Percentile(scan_ms, 0.99);
    out["index_p50_ms"] = Percentile(index_ms, 0.5);
    out["index_p99_ms"] = Percentile(index_ms, 0.99);
    out["speedup_p50"] = out["scan_p50_ms"].get<double>() / out["index_p50_ms"].get<double>();
  }
  std::filesystem::remove_all(dir);
  std::cout << out.dump(2) << "\n";
  return 0;
}
