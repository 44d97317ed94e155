// The API's table store (LMDB, state.dir) against the real processes: a replica killed with
// SIGKILL and started again on its store is ready with the same answers having read only the
// records after its stored offsets; a devbroker restart, which renumbers the topics' offsets,
// makes the API notice, read everything again and reach the same answers; a new replica with an
// empty store starts from the snapshot another wrote and reads only the records after it.

#include <csignal>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "tests/integration/photos.h"
#include "tests/support/figures.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/system.h"

namespace pixq::testing {
namespace {

using nlohmann::json;

std::string NumberedPng(int n) {
  cv::Mat image(10, 14, CV_8UC3, cv::Scalar(n % 256, (n / 256) % 256, 31));
  return Encoded(image, ".png");
}

std::string Upload(const std::string& api, int n) {
  HttpResponse r = HttpPost(api + "/v1/images?title=" + UrlEncode(absl::StrCat("Photo ", n)),
                            NumberedPng(n), "image/png");
  EXPECT_TRUE(r.status == 201 || r.status == 200) << r.status << " " << r.body;
  return json::parse(r.body, nullptr, false).value("id", "");
}

std::string Submit(const std::string& api, const std::string& image, int width) {
  HttpResponse r = HttpPost(api + "/v1/jobs",
                            absl::StrCat(R"({"source":{"imageId":")", image,
                                         R"("},"steps":[{"op":"resize","width":)", width, "}]}"),
                            "application/json");
  EXPECT_EQ(r.status, 202) << r.body;
  return json::parse(r.body, nullptr, false)["metadata"].value("id", "");
}

// What a client sees of the tables: every image (id, title) and every job (id, phase), and the
// ?phase= and ?title= listings.
std::string Answers(const std::string& api) {
  std::string out;
  for (const std::string& path :
       {std::string("/v1/images?limit=1000"), std::string("/v1/images?limit=1000&title=photo%201"),
        std::string("/v1/jobs?limit=1000"), std::string("/v1/jobs?limit=1000&phase=Pending"),
        std::string("/v1/jobs?limit=1000&phase=Succeeded,Failed")}) {
    HttpResponse r = HttpGet(api + path);
    EXPECT_EQ(r.status, 200) << path << " " << r.body;
    const json page = json::parse(r.body, nullptr, false);
    absl::StrAppend(&out, path, ":");
    for (const json& item : page.value("items", json::array())) {
      if (item.contains("status")) {
        absl::StrAppend(&out, " ", item["metadata"].value("id", ""), "=",
                        item["status"].value("phase", ""));
      } else {
        absl::StrAppend(&out, " ", item.value("id", ""), "=", item.value("title", ""));
      }
    }
    absl::StrAppend(&out, "\n");
  }
  return out;
}

struct Replica {
  std::unique_ptr<Process> process;
  std::string url;
  absl::Duration ready_after;
};

// Another pixq-api on the system's broker and volume, with its table store in `state_dir`.
Replica StartReplica(System& system, const std::string& state_dir, const std::string& name,
                     const std::map<std::string, std::string>& more_env = {}) {
  std::map<std::string, std::string> env = system.Env();
  env["PIXQ_HTTP_PORT"] = "0";
  env["PIXQ_STATE_DIR"] = state_dir;
  for (const auto& [k, v] : more_env) env[k] = v;
  Replica replica;
  const absl::Time start = absl::Now();
  replica.process =
      Process::Start({BinaryDir() + "/cmd/api/pixq-api"}, env, system.root() + "/" + name + ".log");
  int port = 0;
  EXPECT_TRUE(Eventually(
      [&] {
        for (const json& line : System::LogLines(*replica.process, "pixq-api listening")) {
          port = line.value("port", 0);
        }
        return port != 0;
      },
      absl::Seconds(30)))
      << replica.process->Log();
  replica.url = "http://127.0.0.1:" + std::to_string(port);
  EXPECT_TRUE(Eventually([&] { return HttpGet(replica.url + "/readyz", {}, 2000).status == 200; },
                         absl::Seconds(60)))
      << replica.process->Log();
  replica.ready_after = absl::Now() - start;
  return replica;
}

