#pragma once

// The whole of pixq as real processes for integration tests: pixq-devbroker, pixq-api and any
// number of pixq-worker, on loopback, with a temporary volume. Everything stops when the System
// goes away.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

#include "tests/support/http_client.h"
#include "tests/support/process.h"

namespace pixq::testing {

struct SystemOptions {
  int partitions = 4;
  int workers = 2;
  std::map<std::string, std::string> env;  // added to the API's and workers' environment
};

class System final {
 public:
  // Starts everything and waits until the API is ready. Throws std::runtime_error with the
  // relevant log when a process does not come up.
  explicit System(SystemOptions options = {});
  ~System();

  const std::string& root() const { return dir_.path(); }
  const std::string& url() const { return url_; }
  Process& api() { return *api_; }
  Process& broker() { return *broker_; }
  Process& worker(int i) { return *workers_.at(i); }
  int worker_count() const { return static_cast<int>(workers_.size()); }

  // Starts one more worker named "worker-<n>".
  void AddWorker();

  // Stops every process and starts the broker, the API and as many workers again on the same
  // directories (the broker restores its topics from them). SIGTERM stops them in order, workers
  // first; SIGKILL kills them all at once, as a power cut would. Throws as the constructor does.
  void Restart(int signal);
  // http://127.0.0.1:<port> of worker i's probe port (from its start-up log), "" if not yet known.
  std::string WorkerProbeUrl(int i) const;
  // Whether every worker owns partitions in both its consumer groups (jobs, retries), by the
  // latest assignment each logged.
  bool AllWorkersOwnPartitions() const;

  // The environment the API and the workers get (storage root, Kafka bootstrap file, options.env),
  // for starting another pixq process against this system.
  std::map<std::string, std::string> Env() const;

  // The JSON log lines of a process whose "message" is `message`.
  static std::vector<nlohmann::json> LogLines(const Process& process, const std::string& message);

 private:
  void StartAll();

  SystemOptions options_;
  TempDir dir_;
  int starts_ = 0;
  std::string bootstrap_file_;
  std::string url_;
  std::unique_ptr<Process> broker_;
  std::unique_ptr<Process> api_;
  std::vector<std::unique_ptr<Process>> workers_;
};

// Long-polls GET <url>/v1/jobs/<id>?wait= until the job is Succeeded or Failed (a long-poll
// returns on any status change) and returns its last record; the record's phase is whatever it
// was when `timeout` ran out otherwise. An empty object when the API did not answer with JSON.
nlohmann::json AwaitJob(const std::string& url, const std::string& id, absl::Duration timeout);

// The directory holding the built binaries (set by CMake).
std::string BinaryDir();

}  // namespace pixq::testing
