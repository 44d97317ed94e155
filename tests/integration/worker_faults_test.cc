// Workers that stop, gracefully or not, while jobs run: nothing is lost, and a clean stop runs
// nothing twice. Real processes (devbroker, API, workers running two jobs at once each); the
// figures are printed.

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "tests/integration/photos.h"
#include "tests/support/figures.h"
#include "tests/support/http_client.h"
#include "tests/support/system.h"

namespace pixq::testing {
namespace {

using nlohmann::json;

json ParseJson(const HttpResponse& r) {
  return json::parse(r.body, nullptr, /*allow_exceptions=*/false);
}

// Uploads the photograph reduced by `reduction` (1, 2, 4 or 8) as a JPEG; returns its id.
std::string UploadPhoto(const std::string& url, int reduction) {
  const int flag = reduction == 8   ? cv::IMREAD_REDUCED_COLOR_8
                   : reduction == 4 ? cv::IMREAD_REDUCED_COLOR_4
                   : reduction == 2 ? cv::IMREAD_REDUCED_COLOR_2
                                    : cv::IMREAD_COLOR;
  const cv::Mat image = cv::imread(kPhoto, flag);
  EXPECT_FALSE(image.empty()) << "the photograph is missing; run scripts/setup.sh";
  std::vector<uchar> jpeg;
  cv::imencode(".jpg", image, jpeg, {cv::IMWRITE_JPEG_QUALITY, 90});
  HttpResponse r =
      HttpPost(url + "/v1/images", std::string(jpeg.begin(), jpeg.end()), "image/jpeg");
  EXPECT_TRUE(r.status == 201 || r.status == 200) << r.body;
  return ParseJson(r).value("id", "");
}

// Submits `count` jobs on `image_id`, each a different width so none is a cache hit.
std::vector<std::string> SubmitJobs(const std::string& url, const std::string& image_id, int count,
                                    const json& extra_steps) {
  std::vector<std::string> ids;
  for (int i = 0; i < count; ++i) {
    json steps = extra_steps;
    steps.push_back({{"op", "resize"}, {"width", 400 + i}});
    const json spec = {{"source", {{"imageId", image_id}}},
                       {"steps", steps},
                       {"output", {{"format", "jpeg"}, {"quality", 80}}}};
    HttpResponse r = HttpPost(url + "/v1/jobs", spec.dump(), "application/json");
    EXPECT_EQ(r.status, 202) << r.body;
    ids.push_back(ParseJson(r)["metadata"].value("id", ""));
  }
  return ids;
}

// How many times each job was run to the end, over the logs of every worker.
std::map<std::string, int> Completions(System& system) {
  std::map<std::string, int> runs;
  for (int i = 0; i < system.worker_count(); ++i) {
    for (const json& line : System::LogLines(system.worker(i), "job succeeded")) {
      runs[line.value("job_id", "")]++;
    }
  }
  return runs;
}

// The child processes of `pid` (its codec processes, for a worker), from /proc.
std::vector<pid_t> ChildrenOf(pid_t pid) {
  std::vector<pid_t> out;
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
    std::ifstream in(task.path() / "children");
    for (pid_t child; in >> child;) out.push_back(child);
  }
  return out;
}

// Whether `pid` is a process that has not exited (a zombie waiting for its reaper has).
bool Running(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), {});
  const size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

