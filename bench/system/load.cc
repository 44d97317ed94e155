// pixq-bench-load: the load client of the system benchmarks (bench/system/run.sh).
//
//   photos  the JPEGs among the given files whose header says min..max megapixels, one a line
//   upload  uploads photos to pixq-api (POST /v1/images) and writes their ids as JSON
//   run     submits N distinct jobs over HTTP (all at once with C clients, or at a fixed rate) and
//           waits until each has ended, long-polling GET /v1/jobs/{id}?wait=; throughput, latency
//           of each job from its submission to Succeeded, and the memory and CPU of process trees
//   bare    the same jobs through imaging::Pipeline::Run in P processes, no HTTP, Kafka or disk
//   rss     the memory of process trees now (VmRSS and VmHWM summed over a process and its
//           descendants)
//   cpu     CPU seconds used so far by process trees, one line each
//   get     one value of a JSON file by JSON pointer, for the shell script
//   flat    every value of a JSON file, one "pointer<TAB>value" a line, for the shell script
//   merge   JSON files into one object, each under its name (name=file)
//
// Job i is distinct from every other: photo i mod M, and a resize box and JPEG quality chosen
// from i / M (every box smaller than the photos, so none is normalised away), so that no job is
// answered from an earlier one's output.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/system/proc_tree.h"
#include "nlohmann/json.hpp"
#include <CLI/CLI.hpp>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pkg/imaging/pipeline.h"
#include "pkg/imaging/sniff.h"
#include "pkg/job/ids.h"
#include "pkg/job/json.h"
#include "tests/support/http_client.h"

namespace pixq::bench {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// Thumbnails: a box of 700..900 px (fit inside) and JPEG quality 70..95, so 201 × 26 distinct
// jobs per photo. Full size (the memory peak): a mirror at full resolution, quality 50..99.
constexpr int kMinBox = 700;
constexpr int kBoxes = 201;
constexpr int kMinQuality = 70;
constexpr int kQualities = 26;
constexpr int kFullQualities = 50;

enum class Shape { kThumbnail, kFull };

double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << "pixq-bench-load: cannot read " << path << "\n";
    std::exit(2);
  }
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void WriteFileOrDie(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text << "\n";
  if (!out.flush()) {
    std::cerr << "pixq-bench-load: cannot write " << path << "\n";
    std::exit(2);
  }
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::vector<std::string> lines;
  std::istringstream in(ReadFileOrDie(path));
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

int64_t DistinctPerPhoto(Shape shape) {
  return shape == Shape::kThumbnail ? int64_t{kBoxes} * kQualities : kFullQualities;
}

// The spec of job `index` on photos whose ids are `image_ids` (job i on photo i mod M).
json SpecJson(int64_t index, const std::vector<std::string>& image_ids, Shape shape) {
  const int64_t photos = static_cast<int64_t>(image_ids.size());
  const int64_t k = index / photos;
  const std::string& image = image_ids[static_cast<size_t>(index % photos)];
  if (shape == Shape::kFull) {
    return {{"source", {{"imageId", image}}},
            {"steps", json::array({{{"op", "mirror"}}})},
            {"output", {{"format", "jpeg"}, {"quality", 50 + k % kFullQualities}}}};
  }
  const int64_t box = kMinBox + (k / kQualities) % kBoxes;
  return {{"source", {{"imageId", image}}},
          {"steps",
           json::array({{{"op", "resize"}, {"width", box}, {"height", box}, {"fit", "inside"}}})},
          {"output", {{"format", "jpeg"}, {"quality", kMinQuality + k % kQualities}}}};
}

void CheckDistinct(int64_t first, int64_t jobs, size_t photos, Shape shape) {
  const int64_t distinct = DistinctPerPhoto(shape) * static_cast<int64_t>(photos);
  if (first < 0 || jobs < 0 || first + jobs > distinct) {
    std::cerr << "pixq-bench-load: jobs " << first << ".." << first + jobs - 1 << " exceed the "
              << distinct << " distinct specs over " << photos << " photos\n";
    std::exit(2);
  }
}

// Nearest-rank percentiles of `values` (sorted here).
json Percentiles(std::vector<double> values) {
  if (values.empty()) return json{{"count", 0}};
  std::sort(values.begin(), values.end());
  auto at = [&](double p) {
    const size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * values.size()));
    return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
  };
  double sum = 0;
  for (double v : values) sum += v;
  return {{"count", values.size()}, {"p50", at(50)},
          {"p90", at(90)},          {"p99", at(99)},
          {"max", values.back()},   {"mean", sum / static_cast<double>(values.size())}};
}

