#pragma once

// Child processes for integration tests. Each is started with its output in a log file, dies with
// the test process (PR_SET_PDEATHSIG) and is stopped when its Process object goes away, so no
// test leaves a server running, also when an assertion fails.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include <sys/types.h>

namespace pixq::testing {

class Process final {
 public:
  // Starts argv[0] with the current environment plus `env`; stdout and stderr go to `log_path`.
  static std::unique_ptr<Process> Start(const std::vector<std::string>& argv,
                                        const std::map<std::string, std::string>& env,
                                        const std::string& log_path);
  ~Process();  // SIGTERM, then SIGKILL after 10 s

  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }

  void Signal(int signal);
  // Waits for the process to exit; its exit status (as from waitpid), or nullopt on timeout.
  std::optional<int> Wait(absl::Duration timeout);
  bool Running();

  // The log's content so far.
  std::string Log() const;

 private:
  Process(pid_t pid, std::string log_path) : pid_(pid), log_path_(std::move(log_path)) {}
  pid_t pid_;
  std::string log_path_;
  bool reaped_ = false;
};

// Polls `condition` every 50 ms until it holds or `timeout` passes; returns whether it held.
template <typename Fn>
bool Eventually(Fn condition, absl::Duration timeout);

// A fresh directory under $TMPDIR, removed by the destructor.
class TempDir final {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A TCP port on 127.0.0.1 that was free a moment ago, for programs that cannot be told to pick
// one themselves and report it (Prometheus). Another process may take it meanwhile; rare enough
// for tests, which then fail with the program's bind error in its log.
int FreeLoopbackPort();

// The file's content, or "" when it cannot be read.
std::string ReadFile(const std::string& path);

}  // namespace pixq::testing

#include <thread>

#include "absl/time/clock.h"

namespace pixq::testing {

template <typename Fn>
bool Eventually(Fn condition, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (condition()) return true;
    if (absl::Now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace pixq::testing
