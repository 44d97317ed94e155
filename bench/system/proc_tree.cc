#include "bench/system/proc_tree.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <utility>

#include <fcntl.h>
#include <unistd.h>

namespace pixq::bench {
namespace {

double WallSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The whole of /proc/<pid>/<name>, or "" when the process is gone. Read with read(2): a process
// that exits between open and read makes the read fail with ESRCH, which libstdc++'s filebuf
// turns into an exception even with the stream's exceptions off.
std::string ReadProcFile(pid_t pid, const char* name) {
  const std::string path = "/proc/" + std::to_string(pid) + "/" + name;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  std::string text;
  char buffer[4096];
  ssize_t got = 0;
  while ((got = ::read(fd, buffer, sizeof buffer)) > 0)
    text.append(buffer, static_cast<size_t>(got));
  ::close(fd);
  return got < 0 ? std::string() : text;
}

// The fields of /proc/<pid>/stat after the command name, which may itself hold spaces and
// parentheses: field 3 (state) is fields[0].
std::vector<std::string> StatFields(pid_t pid) {
  const std::string text = ReadProcFile(pid, "stat");
  const size_t close = text.rfind(')');
  std::vector<std::string> fields;
  if (close == std::string::npos) return fields;
  std::istringstream rest(text.substr(close + 1));
  std::string field;
  while (rest >> field) fields.push_back(field);
  return fields;
}

// kB value of a "Name:   123 kB" line of /proc/<pid>/status, in bytes.
int64_t StatusBytes(const std::string& line) {
  return std::strtoll(line.c_str() + line.find(':') + 1, nullptr, 10) * 1024;
}

}  // namespace

std::vector<pid_t> ProcessTree(pid_t root) {
  std::map<pid_t, std::vector<pid_t>> children;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(name));
    const std::vector<std::string> fields = StatFields(pid);
    if (fields.size() < 2) continue;
    children[static_cast<pid_t>(std::stol(fields[1]))].push_back(pid);
  }
  std::vector<pid_t> tree;
  if (!ReadMemory(root).alive) return tree;
  tree.push_back(root);
  for (size_t i = 0; i < tree.size(); ++i) {
    for (pid_t child : children[tree[i]]) tree.push_back(child);
  }
  return tree;
}

ProcMemory ReadMemory(pid_t pid) {
  ProcMemory m{.pid = pid};
  std::istringstream in(ReadProcFile(pid, "status"));
  std::string line;
  while (std::getline(in, line)) {
    m.alive = true;
    if (line.rfind("Name:", 0) == 0) {
      m.name = line.substr(line.find_first_not_of(" \t", 5));
    } else if (line.rfind("VmRSS:", 0) == 0) {
      m.rss = StatusBytes(line);
    } else if (line.rfind("VmHWM:", 0) == 0) {
      m.hwm = StatusBytes(line);
    }
  }
  std::istringstream rollup(ReadProcFile(pid, "smaps_rollup"));
  while (std::getline(rollup, line)) {
    if (line.rfind("Pss:", 0) == 0) m.pss = StatusBytes(line);
  }
  return m;
}

double TreeCpuSeconds(pid_t root) {
  static const double kTicks = static_cast<double>(sysconf(_SC_CLK_TCK));
  double total = 0;
  for (pid_t pid : ProcessTree(root)) {
    const std::vector<std::string> f = StatFields(pid);
    if (f.size() < 15) continue;
    // utime, stime, cutime, cstime are fields 14..17.
    for (int i = 11; i <= 14; ++i) total += std::stod(f[i]) / kTicks;
  }
  return total;
}

nlohmann::json TreeMemoryJson(pid_t root) {
  nlohmann::json per = nlohmann::json::array();
  int64_t rss = 0;
  int64_t pss = 0;
  int64_t hwm = 0;
  for (pid_t pid : ProcessTree(root)) {
    const ProcMemory m = ReadMemory(pid);
    if (!m.alive) continue;
    rss += m.rss;
    pss += m.pss;
    hwm += m.hwm;
    per.push_back({{"pid", m.pid},
                   {"name", m.name},
                   {"rss_bytes", m.rss},
                   {"pss_bytes", m.pss},
                   {"hwm_bytes", m.hwm}});
  }
  return {{"processes", per.size()},
          {"rss_bytes", rss},
          {"pss_bytes", pss},
          {"hwm_bytes", hwm},
          {"per_process", per}};
}

TreeWatcher::TreeWatcher(std::vector<pid_t> roots, int interval_ms) : interval_ms_(interval_ms) {
  for (pid_t pid : roots) roots_.push_back(RootState{.pid = pid, .cpu_start = TreeCpuSeconds(pid)});
  wall_start_ = WallSeconds();
  Sample();
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(stop_mu_);
    while (!stop_cv_.wait_for(lock, std::chrono::milliseconds(interval_ms_),
                              [this] { return stop_; })) {
      lock.unlock();
      Sample();
      lock.lock();
    }
  });
}

TreeWatcher::~TreeWatcher() { Stop(); }

void TreeWatcher::Stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  thread_.join();
  Sample();
  std::lock_guard<std::mutex> lock(mu_);
  wall_end_ = WallSeconds();
  for (RootState& root : roots_) root.cpu_end = TreeCpuSeconds(root.pid);
}

void TreeWatcher::Sample() {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t all = 0;
  int64_t all_pss = 0;
  for (RootState& root : roots_) {
    int64_t sum = 0;
    int64_t pss = 0;
    for (pid_t pid : ProcessTree(root.pid)) {
      const ProcMemory m = ReadMemory(pid);
      if (!m.alive) continue;
      sum += m.rss;
      pss += m.pss;
      int64_t& hwm = root.hwm[pid];
      hwm = std::max(hwm, m.hwm);
    }
    root.peak_rss_sum = std::max(root.peak_rss_sum, sum);
    root.peak_pss_sum = std::max(root.peak_pss_sum, pss);
    all += sum;
    all_pss += pss;
  }
  peak_rss_sum_ = std::max(peak_rss_sum_, all);
  peak_pss_sum_ = std::max(peak_pss_sum_, all_pss);
  ++samples_;
}

nlohmann::json TreeWatcher::Report() const {
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json per = nlohmann::json::array();
  nlohmann::json pids = nlohmann::json::array();
  double cpu = 0;
  int64_t hwm_all = 0;
  size_t seen_all = 0;
  for (const RootState& root : roots_) {
    int64_t hwm = 0;
    for (const auto& [pid, bytes] : root.hwm) hwm += bytes;
    cpu += root.cpu_end - root.cpu_start;
    hwm_all += hwm;
    seen_all += root.hwm.size();
    pids.push_back(root.pid);
    per.push_back({{"pid", root.pid},
                   {"cpu_seconds", root.cpu_end - root.cpu_start},
                   {"peak_rss_sum_bytes", root.peak_rss_sum},
                   {"peak_pss_sum_bytes", root.peak_pss_sum},
                   {"hwm_sum_bytes", hwm},
                   {"processes_seen", root.hwm.size()}});
  }
  return {{"roots", pids},
          {"interval_ms", interval_ms_},
          {"samples", samples_},
          {"peak_rss_sum_bytes", peak_rss_sum_},
          {"peak_pss_sum_bytes", peak_pss_sum_},
          {"hwm_sum_bytes", hwm_all},
          {"processes_seen", seen_all},
          {"cpu_seconds", cpu},
          {"wall_seconds", wall_end_ - wall_start_},
          {"per_root", per}};
}

}  // namespace pixq::bench