// --- photos ---------------------------------------------------------------------------------

int Photos(const std::vector<std::string>& files, double min_mp, double max_mp, int largest) {
  std::vector<std::pair<int64_t, std::string>> picked;
  for (const std::string& path : files) {
    const std::string bytes = ReadFileOrDie(path);
    absl::StatusOr<imaging::ImageInfo> info = imaging::Sniff(bytes);
    if (!info.ok() || info->format != job::Format::kJpeg) continue;
    const int64_t pixels = int64_t{info->width} * info->height;
    if (pixels < min_mp * 1e6 || pixels > max_mp * 1e6) continue;
    picked.emplace_back(pixels, path);
  }
  if (largest > 0) {
    std::sort(picked.begin(), picked.end(), std::greater<>());
    if (picked.size() > static_cast<size_t>(largest)) picked.resize(static_cast<size_t>(largest));
  }
  std::sort(picked.begin(), picked.end(),
            [](const auto& a, const auto& b) { return a.second < b.second; });
  for (const auto& [pixels, path] : picked) std::cout << path << "\n";
  return picked.empty() ? 1 : 0;
}

// --- upload ---------------------------------------------------------------------------------

int Upload(const std::string& url, const std::string& list, const std::string& out) {
  json photos = json::array();
  for (const std::string& path : ReadLines(list)) {
    const std::string bytes = ReadFileOrDie(path);
    const std::string name = path.substr(path.rfind('/') + 1);
    const testing::HttpResponse r = testing::HttpPost(
        url + "/v1/images?title=" + testing::UrlEncode(name), bytes, "image/jpeg", {}, 120000);
    const json meta = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
    if ((r.status != 201 && r.status != 200) || !meta.is_object()) {
      std::cerr << "pixq-bench-load: upload of " << path << " answered " << r.status << " "
                << r.body << r.error << "\n";
      return 1;
    }
    photos.push_back({{"path", path},
                      {"id", meta.value("id", "")},
                      {"width", meta.value("width", 0)},
                      {"height", meta.value("height", 0)},
                      {"bytes", meta.value("bytes", 0)}});
  }
  WriteFileOrDie(out, photos.dump(2));
  return 0;
}

// --- run ------------------------------------------------------------------------------------

struct RunOptions {
  std::string url;
  std::string photos;
  int64_t jobs = 100;
  int64_t first = 0;
  int concurrency = 16;
  double rate = 0;  // jobs per second; 0: all at once
  Shape shape = Shape::kThumbnail;
  std::vector<pid_t> watch;
  int watch_interval_ms = 50;
  int timeout_s = 3600;
  bool no_wait = false;
  std::string ids_out;
  std::string out;
};

struct JobRun {
  double scheduled_ms = 0;  // when it was due (open loop), else when its POST started
  double sent_ms = 0;
  double accepted_ms = 0;  // the POST's answer
  long status = 0;         // the POST's answer
  std::string id;
  std::string error;
  double done_ms = -1;  // when the client learnt it had ended
  std::string phase;
  std::string reason;
  int64_t started_at = -1;  // the record's startedAt and finishedAt (epoch ms)
  int64_t finished_at = -1;
  std::string worker;  // the record's worker: which one ran it
};

void Submit(const RunOptions& o, const std::vector<std::string>& ids, int64_t index, JobRun& job,
            Clock::time_point t0) {
  job.sent_ms = MsSince(t0);
  const testing::HttpResponse r =
      testing::HttpPost(o.url + "/v1/jobs", SpecJson(o.first + index, ids, o.shape).dump(),
                        "application/json", {}, 30000);
  job.accepted_ms = MsSince(t0);
  job.status = r.status;
  const json doc = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_object() && doc.contains("metadata")) job.id = doc["metadata"].value("id", "");
  if (r.status != 202) job.error = r.error.empty() ? r.body.substr(0, 300) : r.error;
}