// The "state tables caught up" line: records read from Kafka since start, whether rebuilt.
json CaughtUp(const Process& process) {
  json last;
  EXPECT_TRUE(Eventually(
      [&] {
        for (const json& line : System::LogLines(process, "state tables caught up")) last = line;
        return !last.is_null();
      },
      absl::Seconds(10)))
      << process.Log();
  return last;
}

TEST(StateStoreTest, AReplicaKilledAndRestartedResumesFromItsStore) {
  System system(SystemOptions{.partitions = 2, .workers = 0});
  const std::string api = system.url();
  std::vector<std::string> images;
  for (int i = 0; i < 20; ++i) images.push_back(Upload(api, i));
  for (int i = 0; i < 100; ++i) Submit(api, images[i % images.size()], 10 + i);

  const std::string state = system.root() + "/state-a";
  Replica first = StartReplica(system, state, "replica-a");
  EXPECT_EQ(Answers(first.url), Answers(api));
  EXPECT_EQ(CaughtUp(*first.process).value("records_read", -1), 120);

  first.process->Signal(SIGKILL);
  first.process->Wait(absl::Seconds(10));
  for (int i = 0; i < 10; ++i) Submit(api, images[i], 500 + i);

  Replica again = StartReplica(system, state, "replica-a2");
  const json caught_up = CaughtUp(*again.process);
  std::cout << "restarted on its store: ready after " << absl::FormatDuration(again.ready_after)
            << ", read " << caught_up.value("records_read", -1) << " records (" << caught_up.dump()
            << ")\n";
  EXPECT_FALSE(caught_up.value("rebuilt", true));
  // Only what was sent after the kill (10 Pending records), not the 120 before it.
  EXPECT_EQ(caught_up.value("records_read", -1), 10);
  const bool same = Answers(again.url) == Answers(api);
  EXPECT_TRUE(same);
  RecordFault(
      {.fault = "An API replica killed (SIGKILL) and started again on its table store",
       .injected = "SIGKILL to a pixq-api replica holding 20 images and 100 jobs in its "
                   "store (state.dir); 10 more jobs submitted to another replica; the "
                   "replica started again on the same directory",
       .jobs = 110,
       .lost = same ? 0 : 110,
       .redeliveries = absl::StrCat(caught_up.value("records_read", -1),
                                    " records read from Kafka at the restart (the ones "
                                    "after its stored offsets); answers ",
                                    same ? "the same" : "DIFFERENT", " as the other replica's"),
       .recovery = absl::StrCat("ready ", Took(again.ready_after), " after the start")});
  again.process->Signal(SIGTERM);
  again.process->Wait(absl::Seconds(30));
}

