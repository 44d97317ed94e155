// The local system stopped (SIGTERM, as Ctrl-C of scripts/dev.sh does) or killed (SIGKILL, every
// process at once) and started again on the same data: the catalogue, the finished jobs with
// their outputs, and the jobs accepted while no worker ran are all still there, and the latter
// run after the restart.

#include <csignal>
#include <iostream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include <gtest/gtest.h>

#include "tests/integration/photos.h"
#include "tests/support/figures.h"
#include "tests/support/http_client.h"
#include "tests/support/system.h"

namespace pixq::testing {
namespace {

using nlohmann::json;

json Parse(const HttpResponse& r) { return json::parse(r.body, nullptr, false); }

std::string SubmitJob(const std::string& url, const std::string& image, const json& steps) {
  const json spec = {{"source", {{"imageId", image}}},
                     {"steps", steps},
                     {"output", {{"format", "webp"}, {"quality", 80}}}};
  const HttpResponse r = HttpPost(url + "/v1/jobs", spec.dump(), "application/json");
  EXPECT_EQ(r.status, 202) << r.body;
  const json job = Parse(r);
  return job.is_object() ? job["metadata"].value("id", "") : "";
}

// How many times a worker's log names the job.
int Mentions(const std::string& log, const std::string& job) {
  int n = 0;
  for (size_t at = log.find(job); at != std::string::npos; at = log.find(job, at + 1)) ++n;
  return n;
}

void StopAndStartKeepsEverything(int signal) {
  System system({.workers = 1});
  const std::string title = "Kleiber at rest";
  const HttpResponse up = HttpPost(system.url() + "/v1/images?title=" + UrlEncode(title),
                                   Encoded(SmallPhoto(320), ".png"), "image/png");
  ASSERT_EQ(up.status, 201) << up.body;
  const std::string image = Parse(up).value("id", "");
  ASSERT_FALSE(image.empty());

  const std::string done =
      SubmitJob(system.url(), image, json::array({{{"op", "resize"}, {"width", 100}}}));
  ASSERT_EQ(AwaitJob(system.url(), done, absl::Seconds(60))["status"].value("phase", ""),
            "Succeeded");
  const HttpResponse output = HttpGet(system.url() + "/v1/jobs/" + done + "/output");
  ASSERT_EQ(output.status, 200);

  // No worker runs while these are accepted.
  system.worker(0).Signal(SIGTERM);
  ASSERT_TRUE(system.worker(0).Wait(absl::Seconds(60)).has_value());
  // A worker's log names the jobs it runs: the check below that it does not run this one again.
  ASSERT_GT(Mentions(system.worker(0).Log(), done), 0);
  std::vector<std::string> waiting;
  for (int i = 0; i < 5; ++i) {
    waiting.push_back(
        SubmitJob(system.url(), image,
                  json::array({{{"op", "resize"}, {"width", 60 + i}}, {{"op", "grayscale"}}})));
  }
  // A SIGKILL right after an acknowledgement can lose a record (docs/reliability.md: a few ms).
  if (signal == SIGKILL) std::this_thread::sleep_for(std::chrono::milliseconds(500));

  const absl::Time stopped = absl::Now();
  ASSERT_NO_THROW(system.Restart(signal));
  const absl::Duration ready = absl::Now() - stopped;

  const json meta = Parse(HttpGet(system.url() + "/v1/images/" + image));
  EXPECT_EQ(meta.value("title", ""), title) << meta.dump();
  const json page = Parse(HttpGet(system.url() + "/v1/images?title=" + UrlEncode("kleiber")));
  EXPECT_EQ(page["items"].size(), 1u) << page.dump();

  const json finished = Parse(HttpGet(system.url() + "/v1/jobs/" + done));
  EXPECT_EQ(finished["status"].value("phase", ""), "Succeeded") << finished.dump();
  const HttpResponse again = HttpGet(system.url() + "/v1/jobs/" + done + "/output");
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body, output.body);

  int lost = 0;
  for (const std::string& id : waiting) {
    const json job = AwaitJob(system.url(), id, absl::Seconds(60));
    if (job["status"].value("phase", "") != "Succeeded") {
      ++lost;
      ADD_FAILURE() << id << ": " << job.dump();
    }
  }
  const int rerun = Mentions(system.worker(0).Log(), done) > 0 ? 1 : 0;
  EXPECT_EQ(rerun, 0) << "the finished job ran again";
  const std::string how = signal == SIGKILL ? "SIGKILL" : "SIGTERM";
  std::cout << how << " restart: ready again in " << Took(ready) << ", " << lost << " of "
            << waiting.size() << " waiting jobs lost\n";
  RecordFault({.fault = absl::StrCat("The whole local system ",
                                     signal == SIGKILL ? "killed (SIGKILL)" : "stopped (SIGTERM)",
                                     " and started again"),
               .injected = absl::StrCat(
                   "an image with a title and a finished job, then 5 jobs accepted with no worker "
                   "running; ",
                   how, signal == SIGKILL ? " to every process at once" : " to each in order",
                   ", then all started on the same data"),
               .jobs = static_cast<int>(waiting.size()) + 1,
               .lost = lost,
               .redeliveries = absl::StrCat(rerun,
                                            " finished jobs run again; the image, its title "
                                            "and the finished job's output kept"),
               .recovery = absl::StrCat("API ready ", Took(ready),
                                        " after the stop; the waiting jobs then Succeeded")});
}

TEST(RestartTest, StoppedWithSigtermTheSystemKeepsItsDataAndRunsTheWaitingJobs) {
  StopAndStartKeepsEverything(SIGTERM);
}

TEST(RestartTest, KilledWithSigkillTheSystemKeepsItsDataAndRunsTheWaitingJobs) {
  StopAndStartKeepsEverything(SIGKILL);
}

}  // namespace
}  // namespace pixq::testing