// Long-polls the job until it has ended or `deadline` passed. A long-poll answers on any change
// of phase, so Succeeded is seen within moments of the API reading it from Kafka.
void Await(const RunOptions& o, JobRun& job, Clock::time_point t0, Clock::time_point deadline) {
  while (Clock::now() < deadline) {
    const testing::HttpResponse r =
        testing::HttpGet(o.url + "/v1/jobs/" + job.id + "?wait=30s", {}, 45000);
    const json doc = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
    if (r.status != 200 || !doc.is_object()) {
      job.error = "GET answered " + std::to_string(r.status) + " " + r.error;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    const json& status = doc["status"];
    job.phase = status.value("phase", "");
    if (job.phase == "Succeeded" || job.phase == "Failed") {
      job.done_ms = MsSince(t0);
      job.reason =
          status.value("reason", json()).is_string() ? status["reason"].get<std::string>() : "";
      job.started_at = job::Rfc3339ToUnixMillis(status.value("startedAt", ""));
      job.finished_at = job::Rfc3339ToUnixMillis(status.value("finishedAt", ""));
      job.worker =
          status.value("worker", json()).is_string() ? status["worker"].get<std::string>() : "";
      job.error.clear();
      return;
    }
  }
}

// The most jobs that ran at the same moment, by the records' startedAt and finishedAt.
int MaxOverlap(const std::vector<JobRun>& runs) {
  std::vector<std::pair<int64_t, int>> edges;
  for (const JobRun& j : runs) {
    if (j.started_at < 0 || j.finished_at < 0) continue;
    edges.emplace_back(j.started_at, 1);
    edges.emplace_back(j.finished_at, -1);
  }
  std::sort(edges.begin(), edges.end());  // an end before a start at the same millisecond
  int now = 0;
  int most = 0;
  for (const auto& [t, d] : edges) most = std::max(most, now += d);
  return most;
}

// Each worker's share of the succeeded jobs, and the rate while every worker still had work.
//
// A batch splits over the partitions by a hash of its random job ids, and its photos differ in
// cost, so one worker may run out of jobs before the other; from then on the batch measures one
// worker. "all_busy" counts the jobs that finished from the first finish of the batch until the
// moment the first worker finished its last job, by the workers' own finishedAt stamps: the rate
// the workers sustain together. With one worker that is its whole batch.
json ByWorker(const std::vector<JobRun>& runs) {
  struct Share {
    int64_t jobs = 0;
    int64_t first_finish = INT64_MAX;
    int64_t last_finish = INT64_MIN;
  };
  std::map<std::string, Share> shares;
  std::vector<int64_t> finishes;
  for (const JobRun& j : runs) {
    if (j.phase != "Succeeded" || j.finished_at < 0) continue;
    Share& s = shares[j.worker];
    ++s.jobs;
    s.first_finish = std::min(s.first_finish, j.finished_at);
    s.last_finish = std::max(s.last_finish, j.finished_at);
    finishes.push_back(j.finished_at);
  }
  json report = json::object();
  if (shares.empty()) return report;
  int64_t start = INT64_MAX;
  int64_t end = INT64_MAX;
  json workers = json::object();
  for (const auto& [name, s] : shares) {
    workers[name.empty() ? "(unnamed)" : name] = {{"jobs", s.jobs},
                                                  {"first_finished_at_ms", s.first_finish},
                                                  {"last_finished_at_ms", s.last_finish}};
    start = std::min(start, s.first_finish);
    end = std::min(end, s.last_finish);
  }
  int64_t within = 0;
  for (int64_t t : finishes) within += (t > start && t <= end) ? 1 : 0;
  const double seconds = static_cast<double>(end - start) / 1000.0;
  report["workers"] = workers;
  report["all_busy"] = {{"seconds", seconds},
                        {"jobs", within},
                        {"jobs_per_s", seconds > 0 ? static_cast<double>(within) / seconds : 0.0}};
  return report;
}

int Run(const RunOptions& o) {
  const json photos = json::parse(ReadFileOrDie(o.photos));
  std::vector<std::string> ids;
  for (const json& p : photos) ids.push_back(p.at("id").get<std::string>());
  CheckDistinct(o.first, o.jobs, ids.size(), o.shape);

  std::vector<JobRun> runs(static_cast<size_t>(o.jobs));
  std::optional<TreeWatcher> watcher;
  if (!o.watch.empty()) watcher.emplace(o.watch, o.watch_interval_ms);
  // This client shares the machine with what it measures, so its own CPU is reported too.
  const double own_cpu_start = TreeCpuSeconds(getpid());
  const Clock::time_point t0 = Clock::now();
  const Clock::time_point deadline = t0 + std::chrono::seconds(o.timeout_s);
  std::atomic<int64_t> next{0};
  std::vector<std::thread> threads;
  if (o.rate > 0) {
    // Open loop: job i is due at i / rate whatever happened to the others; its latency counts
    // from then, so a late client adds to it instead of hiding it.
    for (int t = 0; t < o.concurrency; ++t) {
      threads.emplace_back([&] {
        for (int64_t i = next++; i < o.jobs; i = next++) {
          JobRun& job = runs[static_cast<size_t>(i)];
          job.scheduled_ms = 1000.0 * static_cast<double>(i) / o.rate;
          std::this_thread::sleep_until(
              t0 + std::chrono::microseconds(static_cast<int64_t>(job.scheduled_ms * 1000)));
          Submit(o, ids, i, job, t0);
          if (job.status == 202 && !o.no_wait) Await(o, job, t0, deadline);
        }
      });
    }
    for (std::thread& t : threads) t.join();
  } else {
    // Closed: every job submitted as fast as `concurrency` clients can, then each awaited.
    for (int t = 0; t < o.concurrency; ++t) {
      threads.emplace_back([&] {
        for (int64_t i = next++; i < o.jobs; i = next++) {
          JobRun& job = runs[static_cast<size_t>(i)];
          job.scheduled_ms = MsSince(t0);
          Submit(o, ids, i, job, t0);
        }
      });
    }
    for (std::thread& t : threads) t.join();
    threads.clear();
    next = 0;
    if (!o.no_wait) {
      for (int t = 0; t < o.concurrency; ++t) {
        threads.emplace_back([&] {
          for (int64_t i = next++; i < o.jobs; i = next++) {
            JobRun& job = runs[static_cast<size_t>(i)];
            if (job.status == 202) Await(o, job, t0, deadline);
          }
        });
      }
      for (std::thread& t : threads) t.join();
    }
  }
  if (watcher) watcher->Stop();
  const double own_cpu_seconds = TreeCpuSeconds(getpid()) - own_cpu_start;

  std::map<std::string, int64_t> answers;
  std::map<std::string, int64_t> reasons;
  std::vector<std::string> errors;
  std::vector<double> latency;
  std::vector<double> submit;
  std::vector<double> lag;
  int64_t accepted = 0, succeeded = 0, failed = 0, unfinished = 0, late = 0;
  double first_sent = 1e300, last_accepted = 0, last_done = 0;
  for (const JobRun& j : runs) {
    ++answers[std::to_string(j.status)];
    first_sent = std::min(first_sent, j.sent_ms);
    last_accepted = std::max(last_accepted, j.accepted_ms);
    submit.push_back(j.accepted_ms - j.sent_ms);
    lag.push_back(j.sent_ms - j.scheduled_ms);
    if (j.sent_ms - j.scheduled_ms > 20) ++late;
    if (!j.error.empty() && errors.size() < 5) errors.push_back(j.error);
    if (j.status != 202) continue;
    ++accepted;
    if (o.no_wait) continue;
    if (j.phase == "Succeeded") {
      ++succeeded;
      latency.push_back(j.done_ms - j.scheduled_ms);
      last_done = std::max(last_done, j.done_ms);
    } else if (j.phase == "Failed") {
      ++failed;
      ++reasons[j.reason];
    } else {
      ++unfinished;
    }
  }
  const double wall_s = (last_done - first_sent) / 1000.0;
  const double submit_s = (last_accepted - first_sent) / 1000.0;
  json report = {
      {"mode", o.rate > 0 ? "open" : "closed"},
      {"shape", o.shape == Shape::kThumbnail ? "thumbnail" : "full"},
      {"photos", ids.size()},
      {"jobs", o.jobs},
      {"first", o.first},
      {"concurrency", o.concurrency},
      {"rate_per_s", o.rate},
      {"answers", answers},
      {"accepted", accepted},
      {"all_accepted", accepted == o.jobs},
      {"submit_seconds", submit_s},
      {"submit_per_s", submit_s > 0 ? static_cast<double>(o.jobs) / submit_s : 0.0},
      {"submit_ms", Percentiles(submit)},
      {"errors", errors},
      {"client_cpu_seconds", own_cpu_seconds},
  };
  if (o.rate > 0) {
    report["late_sends"] = late;
    report["send_lag_ms"] = Percentiles(lag);
  }
  if (!o.no_wait) {
    report["succeeded"] = succeeded;
    report["failed"] = failed;
    report["failure_reasons"] = reasons;
    report["unfinished"] = unfinished;
    report["all_succeeded"] = succeeded == o.jobs;
    report["wall_seconds"] = wall_s;
    report["throughput_jobs_per_s"] = wall_s > 0 ? static_cast<double>(succeeded) / wall_s : 0.0;
    report["latency_ms"] = Percentiles(latency);
    report["max_jobs_running_at_once"] = MaxOverlap(runs);
    report["by_worker"] = ByWorker(runs);
  }
  if (watcher) report["watch"] = watcher->Report();
  if (!o.ids_out.empty()) {
    std::string text;
    for (const JobRun& j : runs) {
      if (j.status == 202) text += j.id + "\n";
    }
    WriteFileOrDie(o.ids_out, text);
  }
  WriteFileOrDie(o.out, report.dump(2));
  return 0;
}

// --- bare -----------------------------------------------------------------------------------

struct BareOptions {
  std::string list;
  int64_t jobs = 100;
  int64_t first = 0;
  int procs = 2;
  int threads = 1;
  Shape shape = Shape::kThumbnail;
  std::string out;
};

// One process's share: jobs first+p, first+p+P, ... Writes one JSON line to `fd`.
[[noreturn]] void BareChild(const BareOptions& o, const std::vector<std::string>& photos, int p,
                            int go_fd, int fd) {
  imaging::SetOpenCvThreads(o.threads);
  imaging::KeepImageBuffers();  // as the worker's codec processes do
  const imaging::Pipeline pipeline(imaging::Limits{});
  // Every image id a placeholder: the pipeline reads the bytes, not the id.
  const std::vector<std::string> ids(photos.size(), std::string(64, '0'));
  char go = 0;
  (void)!read(go_fd, &go, 1);  // all start together: returns when the parent closes its end
  const auto wall = [] { return static_cast<double>(job::NowUnixMillis()); };
  const double start = wall();
  std::vector<double> ms;
  int64_t errors = 0;
  for (int64_t i = p; i < o.jobs; i += o.procs) {
    absl::StatusOr<job::JobSpec> spec =
        job::JobSpecFromJson(SpecJson(o.first + i, ids, o.shape), job::ValidationLimits{});
    const Clock::time_point t = Clock::now();
    absl::StatusOr<imaging::Result> result =
        spec.ok() ? pipeline.Run(photos[static_cast<size_t>((o.first + i) % photos.size())],
                                 spec->steps, spec->output)
                  : absl::StatusOr<imaging::Result>(spec.status());
    ms.push_back(MsSince(t));
    if (!result.ok()) ++errors;
  }
  const json line = {
      {"proc", p}, {"start_ms", start}, {"end_ms", wall()}, {"ms", ms}, {"errors", errors}};
  const std::string text = line.dump() + "\n";
  (void)!write(fd, text.data(), text.size());
  _exit(0);
}

int Bare(const BareOptions& o) {
  std::vector<std::string> photos;
  for (const std::string& path : ReadLines(o.list)) photos.push_back(ReadFileOrDie(path));
  if (photos.empty()) return 2;
  CheckDistinct(o.first, o.jobs, photos.size(), o.shape);
  int go[2];
  int results[2];
  if (pipe(go) != 0 || pipe(results) != 0) return 2;
  std::vector<pid_t> children;
  for (int p = 0; p < o.procs; ++p) {
    const pid_t pid = fork();
    if (pid < 0) return 2;
    if (pid == 0) {
      close(go[1]);
      close(results[0]);
      BareChild(o, photos, p, go[0], results[1]);
    }
    children.push_back(pid);
  }
  close(go[0]);
  close(results[1]);
  close(go[1]);  // go
  std::string text;
  char buf[65536];
  for (ssize_t n; (n = read(results[0], buf, sizeof buf)) > 0;) text.append(buf, n);
  close(results[0]);
  for (pid_t pid : children) waitpid(pid, nullptr, 0);

  std::istringstream in(text);
  std::string line;
  double start = 1e300, end = 0;
  int64_t errors = 0;
  std::vector<double> all;
  json per = json::array();
  while (std::getline(in, line)) {
    const json j = json::parse(line);
    start = std::min(start, j["start_ms"].get<double>());
    end = std::max(end, j["end_ms"].get<double>());
    errors += j["errors"].get<int64_t>();
    std::vector<double> ms = j["ms"].get<std::vector<double>>();
    per.push_back({{"proc", j["proc"]},
                   {"jobs", ms.size()},
                   {"seconds", (j["end_ms"].get<double>() - j["start_ms"].get<double>()) / 1000}});
    all.insert(all.end(), ms.begin(), ms.end());
  }
  const double wall_s = (end - start) / 1000.0;
  const bool complete = static_cast<int64_t>(all.size()) == o.jobs && errors == 0;
  const json report = {
      {"procs", o.procs},
      {"opencv_threads_per_proc", o.threads},
      {"photos", photos.size()},
      {"jobs", o.jobs},
      {"first", o.first},
      {"completed", all.size()},
      {"errors", errors},
      {"complete", complete},
      {"wall_seconds", wall_s},
      {"throughput_jobs_per_s", wall_s > 0 ? static_cast<double>(all.size()) / wall_s : 0.0},
      {"pipeline_ms", Percentiles(all)},
      {"per_proc", per}};
  WriteFileOrDie(o.out, report.dump(2));
  return complete ? 0 : 1;
}

// --- rss, get -------------------------------------------------------------------------------

int Rss(const std::vector<pid_t>& pids) {
  json trees = json::array();
  int64_t rss = 0, pss = 0, hwm = 0, processes = 0;
  for (pid_t pid : pids) {
    json t = TreeMemoryJson(pid);
    rss += t["rss_bytes"].get<int64_t>();
    pss += t["pss_bytes"].get<int64_t>();
    hwm += t["hwm_bytes"].get<int64_t>();
    processes += t["processes"].get<int64_t>();
    t["root"] = pid;
    trees.push_back(std::move(t));
  }
  std::cout << json{{"processes", processes},
                    {"rss_bytes", rss},
                    {"pss_bytes", pss},
                    {"hwm_bytes", hwm},
                    {"trees", trees}}
                   .dump(2)
            << "\n";
  return 0;
}

int Cpu(const std::vector<pid_t>& pids) {
  for (pid_t pid : pids) std::cout << TreeCpuSeconds(pid) << "\n";
  return 0;
}

int Merge(const std::vector<std::string>& parts) {
  json doc = json::object();
  for (const std::string& part : parts) {
    const size_t eq = part.find('=');
    if (eq == std::string::npos) {
      std::cerr << "pixq-bench-load: merge takes name=file, got " << part << "\n";
      return 2;
    }
    doc[part.substr(0, eq)] = json::parse(ReadFileOrDie(part.substr(eq + 1)));
  }
  std::cout << doc.dump(2) << "\n";
  return 0;
}

// Strings as they are, everything else as JSON.
std::string Text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

void Flatten(const json& v, const std::string& pointer, std::string& out) {
  if (v.is_object() && !v.empty()) {
    for (const auto& [key, item] : v.items()) Flatten(item, pointer + "/" + key, out);
  } else if (v.is_array() && !v.empty()) {
    for (size_t i = 0; i < v.size(); ++i) Flatten(v[i], pointer + "/" + std::to_string(i), out);
  } else {
    out += pointer + "\t" + Text(v) + "\n";
  }
}

int Flat(const std::string& file) {
  std::string out;
  Flatten(json::parse(ReadFileOrDie(file)), "", out);
  std::cout << out;
  return 0;
}

int Get(const std::string& file, const std::string& pointer) {
  const json doc = json::parse(ReadFileOrDie(file));
  const json::json_pointer ptr(pointer);
  if (!doc.contains(ptr)) {
    std::cerr << "pixq-bench-load: " << file << " has no " << pointer << "\n";
    return 1;
  }
  const json& v = doc.at(ptr);
  std::cout << Text(v) << "\n";
  return 0;
}

}  // namespace
}  // namespace pixq::bench

