// A backlog larger than the topic keeps, against the real processes: librdkafka's mock cluster
// deletes the oldest records of a partition beyond 5 MiB, consumed or not. With no worker running,
// more jobs than that are submitted; the API refuses them (503 BacklogFull with Retry-After) before
// the room is full; then a worker starts and every job that got a 202 must end Succeeded: none was
// deleted before it ran.
//
// The room is configured smaller than the mock's (kafka.partition_room_bytes, 1 MiB): each job's
// status records (Pending, Running, Succeeded, each carrying the spec) go to pixq.job-status, whose
// partition the mock cuts at 5 MiB too, three times as fast; at the mock's full 5 MiB of jobs it
// would delete status records before the API's table reader got to them (see the report on
// issue 16). Here the jobs stay within 1 MiB and their statuses within the mock's 5 MiB.

#include <algorithm>
#include <chrono>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "tests/support/figures.h"
#include "tests/support/http_client.h"
#include "tests/support/system.h"

namespace pixq::testing {
namespace {

using nlohmann::json;

// The local broker's room per partition (pkg/queue/capacity.h, kLocalBrokerRoom), and the
// tighter one the API is given.
constexpr int64_t kLocalBrokerBytes = int64_t{5} << 20;
constexpr int64_t kRoomBytes = int64_t{1} << 20;

std::string Png(int width, int height, int shade) {
  std::vector<uchar> png;
  cv::imencode(".png", cv::Mat(height, width, CV_8UC3, cv::Scalar(shade, 60, 90)), png);
  return std::string(png.begin(), png.end());
}

TEST(BacklogTest, RefusesNewJobsBeforeTheLocalBrokerWouldDeleteAcceptedOnesAndRunsEveryOne) {
  // One partition and no worker: the backlog only grows, and all of it in one place.
  System system(
      SystemOptions{.partitions = 1,
                    .workers = 0,
                    .env = {{"PIXQ_KAFKA_PARTITION_ROOM_BYTES", std::to_string(kRoomBytes)}}});
  const std::string url = system.url();
  HttpResponse upload = HttpPost(url + "/v1/images", Png(16, 12, 30), "image/png");
  ASSERT_EQ(upload.status, 201) << upload.body;
  const std::string image = json::parse(upload.body)["id"];

  // Small work, large records: 32 labels of 256 characters make each job about 9 KB on the
  // topic, so that the room is some 110 jobs and the test runs in seconds.
  json labels = json::object();
  for (int i = 0; i < 32; ++i) labels[absl::StrCat("label", i)] = std::string(256, 'a' + i % 26);
  const json spec = {{"source", {{"imageId", image}}},
                     {"steps", json::array({{{"op", "resize"}, {"width", 8}}})},
                     {"output", {{"format", "png"}}},
                     {"labels", labels}};
  const std::string body = spec.dump();
  auto submit = [&] { return HttpPost(url + "/v1/jobs", body, "application/json"); };

  // Submit more than the mock's 5 MiB, and on until twenty in a row are refused.
  const int max_attempts =
      static_cast<int>(3 * kLocalBrokerBytes / static_cast<int64_t>(body.size()));
  std::vector<std::string> accepted;
  int refused_in_a_row = 0;
  int refused = 0;
  int attempts = 0;
  std::string retry_after;
  const absl::Time start = absl::Now();
  while (attempts < max_attempts &&
         (attempts * static_cast<int64_t>(body.size()) <= kLocalBrokerBytes ||
          refused_in_a_row < 20)) {
    ++attempts;
    HttpResponse r = submit();
    if (r.status == 202) {
      accepted.push_back(json::parse(r.body)["metadata"]["id"]);
      refused_in_a_row = 0;
      continue;
    }
    ASSERT_EQ(r.status, 503) << r.body;
    ASSERT_EQ(json::parse(r.body, nullptr, false).value("reason", ""), "BacklogFull") << r.body;
    retry_after = r.Header("retry-after");
    int64_t seconds = 0;
    EXPECT_TRUE(absl::SimpleAtoi(retry_after, &seconds) && seconds >= 1) << retry_after;
    ++refused;
    ++refused_in_a_row;
  }
  const absl::Duration submitting = absl::Now() - start;
  ASSERT_GE(refused_in_a_row, 20) << "never refused after " << attempts << " submissions, "
                                  << accepted.size() << " accepted";
  // Refused before the room was full, and not absurdly early.
  const int64_t accepted_bytes = static_cast<int64_t>(accepted.size() * body.size());
  EXPECT_LT(accepted_bytes, kRoomBytes) << accepted.size() << " jobs accepted";
  EXPECT_GT(accepted_bytes, kRoomBytes / 2) << accepted.size() << " jobs accepted";

  // Once the admission has read the log again it still refuses, while nothing drains, with the
  // longest hint. (Its projection may have refused a job or two that the log, read again, still
  // has room for: those are accepted now, up to the mark.)
  HttpResponse later;
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    later = submit();
    if (later.status != 202) break;
    accepted.push_back(json::parse(later.body)["metadata"]["id"]);
  }
  EXPECT_EQ(later.status, 503) << later.body;
  EXPECT_EQ(later.Header("retry-after"), "30") << "nothing drains while no worker runs";
  // Uploads and reads go on.
  HttpResponse other = HttpPost(url + "/v1/images", Png(20, 10, 200), "image/png");
  EXPECT_EQ(other.status, 201) << other.body;
  EXPECT_EQ(HttpGet(url + "/v1/jobs/" + accepted.front()).status, 200);
  const std::string metrics = HttpGet(url + "/metrics").body;
  EXPECT_NE(metrics.find("pixq_admission_refusing 1"), std::string::npos);