size_t FilesIn(const std::string& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

TEST(WorkerFaultsTest, SigtermFinishesTheJobsInFlightAndRunsNothingTwice) {
  System system(SystemOptions{.partitions = 4, .workers = 2});
  ASSERT_TRUE(Eventually([&] { return system.AllWorkersOwnPartitions(); }, absl::Seconds(60)));
  const std::string image = UploadPhoto(system.url(), 1);
  ASSERT_FALSE(image.empty());
  // Full-resolution work (a mirror of 20 MP before the resize) so that jobs are in flight when
  // the signal arrives.
  const std::vector<std::string> ids =
      SubmitJobs(system.url(), image, 40, json::array({{{"op", "mirror"}}}));
  ASSERT_TRUE(
      Eventually([&] { return System::LogLines(system.worker(0), "job succeeded").size() >= 3; },
                 absl::Seconds(120)))
      << system.worker(0).Log();

  const absl::Time signalled = absl::Now();
  system.worker(0).Signal(SIGTERM);
  const std::optional<int> exit = system.worker(0).Wait(absl::Seconds(60));
  ASSERT_TRUE(exit.has_value()) << "the worker did not stop within its grace period";
  const absl::Duration drained = absl::Now() - signalled;
  EXPECT_TRUE(WIFEXITED(*exit) && WEXITSTATUS(*exit) == 0) << system.worker(0).Log();

  int lost = 0;
  for (const std::string& id : ids) {
    const json job = AwaitJob(system.url(), id, absl::Minutes(3));
    if (job["status"]["phase"] != "Succeeded") {
      ++lost;
      ADD_FAILURE() << job.dump();
    }
  }
  const absl::Duration all_done = absl::Now() - signalled;

  // What worker-1 had in hand when SIGTERM came, it finished before leaving. (Counted by the
  // worker where each job ends, its status acknowledged: a job may log its outcome before the
  // signal and still be waiting for Kafka when the drain begins.)
  const std::vector<json> draining = System::LogLines(system.worker(0), "draining");
  const std::vector<json> ended = System::LogLines(system.worker(0), "drained");
  ASSERT_EQ(draining.size(), 1u) << system.worker(0).Log();
  ASSERT_EQ(ended.size(), 1u) << system.worker(0).Log();
  const int in_flight = draining[0].value("jobs", -1);
  const std::string log = system.worker(0).Log();
  EXPECT_GT(in_flight, 0) << log;
  EXPECT_EQ(ended[0].value("jobs", -1), in_flight) << log;
  EXPECT_EQ(ended[0].value("left", -1), 0) << log;
  EXPECT_EQ(log.find("after the grace period"), std::string::npos) << log;
  EXPECT_NE(log.find("\"pixq-worker stopped\""), std::string::npos) << log;

  // Nothing ran twice: the stopped worker committed what it finished before leaving.
  const std::map<std::string, int> runs = Completions(system);
  int twice = 0;
  for (const std::string& id : ids) {
    EXPECT_EQ(runs.count(id) ? runs.at(id) : 0, 1) << id;
    if (runs.count(id) && runs.at(id) > 1) ++twice;
  }
  // What the stopped worker said about its group and its commits, when something ran twice.
  EXPECT_EQ(twice, 0) << log << "\n--- worker(1):\n" << system.worker(1).Log();
  EXPECT_EQ(FilesIn(system.root() + "/volume/tmp"), 0u);
  std::cout << "SIGTERM: " << in_flight << " jobs in flight finished during the drain, "
            << System::LogLines(system.worker(0), "job succeeded").size()
            << " run by the stopped worker, " << twice << " of " << ids.size()
            << " jobs run twice\n";
  RecordFault({.fault = "A worker stopped (SIGTERM) mid-load",
               .injected = "SIGTERM to one of two workers while it ran 20 MP jobs",
               .jobs = static_cast<int>(ids.size()),
               .lost = lost,
               .redeliveries = absl::StrCat(twice, " run twice; ", in_flight,
                                            " in flight finished during the drain"),
               .recovery = absl::StrCat("worker exited ", Took(drained), " after the signal; ",
                                        lost == 0 ? "every job" : "the other jobs", " Succeeded ",
                                        Took(all_done), " after it")});
}

TEST(WorkerFaultsTest, SigkillLosesNoJobAndLeavesNoPartialFile) {
  System system(SystemOptions{.partitions = 4, .workers = 2});
  ASSERT_TRUE(Eventually([&] { return system.AllWorkersOwnPartitions(); }, absl::Seconds(60)));
  const std::string image = UploadPhoto(system.url(), 2);
  ASSERT_FALSE(image.empty());
  const std::vector<std::string> ids = SubmitJobs(system.url(), image, 300, json::array());
  ASSERT_TRUE(
      Eventually([&] { return System::LogLines(system.worker(0), "job succeeded").size() >= 20; },
                 absl::Seconds(120)))
      << system.worker(0).Log();

  const std::vector<pid_t> codecs = ChildrenOf(system.worker(0).pid());
  EXPECT_FALSE(codecs.empty()) << "the worker runs its jobs in codec processes";
  const absl::Time killed = absl::Now();
  system.worker(0).Signal(SIGKILL);
  ASSERT_TRUE(system.worker(0).Wait(absl::Seconds(10)).has_value());
  // Its codec processes, busy or not, end with it rather than finishing their jobs for no one.
  EXPECT_TRUE(Eventually(
      [&] {
        for (pid_t pid : codecs) {
          if (Running(pid)) return false;
        }
        return true;
      },
      absl::Seconds(5)))
      << codecs.size() << " codec processes outlived their worker";
  const size_t before_kill = System::LogLines(system.worker(0), "job succeeded").size();
  system.AddWorker();  // the replacement, as a Deployment would start it

  int decoded = 0;
  int lost = 0;
  for (const std::string& id : ids) {
    const json job = AwaitJob(system.url(), id, absl::Minutes(4));
    if (job["status"]["phase"] != "Succeeded") {
      ++lost;
      ADD_FAILURE() << job.dump();
      continue;
    }
    HttpResponse bytes = HttpGet(system.url() + job["status"]["output"]["url"].get<std::string>());
    ASSERT_EQ(bytes.status, 200) << id;
    const cv::Mat out = cv::imdecode(std::vector<uchar>(bytes.body.begin(), bytes.body.end()),
                                     cv::IMREAD_UNCHANGED);
    ASSERT_FALSE(out.empty()) << "output of " << id << " does not decode";
    EXPECT_EQ(out.cols, job["status"]["output"]["width"].get<int>());
    ++decoded;
  }
  const absl::Duration all_done = absl::Now() - killed;
  // Outputs are written to an unnamed file (O_TMPFILE) and linked into place only when complete,
  // so the kill leaves no partial output and nothing in tmp/ (on a file system without O_TMPFILE
  // the store falls back to named temporaries, swept at start-up after storage.tmp_max_age_s).
  const std::map<std::string, int> runs = Completions(system);
  int redelivered = 0;
  for (const std::string& id : ids) {
    if (runs.count(id) && runs.at(id) > 1) ++redelivered;
  }
  std::cout << "SIGKILL: " << ids.size() << " jobs, " << decoded << " outputs decoded, "
            << before_kill << " finished by the killed worker, " << redelivered
            << " run to the end twice (redelivered after the kill), tmp files left: "
            << FilesIn(system.root() + "/volume/tmp") << "\n";
  EXPECT_EQ(FilesIn(system.root() + "/volume/tmp"), 0u);
  RecordFault(
      {.fault = "A worker killed (SIGKILL) mid-load",
       .injected = "SIGKILL to one of two workers after it finished 20 jobs; a "
                   "replacement started",
       .jobs = static_cast<int>(ids.size()),
       .lost = lost,
       .redeliveries = absl::StrCat(redelivered, " run twice; ",
                                    FilesIn(system.root() + "/volume/tmp"), " partial files left"),
       .recovery = absl::StrCat(
           lost == 0 ? "every job Succeeded and decoded " : "the others Succeeded ", Took(all_done),
           " after the kill; its ", codecs.size(), " codec processes ended with it")});
}

}  // namespace
}  // namespace pixq::testing