int main(int argc, char** argv) {
  using namespace pixq::bench;
  CLI::App app{"pixq-bench-load: the load client of pixq's system benchmarks"};
  app.require_subcommand(1);
  const std::map<std::string, Shape> shapes = {{"thumbnail", Shape::kThumbnail},
                                               {"full", Shape::kFull}};

  std::vector<std::string> files;
  double min_mp = 13, max_mp = 21;
  int largest = 0;
  CLI::App* photos = app.add_subcommand("photos", "JPEGs of min..max megapixels among FILES");
  photos->add_option("files", files)->required();
  photos->add_option("--min-mp", min_mp);
  photos->add_option("--max-mp", max_mp);
  photos->add_option("--largest", largest, "only the N largest");

  std::string url, list, out;
  CLI::App* upload = app.add_subcommand("upload", "upload the photos listed in --list");
  upload->add_option("--url", url)->required();
  upload->add_option("--list", list, "a file with one path a line")->required();
  upload->add_option("--out", out)->required();

  RunOptions run;
  CLI::App* run_cmd = app.add_subcommand("run", "submit jobs and wait for them");
  run_cmd->add_option("--url", run.url)->required();
  run_cmd->add_option("--photos", run.photos, "what `upload` wrote")->required();
  run_cmd->add_option("--jobs", run.jobs)->check(CLI::PositiveNumber);
  run_cmd->add_option("--first", run.first, "index of the first job (distinct ranges per run)");
  run_cmd->add_option("--concurrency", run.concurrency)->check(CLI::Range(1, 1024));
  run_cmd->add_option("--rate", run.rate, "jobs per second (open loop); 0: all at once");
  run_cmd->add_option("--shape", run.shape)->transform(CLI::CheckedTransformer(shapes));
  run_cmd->add_option("--watch", run.watch, "pids whose process trees are sampled");
  run_cmd->add_option("--watch-interval-ms", run.watch_interval_ms)->check(CLI::Range(5, 10000));
  run_cmd->add_option("--timeout-s", run.timeout_s);
  run_cmd->add_flag("--no-wait", run.no_wait, "only submit");
  run_cmd->add_option("--ids-out", run.ids_out, "write the accepted job ids, one a line");
  run_cmd->add_option("--out", run.out)->required();

  BareOptions bare;
  CLI::App* bare_cmd = app.add_subcommand("bare", "the same jobs through Pipeline::Run");
  bare_cmd->add_option("--list", bare.list, "a file with one path a line")->required();
  bare_cmd->add_option("--jobs", bare.jobs)->check(CLI::PositiveNumber);
  bare_cmd->add_option("--first", bare.first);
  bare_cmd->add_option("--procs", bare.procs)->check(CLI::Range(1, 64));
  bare_cmd->add_option("--threads", bare.threads, "OpenCV threads per process")
      ->check(CLI::Range(1, 64));
  bare_cmd->add_option("--shape", bare.shape)->transform(CLI::CheckedTransformer(shapes));
  bare_cmd->add_option("--out", bare.out)->required();

  std::vector<pid_t> pids;
  CLI::App* rss = app.add_subcommand("rss", "memory of process trees now, as JSON");
  rss->add_option("--pid", pids)->required();

  std::vector<pid_t> cpu_pids;
  CLI::App* cpu = app.add_subcommand("cpu", "CPU seconds of process trees so far");
  cpu->add_option("--pid", cpu_pids)->required();

  std::vector<std::string> parts;
  CLI::App* merge = app.add_subcommand("merge", "JSON files into one object");
  merge->add_option("parts", parts, "name=file")->required();

  std::string file, pointer;
  CLI::App* get = app.add_subcommand("get", "print one value of a JSON file");
  get->add_option("file", file)->required();
  get->add_option("pointer", pointer, "a JSON pointer, e.g. /latency_ms/p99")->required();

  CLI::App* flat = app.add_subcommand("flat", "every value of a JSON file with its pointer");
  flat->add_option("file", file)->required();

  CLI11_PARSE(app, argc, argv);
  if (photos->parsed()) return Photos(files, min_mp, max_mp, largest);
  if (upload->parsed()) return Upload(url, list, out);
  if (run_cmd->parsed()) return Run(run);
  if (bare_cmd->parsed()) return Bare(bare);
  if (rss->parsed()) return Rss(pids);
  if (cpu->parsed()) return Cpu(cpu_pids);
  if (merge->parsed()) return Merge(parts);
  if (flat->parsed()) return Flat(file);
  return Get(file, pointer);
}
