#include "tests/support/system.h"

#include <csignal>
#include <cstdio>
#include <map>
#include <sstream>
#include <stdexcept>

namespace pixq::testing {

std::string BinaryDir() { return PIXQ_BINARY_DIR; }

System::System(SystemOptions options) : options_(options) {
  bootstrap_file_ = dir_.path() + "/kafka.bootstrap";
  StartAll();
}

void System::StartAll() {
  // Each start logs to its own files, so a restarted system's logs say what the new processes did.
  const std::string suffix = starts_++ == 0 ? "" : "-" + std::to_string(starts_);
  std::remove(bootstrap_file_.c_str());  // a killed broker leaves its address behind
  broker_ =
      Process::Start({BinaryDir() + "/cmd/devbroker/pixq-devbroker", "--partitions",
                      std::to_string(options_.partitions), "--bootstrap-file", bootstrap_file_},
                     {}, dir_.path() + "/devbroker" + suffix + ".log");
  if (!Eventually([&] { return !ReadFile(bootstrap_file_).empty(); }, absl::Seconds(20))) {
    throw std::runtime_error("pixq-devbroker did not start:\n" + broker_->Log());
  }
  std::map<std::string, std::string> env = Env();
  env["PIXQ_HTTP_PORT"] = "0";  // the API picks a free port and logs it
  api_ = Process::Start({BinaryDir() + "/cmd/api/pixq-api"}, env,
                        dir_.path() + "/api" + suffix + ".log");
  int port = 0;
  if (!Eventually(
          [&] {
            for (const nlohmann::json& line : LogLines(*api_, "pixq-api listening")) {
              port = line.value("port", 0);
            }
            return port != 0 || !api_->Running();
          },
          absl::Seconds(30)) ||
      port == 0) {
    throw std::runtime_error("pixq-api did not start:\n" + api_->Log());
  }
  url_ = "http://127.0.0.1:" + std::to_string(port);
  if (!Eventually([&] { return HttpGet(url_ + "/readyz", {}, 2000).status == 200; },
                  absl::Seconds(30))) {
    throw std::runtime_error("pixq-api did not get ready:\n" + api_->Log());
  }
  for (int i = 0; i < options_.workers; ++i) AddWorker();
}

void System::Restart(int signal) {
  if (signal == SIGKILL) {
    for (auto& worker : workers_) worker->Signal(SIGKILL);
    api_->Signal(SIGKILL);
    broker_->Signal(SIGKILL);
  }
  for (auto& worker : workers_) {
    worker->Signal(signal);
    worker->Wait(absl::Seconds(60));
  }
  for (Process* p : {api_.get(), broker_.get()}) {
    p->Signal(signal);
    p->Wait(absl::Seconds(60));
  }
  options_.workers = static_cast<int>(workers_.size());
  workers_.clear();
  api_.reset();
  broker_.reset();
  StartAll();
}

System::~System() {
  // Workers first (they leave the group cleanly), then the API, then the broker.
  workers_.clear();
  api_.reset();
  broker_.reset();
}

std::map<std::string, std::string> System::Env() const {
  std::map<std::string, std::string> env = {{"PIXQ_STORAGE_ROOT", dir_.path() + "/volume"},
                                            {"PIXQ_KAFKA_BOOTSTRAP_FILE", bootstrap_file_},
                                            {"PIXQ_HTTP_ADDRESS", "127.0.0.1"},
                                            {"PIXQ_LOG_LEVEL", "info"},
                                            // No trace export unless a test asks for it, whatever
                                            // the environment running the tests says.
                                            {"OTEL_EXPORTER_OTLP_ENDPOINT", ""},
                                            {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", ""}};
  for (const auto& [key, value] : options_.env) env[key] = value;
  return env;
}

void System::AddWorker() {
  std::map<std::string, std::string> env = Env();
  const std::string name = "worker-" + std::to_string(workers_.size() + 1) +
                           (starts_ > 1 ? "-" + std::to_string(starts_) : "");
  env["PIXQ_WORKER_NAME"] = name;
  env["PIXQ_WORKER_ADDRESS"] = "127.0.0.1";
  env["PIXQ_WORKER_PORT"] = "0";
  workers_.push_back(Process::Start({BinaryDir() + "/cmd/worker/pixq-worker"}, env,
                                    dir_.path() + "/" + name + ".log"));
}

std::string System::WorkerProbeUrl(int i) const {
  for (const nlohmann::json& line : LogLines(*workers_.at(i), "pixq-worker started")) {
    return "http://127.0.0.1:" + std::to_string(line.value("probe_port", 0));
  }
  return "";
}

bool System::AllWorkersOwnPartitions() const {
  // Each worker logs an assignment per consumer group (the jobs and their retries): it is a
  // member of both, and owns work, when the last line of each names partitions. (Reading only
  // the last line of any group took a worker whose jobs consumer had not joined yet for one
  // that had, and the group's next rebalance then fell inside a test.)
  for (const auto& worker : workers_) {
    std::map<std::string, nlohmann::json> last;  // topic -> partitions
    for (const nlohmann::json& line : LogLines(*worker, "partitions assigned")) {
      last[line.value("topic", "")] = line["partitions"];
    }
    if (last.size() < 2) return false;
    for (const auto& [topic, partitions] : last) {
      if (partitions.empty()) return false;
    }
  }
  return true;
}

std::vector<nlohmann::json> System::LogLines(const Process& process, const std::string& message) {
  std::vector<nlohmann::json> out;
  std::istringstream in(process.Log());
  std::string line;
  while (std::getline(in, line)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.value("message", "") == message) out.push_back(std::move(j));
  }
  return out;
}

nlohmann::json AwaitJob(const std::string& url, const std::string& id, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  nlohmann::json job = nlohmann::json::object();
  while (true) {
    const HttpResponse r = HttpGet(url + "/v1/jobs/" + id + "?wait=20s");
    job = nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
    if (!job.is_object()) return nlohmann::json::object();
    const nlohmann::json phase = job["status"].value("phase", nlohmann::json());
    if (phase == "Succeeded" || phase == "Failed" || absl::Now() >= deadline) return job;
  }
}

}  // namespace pixq::testing
