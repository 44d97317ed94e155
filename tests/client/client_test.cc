#include "pkg/client/client.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pkg/client/commands.h"
#include "pkg/client/progress.h"
#include "pkg/errors/errors.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_transport.h"
#include "tests/support/origin.h"
#include "tests/support/process.h"

namespace pixq::client {
namespace {

using nlohmann::json;

// A clock whose sleeps pass at once, counted.
class SteppingClock final : public clock::Clock {
 public:
  absl::Time Now() const override { return now_; }
  bool AwaitWithDeadline(absl::Mutex&, const absl::Condition& cond, absl::Time) override {
    return cond.Eval();
  }
  void SleepUntil(absl::Time deadline) override {
    slept.push_back(deadline - now_);
    now_ = deadline;
  }
  std::vector<absl::Duration> slept;

 private:
  absl::Time now_ = absl::FromUnixSeconds(1'800'000'000);
};

HttpAnswer Answer(int status, const json& body, HeaderList headers = {}) {
  return {.status = status,
          .body = body.dump(),
          .content_type = "application/json",
          .headers = std::move(headers)};
}

json JobIn(const std::string& phase, const std::string& reason = "") {
  json status = {{"phase", phase}, {"attempts", 1}};
  if (!reason.empty()) {
    status["reason"] = reason;
    status["message"] = "why";
  }
  return {{"metadata", {{"id", "j_1"}}}, {"status", status}};
}

TEST(ClientTest, WaitsAsToldUnderBackpressureAndSendsAgain) {
  int calls = 0;
  testing::FakeTransport transport([&](const HttpCall&) -> absl::StatusOr<HttpAnswer> {
    if (++calls < 3) {
      return Answer(429, {{"reason", "BacklogFull"}, {"detail", "later"}}, {{"retry-after", "7"}});
    }
    return Answer(202, {{"metadata", {{"id", "b_1"}}}});
  });
  SteppingClock clock;
  Client client(transport, clock);
  absl::StatusOr<json> batch = client.CreateBatch({{"images", {"a"}}}, "k");
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(clock.slept, (std::vector<absl::Duration>{absl::Seconds(7), absl::Seconds(7)}));
  EXPECT_EQ(transport.calls()[2].headers[0],
            (std::pair<std::string, std::string>("Idempotency-Key", "k")));
}

TEST(ClientTest, TurnsProblemAnswersIntoTheirReasons) {
  testing::FakeTransport transport([](const HttpCall&) -> absl::StatusOr<HttpAnswer> {
    return Answer(409, {{"reason", "JobNotFailed"}, {"detail", "the job is Succeeded"}});
  });
  SteppingClock clock;
  Client client(transport, clock);
  absl::StatusOr<json> job = client.Retry("j_1");
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(errors::ReasonOf(job.status()), "JobNotFailed");
  EXPECT_EQ(job.status().message(), "the job is Succeeded");
  EXPECT_EQ(transport.calls()[0].method, "POST");
  EXPECT_EQ(transport.calls()[0].path, "/v1/jobs/j_1/retry");
  EXPECT_TRUE(clock.slept.empty()) << "only 429 and 503 with Retry-After are sent again";
}

TEST(ClientTest, LongPollsUntilTheJobEnds) {
  std::vector<std::string> phases = {"Pending", "Running", "Succeeded"};
  size_t at = 0;
  testing::FakeTransport transport([&](const HttpCall&) -> absl::StatusOr<HttpAnswer> {
    return Answer(200, JobIn(phases[std::min(at++, phases.size() - 1)]));
  });
  SteppingClock clock;
  Client client(transport, clock, {.poll_wait = absl::Seconds(20)});
  absl::StatusOr<json> job = client.AwaitEnd("j_1");
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(PhaseOf(*job), "Succeeded");
  ASSERT_EQ(transport.calls().size(), 3u);
  EXPECT_EQ(transport.calls()[0].path, "/v1/jobs/j_1?wait=20000ms&until=done");
}

TEST(ClientTest, EscapesWhatGoesIntoPathsAndQueries) {
  testing::FakeTransport transport([](const HttpCall&) -> absl::StatusOr<HttpAnswer> {
    return Answer(200, {{"items", json::array()}, {"nextPageToken", nullptr}});
  });
  SteppingClock clock;
  Client client(transport, clock);
  ASSERT_TRUE(client.ListJobs("Failed,Pending", 10, "a/b=").ok());
  EXPECT_EQ(transport.calls()[0].path,
            "/v1/jobs?limit=10&phase=Failed%2CPending&pageToken=a%2Fb%3D");
  (void)client.GetJob("../images", absl::ZeroDuration(), false);
  EXPECT_EQ(transport.calls()[1].path, "/v1/jobs/..%2Fimages");
}

TEST(CurlTransportTest, SendsTheKeyAsABearerTokenAndStreamsUploads) {
  testing::TempDir dir;
  const std::string photo = dir.path() + "/a.jpg";
  { std::ofstream(photo, std::ios::binary) << "IMGDATA"; }
  testing::Origin origin([](const testing::OriginRequest&) {
    return testing::OriginReply{
        .status = 201, .headers = {{"Content-Type", "application/json"}}, .body = R"({"id":"x"})"};
  });
  CurlTransport transport(origin.url() + "/", "s3cret");
  absl::StatusOr<HttpAnswer> answer = transport.Send(
      {.method = "POST", .path = "/v1/images", .upload_file = photo, .fields = {{"title", "T"}}});
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(answer->status, 201);
  EXPECT_EQ(answer->Header("content-type"), "application/json");
  ASSERT_EQ(origin.requests().size(), 1u);
  const testing::OriginRequest sent = origin.requests()[0];
  EXPECT_EQ(sent.target, "/v1/images");
  EXPECT_EQ(sent.headers.at("authorization"), "Bearer s3cret");
  EXPECT_NE(sent.body.find("IMGDATA"), std::string::npos);
  EXPECT_NE(sent.body.find(R"(name="title")"), std::string::npos);
}

TEST(CommandsTest, WatchPrintsEachChangeAndFailsWithTheJob) {
  std::vector<json> answers = {JobIn("Pending"), JobIn("Pending"), JobIn("Running"),
                               JobIn("Failed", "CorruptImage")};
  size_t at = 0;
  testing::FakeTransport transport(
      [&](const HttpCall&) -> absl::StatusOr<HttpAnswer> { return Answer(200, answers[at++]); });
  SteppingClock clock;
  Client client(transport, clock);
  std::ostringstream out, err;
  EXPECT_EQ(WatchCommand(client, "j_1", out, err), 1);
  EXPECT_EQ(out.str(),
            "j_1  Pending  attempts 1\n"
            "j_1  Running  attempts 1\n"
            "j_1  Failed  attempts 1  CorruptImage: why\n");
}

TEST(CommandsTest, GetWaitsThenWritesTheOutputOrSaysWhyNot) {
  testing::FakeTransport transport([](const HttpCall& call) -> absl::StatusOr<HttpAnswer> {
    if (call.path.find("/output") != std::string::npos) return HttpAnswer{.status = 200};
    json job = JobIn(call.path.find("j_bad") != std::string::npos ? "Failed" : "Succeeded",
                     call.path.find("j_bad") != std::string::npos ? "CorruptImage" : "");
    job["status"]["output"] = {{"bytes", 41}, {"width", 8}, {"height", 6}};
    return Answer(200, job);
  });
  SteppingClock clock;
  Client client(transport, clock);
  std::ostringstream out, err;
  EXPECT_EQ(GetCommand(client, "j_ok", "/tmp/x.webp", out, err), 0);
  EXPECT_EQ(out.str(), "wrote /tmp/x.webp (41 bytes, 8x6)\n");
  EXPECT_EQ(transport.calls().back().output_file, "/tmp/x.webp");
  EXPECT_EQ(GetCommand(client, "j_bad", "/tmp/y.webp", out, err), 1);
  EXPECT_NE(err.str().find("Failed  attempts 1  CorruptImage: why"), std::string::npos)
      << err.str();
}

TEST(CommandsTest, JobsListsATableAndRetrySaysWhatItDid) {
  testing::FakeTransport transport([](const HttpCall& call) -> absl::StatusOr<HttpAnswer> {
    if (call.method == "POST") {
      json job = JobIn("Pending", "SourceUnavailable");
      job["status"]["retries"] = 1;
      return Answer(202, job);
    }
    json job = JobIn("Failed", "CorruptImage");
    job["metadata"]["createdAt"] = "2026-12-07T10:00:00.000Z";
    return Answer(200, {{"items", json::array({job})}, {"nextPageToken", "next"}});
  });
  SteppingClock clock;
  Client client(transport, clock);
  std::ostringstream out, err;
  EXPECT_EQ(JobsCommand(client, "Failed", 1, out, err), 0);
  EXPECT_NE(out.str().find("j_1                          Failed     1        "
                           "2026-12-07T10:00:00.000Z CorruptImage"),
            std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("(more"), std::string::npos);
  std::ostringstream retried;
  EXPECT_EQ(RetryCommand(client, "j_1", retried, err), 0);
  EXPECT_EQ(retried.str(), "j_1  Pending  attempts 1  retries 1  SourceUnavailable: why\n");
}

TEST(ProgressTest, ShowsCountsRateAndEta) {
  EXPECT_EQ(StatusLine("process", 0, 0, 200, absl::ZeroDuration(), 10),
            "process [..........] 0/200");
  EXPECT_EQ(StatusLine("process", 50, 2, 200, absl::Seconds(10), 10),
            "process [##........] 50/200  2 failed  5.0/s  ETA 0:30");
  EXPECT_EQ(StatusLine("upload", 200, 0, 200, absl::Seconds(40), 10),
            "upload [##########] 200/200  5.0/s");
  EXPECT_EQ(Elapsed(absl::Seconds(3723)), "1:02:03");
}

TEST(ProgressTest, RedrawsOneLineOnATerminalAndKeepsFailuresAbove) {
  testing::FakeClock clock;
  std::ostringstream out;
  Progress progress(out, /*terminal=*/true, clock);
  progress.Begin("process", 2);
  clock.Advance(absl::Seconds(1));
  progress.Step(false, "a.jpg -> out/a.webp");
  progress.Step(true, "b.jpg: CorruptImage: why");
  progress.End();
  EXPECT_EQ(out.str(),
            "\r\033[Kprocess [..............................] 0/2"
            "\r\033[Kprocess [###############...............] 1/2  1.0/s  ETA 0:01"
            "\r\033[Kb.jpg: CorruptImage: why\n"
            "\r\033[Kprocess [##############################] 2/2  1 failed  2.0/s"
            "\r\033[Kprocess [##############################] 2/2  1 failed  2.0/s\n");
}

}  // namespace
}  // namespace pixq::client
