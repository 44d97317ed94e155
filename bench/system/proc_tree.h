#pragma once

// Memory and CPU of a process and its descendants, from /proc (Linux). A pixq-worker may run its
// codec in child processes, so what it costs is the sum over the whole tree.

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "nlohmann/json.hpp"
#include <sys/types.h>

namespace pixq::bench {

struct ProcMemory {
  pid_t pid = 0;
  std::string name;  // comm
  int64_t rss = 0;   // VmRSS, bytes
  int64_t hwm = 0;   // VmHWM (peak RSS over the process's life so far), bytes
  // Pss from smaps_rollup: the resident pages with each shared page divided among the processes
  // that share it, bytes (0 when unreadable). Summed over a tree it counts shared libraries once.
  int64_t pss = 0;
  bool alive = false;  // whether /proc/<pid>/status could be read
};

// `root` and every process below it (children, grandchildren, ...), root first. Empty when
// `root` is gone.
[[nodiscard]] std::vector<pid_t> ProcessTree(pid_t root);

[[nodiscard]] ProcMemory ReadMemory(pid_t pid);

// CPU time of the tree in seconds: user + system of each live process, plus what each has
// collected from children it waited for (cutime + cstime). The difference of two readings is the
// CPU the tree used in between, short-lived children included.
[[nodiscard]] double TreeCpuSeconds(pid_t root);

// The memory of a tree now: {"processes", "rss_bytes" (sum of VmRSS), "pss_bytes" (sum of Pss),
// "hwm_bytes" (sum of VmHWM), "per_process": [{"pid", "name", "rss_bytes", "pss_bytes",
// "hwm_bytes"}]}.
[[nodiscard]] nlohmann::json TreeMemoryJson(pid_t root);

// Samples the trees of `roots` every `interval` on a thread of its own until Stop(): the largest
// sums of VmRSS and of Pss seen at one instant, and per process the largest VmHWM seen (a child
// that lives shorter than the interval may be missed). Also the CPU the trees used between start
// and Stop(). Each sample walks /proc and reads smaps_rollup, which costs the kernel time that the
// runs measured share: where only the CPU counts, a long interval keeps the watching cheap (Stop
// does not wait for the next sample).
class TreeWatcher final {
 public:
  TreeWatcher(std::vector<pid_t> roots, int interval_ms);
  ~TreeWatcher();
  TreeWatcher(const TreeWatcher&) = delete;
  TreeWatcher& operator=(const TreeWatcher&) = delete;

  void Stop();
  // {"roots", "interval_ms", "samples", "peak_rss_sum_bytes", "peak_pss_sum_bytes",
  //  "hwm_sum_bytes", "processes_seen", "cpu_seconds", "wall_seconds", "per_root": [{"pid",
  //  "cpu_seconds", "peak_rss_sum_bytes", "peak_pss_sum_bytes", "hwm_sum_bytes",
  //  "processes_seen"}]}. Call after Stop().
  [[nodiscard]] nlohmann::json Report() const;

 private:
  struct RootState {
    pid_t pid = 0;
    double cpu_start = 0;
    double cpu_end = 0;
    int64_t peak_rss_sum = 0;
    int64_t peak_pss_sum = 0;
    std::map<pid_t, int64_t> hwm;  // per process seen, its largest VmHWM
  };
  void Sample();

  int interval_ms_;
  std::vector<RootState> roots_;
  int64_t peak_rss_sum_ = 0;
  int64_t peak_pss_sum_ = 0;
  int64_t samples_ = 0;
  double wall_start_ = 0;
  double wall_end_ = 0;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;  // under stop_mu_
  mutable std::mutex mu_;
  std::thread thread_;
};

}  // namespace pixq::bench