TEST(StateStoreTest, ANewReplicaStartsFromASnapshotAndReadsOnlyTheTail) {
  System system(SystemOptions{.partitions = 2, .workers = 0});
  const std::string api = system.url();
  std::vector<std::string> images;
  for (int i = 0; i < 20; ++i) images.push_back(Upload(api, i));
  for (int i = 0; i < 100; ++i) Submit(api, images[i % images.size()], 10 + i);

  // A replica that writes a snapshot every second to the shared volume, stopped after its first.
  Replica writer = StartReplica(system, system.root() + "/state-writer", "replica-writer",
                                {{"PIXQ_STATE_SNAPSHOT_INTERVAL_S", "1"}});
  EXPECT_TRUE(Eventually(
      [&] { return !System::LogLines(*writer.process, "state snapshot written").empty(); },
      absl::Seconds(30)))
      << writer.process->Log();
  writer.process->Signal(SIGTERM);
  writer.process->Wait(absl::Seconds(30));
  for (int i = 0; i < 10; ++i) Submit(api, images[i], 500 + i);

  // A new replica: an empty state directory, the default interval (it does not write meanwhile).
  Replica fresh = StartReplica(system, system.root() + "/state-new", "replica-new");
  const std::vector<json> restored =
      System::LogLines(*fresh.process, "state store restored from a snapshot");
  ASSERT_EQ(restored.size(), 1u) << fresh.process->Log();
  EXPECT_EQ(restored[0].value("records", -1), 120);
  const json caught_up = CaughtUp(*fresh.process);
  std::cout << "new replica from a snapshot: ready after "
            << absl::FormatDuration(fresh.ready_after) << ", read "
            << caught_up.value("records_read", -1) << " records (" << caught_up.dump() << ")\n";
  EXPECT_FALSE(caught_up.value("rebuilt", true));
  // Only the 10 Pending records sent after the snapshot, not the 120 in it.
  EXPECT_EQ(caught_up.value("records_read", -1), 10);
  const bool same = Answers(fresh.url) == Answers(api);
  EXPECT_TRUE(same);
  RecordFault(
      {.fault = "A new API replica (empty store) started from a snapshot on the shared volume",
       .injected =
           "a replica wrote a snapshot of 20 images and 100 jobs (state.snapshot_interval_s "
           "1) and stopped; 10 more jobs submitted; a new replica started on an empty "
           "state.dir",
       .jobs = 110,
       .lost = same ? 0 : 110,
       .redeliveries =
           absl::StrCat(restored[0].value("records", -1), " records from the snapshot, ",
                        caught_up.value("records_read", -1),
                        " read from Kafka (the tail after its offsets); answers ",
                        same ? "the same" : "DIFFERENT", " as the other replica's"),
       .recovery = absl::StrCat("ready ", Took(fresh.ready_after), " after the start")});
  fresh.process->Signal(SIGTERM);
  fresh.process->Wait(absl::Seconds(30));
}

TEST(StateStoreTest, ADevbrokerRestartThatRenumbersMakesTheApiReadEverythingAgain) {
  TempDir state;
  System system(SystemOptions{
      .partitions = 2, .workers = 0, .env = {{"PIXQ_STATE_DIR", state.path() + "/api"}}});
  const std::string api = system.url();
  std::vector<std::string> images;
  for (int i = 0; i < 6; ++i) {
    images.push_back(Upload(api, 100 + i));
    Submit(api, images.back(), 20 + i);
  }
  // Two records for each deleted image (its metadata and its tombstone), of which the restore
  // keeps the last, so the restored partitions are numbered anew.
  for (int i : {0, 1, 2}) {
    HttpResponse r = HttpDelete(api + "/v1/images/" + images[i]);
    ASSERT_TRUE(r.status == 200 || r.status == 204) << r.status << " " << r.body;
  }
  const std::string before = Answers(api);

  const absl::Time stopped = absl::Now();
  system.Restart(SIGTERM);
  const absl::Duration ready = absl::Now() - stopped;
  const json caught_up = CaughtUp(system.api());
  std::cout << "after the devbroker's restore: " << caught_up.dump() << "\n";
  EXPECT_TRUE(caught_up.value("rebuilt", false)) << system.api().Log();
  EXPECT_FALSE(System::LogLines(system.api(),
                                "state tables do not match the topics; reading "
                                "them again")
                   .empty());
  const bool same = Answers(system.url()) == before;
  EXPECT_TRUE(same);
  RecordFault({.fault = "The local broker restarted, renumbering its offsets, under an API with a "
                        "table store",
               .injected = "6 images (3 of them deleted: a record and a tombstone each) and 6 "
                           "jobs; every process stopped with SIGTERM and started again on the "
                           "same data and state.dir",
               .jobs = 6,
               .lost = same ? 0 : 6,
               .redeliveries = absl::StrCat(
                   "the API found its stored offsets outside the restored topics, cleared its "
                   "store and read ",
                   caught_up.value("records_read", -1), " records again; answers ",
                   same ? "the same" : "DIFFERENT", " as before"),
               .recovery = absl::StrCat("API ready ", Took(ready), " after the stop")});
}

}  // namespace
}  // namespace pixq::testing