  // A worker comes: every accepted job runs, the oldest included.
  const absl::Time worker_at = absl::Now();
  system.AddWorker();
  int lost = 0;
  const absl::Time deadline = absl::Now() + absl::Minutes(3);
  for (const std::string& id : accepted) {
    const json job = AwaitJob(url, id, std::max(deadline - absl::Now(), absl::Seconds(1)));
    if (job["status"]["phase"] != "Succeeded") {
      ++lost;
      if (lost <= 5) ADD_FAILURE() << id << ": " << job["status"].dump();
    }
  }
  const absl::Duration draining = absl::Now() - worker_at;
  EXPECT_EQ(lost, 0);

  // Drained below the low-water mark (once the worker's offsets are committed): admitted again.
  // Another spec: the one above has an output now, and would be answered from it.
  json fresh = spec;
  fresh["steps"][0]["width"] = 9;
  const absl::Time drained_at = absl::Now();
  ASSERT_TRUE(Eventually(
      [&] { return HttpPost(url + "/v1/jobs", fresh.dump(), "application/json").status == 202; },
      absl::Seconds(60)))
      << [&] {
           const std::string log = system.api().Log();
           return log.substr(log.size() > 6000 ? log.size() - 6000 : 0);
         }();
  const absl::Duration reopened = absl::Now() - drained_at;

  std::cout << "backlog: " << accepted.size() << " jobs accepted (" << accepted_bytes
            << " bytes of spec) and " << refused << " refused in " << Took(submitting)
            << "; all ran in " << Took(draining) << " after a worker started; admitted again "
            << Took(reopened) << " after they had\n";
  RecordFault(
      {.fault = "A backlog larger than the topic keeps",
       .injected = absl::StrCat(
           "no worker; ", attempts, " jobs of ", body.size() / 1024,
           " KB (more than the 5 MiB the local broker keeps per partition) submitted one after "
           "another to a 1-partition pixq.jobs, the API given a room of 1 MiB"),
       .jobs = static_cast<int>(accepted.size()),
       .lost = lost,
       .redeliveries = absl::StrCat(
           refused, " answered 503 BacklogFull after ", accepted.size(),
           " were accepted: Retry-After ", retry_after,
           " s while the API counted its own submissions since its last read of the log, ",
           later.Header("retry-after"), " s once it read the log again and nothing drained"),
       .recovery =
           absl::StrCat("a worker started: every accepted job Succeeded ", Took(draining),
                        " later; new jobs admitted again ", Took(reopened), " after that")});
}

}  // namespace
}  // namespace pixq::testing
