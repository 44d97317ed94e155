// pkg/http's routes over a real socket on 127.0.0.1 (port 0), with the service on fakes: the
// request limits, problem+json answers, long-polls and file serving, without Kafka.

#include "pkg/http/server.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <opencv2/imgcodecs.hpp>
#include <sys/socket.h>
#include <unistd.h>

#include "pkg/crypto/sha256.h"
#include "pkg/errors/errors.h"
#include "pkg/job/json.h"
#include "pkg/storage/volume.h"
#include "tests/fakes/fake_producer.h"
#include "tests/http/server_fixture.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"

namespace pixq::http {
namespace {

using nlohmann::json;
using testing::HttpGet;
using testing::HttpPost;
using testing::HttpPostForm;
using testing::HttpResponse;

class ServerTest : public ServerFixture {
 protected:
  void ExpectProblem(const HttpResponse& r, long status, const std::string& reason) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.Header("content-type"), "application/problem+json");
    json body = json::parse(r.body, nullptr, false);
    EXPECT_EQ(body.value("reason", ""), reason) << r.body;
    EXPECT_EQ(body.value("status", 0), status) << r.body;
    EXPECT_EQ(body.value("type", ""), "urn:pixq:problem:" + reason);
  }

  std::string Upload() {
    HttpResponse r = HttpPost(url_ + "/v1/images", Png(30, 20), "image/png");
    EXPECT_EQ(r.status, 201) << r.body;
    Apply();
    return json::parse(r.body)["id"];
  }

  // A job on a new upload, Pending in the table: its id.
  std::string SubmitJob() {
    const std::string image = Upload();
    HttpResponse created = HttpPost(
        url_ + "/v1/jobs", json{{"source", {{"imageId", image}}}}.dump(), "application/json");
    EXPECT_EQ(created.status, 202) << created.body;
    EXPECT_FALSE(created.Header("location").empty());
    Apply();
    return json::parse(created.body)["metadata"]["id"];
  }
};

TEST_F(ServerTest, AnswersTheProbes) {
  EXPECT_EQ(HttpGet(url_ + "/healthz").status, 200);
  EXPECT_EQ(HttpGet(url_ + "/health").body, "OK");
  EXPECT_EQ(HttpGet(url_ + "/readyz").status, 200);
  ready_ = errors::Make(errors::Reason::kNotReady, "loading");
  HttpResponse not_ready = HttpGet(url_ + "/readyz");
  ExpectProblem(not_ready, 503, "NotReady");
  EXPECT_EQ(not_ready.Header("retry-after"), "1");
}

// A TCP connection to the server under test (127.0.0.1), for what libcurl hides: which requests
// share a connection.
class RawConnection {
 public:
  explicit RawConnection(int port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    connected_ = fd_ >= 0 && connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    timeval timeout{.tv_sec = 10, .tv_usec = 0};
    if (connected_) setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  }
  ~RawConnection() {
    if (fd_ >= 0) close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  [[nodiscard]] bool connected() const { return connected_; }

  // Sends `request` whole and reads one answer: its status line and headers (lowercased), and a
  // body of its Content-Length. Empty when the connection ended or timed out first.
  std::string Exchange(const std::string& request) { return Send(request) ? Receive() : ""; }

  bool Send(const std::string& bytes) {
    return send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }

  // One answer, as Exchange reads it.
  std::string Receive() {
    std::string got;
    size_t body_at = std::string::npos;
    size_t length = 0;
    char buffer[4096];
    while (body_at == std::string::npos || got.size() < body_at + length) {
      const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) return "";
      got.append(buffer, static_cast<size_t>(n));
      if (body_at != std::string::npos) continue;
      const size_t end = got.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      body_at = end + 4;
      std::transform(got.begin(), got.begin() + static_cast<ptrdiff_t>(end), got.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      const size_t field = got.find("content-length:");
      if (field < end) length = std::stoul(got.substr(field + 15));
    }
    return got;
  }

 private:
  int fd_;
  bool connected_ = false;
};

TEST_F(ServerTest, KeepsHttp11ConnectionsOpenUnlessTheClientAsksToClose) {
  // HTTP/1.1 without a Connection header: the connection persists (RFC 9112, section 9.3), so
  // the second request goes over the same one.
  RawConnection connection(server_->port());
  ASSERT_TRUE(connection.connected());
  for (int i = 0; i < 2; ++i) {
    const std::string answer =
        connection.Exchange("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    EXPECT_TRUE(answer.starts_with("http/1.1 200")) << i << ": " << answer;
    EXPECT_NE(answer.find("connection: keep-alive\r\n"), std::string::npos) << answer;
  }
  // Asked to close, or HTTP/1.0 without asking to keep it: the answer says it closes.
  const std::string closing =
      connection.Exchange("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  EXPECT_NE(closing.find("connection: close\r\n"), std::string::npos) << closing;
  RawConnection old(server_->port());
  ASSERT_TRUE(old.connected());
  const std::string answer = old.Exchange("GET /healthz HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(answer.starts_with("http/1.0 200")) << answer;
  EXPECT_NE(answer.find("connection: close\r\n"), std::string::npos) << answer;
}

// A PNG of noise: it does not compress, so its size is about width * height * 3 bytes.
std::string NoisePng(int width, int height) {
  cv::Mat pixels(height, width, CV_8UC3);
  cv::randu(pixels, cv::Scalar::all(0), cv::Scalar::all(256));
  std::vector<uchar> out;
  cv::imencode(".png", pixels, out);
  return std::string(out.begin(), out.end());
}

TEST_F(ServerTest, HashesAnUploadWhileItArrivesOneRequestAtATime) {
  // Uploads on one connection, raw and multipart (a field before the image), each sent in pieces
  // and each many times larger than the 4 KiB Pistache reads at a time, so that the server reads
  // each body in several chunks and hashes the image as it grows: each gets its own image's
  // SHA-256 as its id (nothing of one carries over to the next).
  RawConnection connection(server_->port());
  ASSERT_TRUE(connection.connected());
  const std::vector<std::string> pngs = {NoisePng(120, 80), NoisePng(80, 120), NoisePng(100, 70),
                                         NoisePng(70, 100)};
  for (size_t i = 0; i < pngs.size(); ++i) {
    const std::string& png = pngs[i];
    std::string type = "image/png";
    std::string body = png;
    if (i % 2 == 1) {
      std::tie(body, type) = testing::MultipartBody(
          {{.name = "title", .data = "Sea"},
           {.name = "image", .data = png, .filename = "sea.png", .content_type = "image/png"}});
    }
    ASSERT_TRUE(connection.Send(absl::StrCat("POST /v1/images HTTP/1.1\r\nHost: 127.0.0.1\r\n",
                                             "Content-Type: ", type,
                                             "\r\nContent-Length: ", body.size(), "\r\n\r\n")));
    const size_t third = body.size() / 3;
    ASSERT_GT(third, size_t{4096}) << "each piece should take the server more than one read";
    for (size_t at = 0; at < body.size(); at += third) {
      ASSERT_TRUE(connection.Send(body.substr(at, third)));
    }
    const std::string answer = connection.Receive();
    ASSERT_TRUE(answer.starts_with("http/1.1 201")) << i << ": " << answer;
    const json image = json::parse(answer.substr(answer.find("\r\n\r\n") + 4));
    EXPECT_EQ(image["id"], crypto::Sha256Hex(png)) << i;
    EXPECT_EQ(image["bytes"], png.size()) << i;
  }
}

TEST_F(ServerTest, TakesMultipartAndRawUploads) {
  HttpResponse form = HttpPostForm(
      url_ + "/v1/images",
      {{.name = "image", .data = Png(30, 20), .filename = "a.png", .content_type = "image/png"},
       {.name = "title", .data = "A"}});
  ASSERT_EQ(form.status, 201) << form.body;
  json meta = json::parse(form.body);
  EXPECT_EQ(meta["title"], "A");
  EXPECT_EQ(meta["filename"], "a.png");
  EXPECT_EQ(meta["width"], 30);
  EXPECT_EQ(form.Header("location"), "/v1/images/" + meta["id"].get<std::string>());
  HttpResponse raw = HttpPost(url_ + "/v1/images?title=B", Png(31, 20), "image/png");
  ASSERT_EQ(raw.status, 201) << raw.body;
  EXPECT_EQ(json::parse(raw.body)["title"], "B");
}

TEST_F(ServerTest, RefusesBadUploads) {
  ExpectProblem(HttpPost(url_ + "/v1/images", "plain text", "text/plain"), 415,
                "UnsupportedMediaType");
  ExpectProblem(HttpPost(url_ + "/v1/images", "", "image/png"), 400, "EmptyBody");
  ExpectProblem(HttpPostForm(url_ + "/v1/images", {{.name = "other", .data = "x"}}), 400,
                "MissingImage");
  ExpectProblem(HttpPost(url_ + "/v1/images", std::string((1 << 20) + 10, 'x'), "image/png"), 413,
                "PayloadTooLarge");
}

// Held: Kafka has the records but has not acknowledged them yet.
size_t HeldStatusRecords(const testing::FakeProducer& producer, const std::string& topic,
                         size_t want) {
  return producer.AwaitSentTo(topic, want).size();
}

TEST_F(ServerTest, SubmissionsWaitForKafkaWithoutHoldingAnHttpThread) {
  const std::string id = Upload();
  const std::string status_topic = service_->options().topics.job_status;
  producer_.Hold();
  // Twice as many submissions as the server has HTTP threads, all waiting for Kafka at once.
  constexpr int kSubmissions = 4;
  std::vector<HttpResponse> answers(kSubmissions);
  std::vector<std::thread> clients;
  for (int i = 0; i < kSubmissions; ++i) {
    clients.emplace_back([&, i] {
      // Each a job of its own (another quality), so none is a cache hit.
      const json spec = {{"source", {{"imageId", id}}},
                         {"output", {{"format", "jpeg"}, {"quality", 50 + i}}}};
      answers[i] = HttpPost(url_ + "/v1/jobs", spec.dump(), "application/json");
    });
  }
  EXPECT_EQ(HeldStatusRecords(producer_, status_topic, kSubmissions), size_t{kSubmissions});
  EXPECT_EQ(HttpGet(url_ + "/healthz").status, 200);  // a thread is free meanwhile
  EXPECT_TRUE(producer_.SentTo(service_->options().topics.jobs).empty());  // Pending first
  producer_.Release();
  for (std::thread& t : clients) t.join();
  for (const HttpResponse& r : answers) EXPECT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(producer_.SentTo(service_->options().topics.jobs).size(), size_t{kSubmissions});
}

TEST_F(ServerTest, ShutdownAnswersSubmissionsKafkaHasNotSettled) {
  const std::string id = Upload();
  producer_.Hold();
  HttpResponse answer;
  std::thread client([&] {
    answer =
        HttpPost(url_ + "/v1/jobs", json{{"source", {{"imageId", id}}}}.dump(), "application/json");
  });
  ASSERT_EQ(HeldStatusRecords(producer_, service_->options().topics.job_status, 1), 1U);
  std::atomic<bool> stopped = false;
  // Shutdown waits for the owed answer up to a backstop of twice the produce timeout.
  const absl::Time backstop = clock_.Now() + 2 * service_->options().produce_timeout;
  std::thread stop([&] {
    server_->Shutdown();
    stopped = true;
  });
  clock_.AwaitDeadline(backstop);
  EXPECT_FALSE(stopped) << "Shutdown returned with an answer still owed";
  producer_.Release();
  client.join();
  stop.join();
  EXPECT_EQ(answer.status, 202) << answer.body;
}

TEST_F(ServerTest, ShutdownAnswersLongPollsWithTheStateAsItIs) {
  const std::string id = SubmitJob();
  HttpResponse polled;
  const absl::Time deadline = clock_.Now() + absl::Seconds(5);  // ?wait= is capped at max_wait
  std::thread client([&] { polled = HttpGet(url_ + "/v1/jobs/" + id + "?wait=60s"); });
  // The poll has to be waiting before the shutdown (a request after it would be refused).
  clock_.AwaitDeadline(deadline);
  const absl::Time start = absl::Now();
  server_->Shutdown();
  client.join();
  EXPECT_EQ(polled.status, 200) << polled.error;
  EXPECT_EQ(json::parse(polled.body, nullptr, false).value("status", json::object())["phase"],
            "Pending")
      << polled.body;
  EXPECT_LT(absl::Now() - start, absl::Seconds(30)) << "answered at shutdown, not the deadline";
}

TEST_F(ServerTest, RefusesBadJobs) {
  ExpectProblem(HttpPost(url_ + "/v1/jobs", "{", "application/json"), 400, "MalformedJson");
  ExpectProblem(HttpPost(url_ + "/v1/jobs", "{}", "application/json"), 422, "InvalidSpec");
  ExpectProblem(HttpPost(url_ + "/v1/jobs", "{}", "text/csv"), 415, "UnsupportedMediaType");
  ExpectProblem(HttpPost(url_ + "/v1/jobs", std::string(5000, ' '), "application/json"), 413,
                "PayloadTooLarge");
  ExpectProblem(HttpGet(url_ + "/v1/jobs/j_01HV3K9Q6Y0S4W7T1F2D5G8B9C?wait=soon"), 400,
                "InvalidArgument");
}

TEST_F(ServerTest, AnswersServiceUnavailableWhenKafkaDoesNotAcknowledge) {
  const std::string image = Upload();
  producer_.FailTopic("pixq.jobs");
  HttpResponse r = HttpPost(url_ + "/v1/jobs", R"({"source":{"imageId":")" + image + R"("}})",
                            "application/json");
  ExpectProblem(r, 503, "ProduceTimeout");
  EXPECT_EQ(r.Header("retry-after"), "1");
}

TEST_F(ServerTest, LongPollWakesOnTheStatusChange) {
  const std::string id = SubmitJob();
  const absl::Time deadline = clock_.Now() + absl::Seconds(5);
  std::thread worker([&] {
    clock_.AwaitDeadline(deadline);  // the poll waits
    absl::StatusOr<job::JobRecord> record = service_->GetJob(id);
    ASSERT_TRUE(record.ok());
    record->status.phase = job::Phase::kRunning;
    ASSERT_TRUE(jobs_.Apply(id, job::ToJson(*record).dump()).ok());
  });
  const absl::Time start = absl::Now();
  HttpResponse polled = HttpGet(url_ + "/v1/jobs/" + id + "?wait=5s");
  const absl::Duration took = absl::Now() - start;
  worker.join();
  ASSERT_EQ(polled.status, 200);
  EXPECT_EQ(json::parse(polled.body)["status"]["phase"], "Running");
  EXPECT_LT(took, absl::Seconds(4));
}

TEST_F(ServerTest, LongPollUntilDoneSleepsThroughRunningAndWakesAtTheEnd) {
  const std::string id = SubmitJob();
  const absl::Time deadline = clock_.Now() + absl::Seconds(5);
  auto publish = [&](job::Phase phase) {
    absl::StatusOr<job::JobRecord> record = service_->GetJob(id);
    ASSERT_TRUE(record.ok());
    record->status.phase = phase;
    ASSERT_TRUE(jobs_.Apply(id, job::ToJson(*record).dump()).ok());
  };
  HttpResponse polled;
  std::thread client([&] { polled = HttpGet(url_ + "/v1/jobs/" + id + "?wait=5s&until=done"); });
  clock_.AwaitDeadline(deadline);  // the poll waits
  publish(job::Phase::kRunning);
  publish(job::Phase::kSucceeded);
  client.join();
  ASSERT_EQ(polled.status, 200) << polled.error;
  EXPECT_EQ(json::parse(polled.body)["status"]["phase"], "Succeeded") << polled.body;
}

TEST_F(ServerTest, LongPollUntilDoneAnswersTheCurrentStateAtTheDeadline) {
  const std::string id = SubmitJob();
  HttpResponse polled = AtDeadline(absl::Milliseconds(300), [&] {
    return HttpGet(url_ + "/v1/jobs/" + id + "?wait=300ms&until=done");
  });
  ASSERT_EQ(polled.status, 200) << polled.body;
  EXPECT_EQ(json::parse(polled.body)["status"]["phase"], "Pending");
}

TEST_F(ServerTest, LongPollRefusesAnUnknownUntil) {
  const std::string id = SubmitJob();
  HttpResponse r = HttpGet(url_ + "/v1/jobs/" + id + "?wait=1s&until=finished");
  ExpectProblem(r, 400, "InvalidArgument");
  EXPECT_NE(r.body.find("until"), std::string::npos) << r.body;
}

TEST_F(ServerTest, LongPollAnswersAtTheDeadlineWithTheCurrentState) {
  const std::string id = SubmitJob();
  HttpResponse polled = AtDeadline(
      absl::Milliseconds(300), [&] { return HttpGet(url_ + "/v1/jobs/" + id + "?wait=300ms"); });
  ASSERT_EQ(polled.status, 200);
  EXPECT_EQ(json::parse(polled.body)["status"]["phase"], "Pending");
  ExpectProblem(HttpGet(url_ + "/v1/jobs/" + id + "/output"), 409, "OutputNotReady");
}

TEST_F(ServerTest, ServesOriginalsWithStrongEtags) {
  const std::string image = Upload();
  HttpResponse content = HttpGet(url_ + "/v1/images/" + image + "/content");
  ASSERT_EQ(content.status, 200);
  EXPECT_EQ(content.body, Png(30, 20));
  EXPECT_EQ(content.Header("content-type"), "image/png");
  EXPECT_EQ(content.Header("etag"), "\"" + image + "\"");
  EXPECT_EQ(HttpGet(url_ + "/v1/images/" + image + "/content",
                    {{"If-None-Match", content.Header("etag")}})
                .status,
            304);
}

TEST_F(ServerTest, AnswersUnknownRoutesWithProblemDetails) {
  ExpectProblem(HttpGet(url_ + "/nope"), 404, "RouteNotFound");
  ExpectProblem(HttpGet(url_ + "/v1/images/" + std::string(64, 'f')), 404, "ImageNotFound");
}

// The same server with API keys and signed URLs on, as the chart runs it.
class AuthServerTest : public ServerTest {
 protected:
  static constexpr char kKey[] = "pixq-test-key-0123456789";
  static constexpr char kSigningKey[] = "signing-key-signing-key-signing-key";

  AuthServerTest() {
    auth_options_ = {.enabled = true,
                     .api_key_sha256 = {crypto::Sha256Hex("another-key"), crypto::Sha256Hex(kKey)},
                     .signing_key = kSigningKey,
                     .signed_url_ttl = absl::Minutes(5)};
  }

  std::string UploadWithKey() {
    HttpResponse r = HttpPost(url_ + "/v1/images", Png(30, 20), "image/png",
                              {{"Authorization", std::string("Bearer ") + kKey}});
    EXPECT_EQ(r.status, 201) << r.body;
    Apply();
    return r.body;
  }
};

TEST_F(AuthServerTest, AsksForAKeyOnEveryRouteButProbesAndMetrics) {
  HttpResponse missing = HttpPost(url_ + "/v1/images", Png(30, 20), "image/png");
  ExpectProblem(missing, 401, "ApiKeyMissing");
  EXPECT_EQ(missing.Header("www-authenticate"), "Bearer realm=\"pixq\"");
  ExpectProblem(HttpGet(url_ + "/v1/jobs/j_01HV3K9Q6Y0S4W7T1F2D5G8B9C"), 401, "ApiKeyMissing");
  ExpectProblem(HttpGet(url_ + "/nope"), 401, "ApiKeyMissing");  // no route list for strangers
  EXPECT_TRUE(producer_.Sent().empty()) << "nothing was stored or published";
  for (const char* open : {"/healthz", "/readyz", "/health", "/metrics"}) {
    EXPECT_EQ(HttpGet(url_ + open).status, 200) << open;
  }
}

TEST_F(AuthServerTest, RefusesAWrongKeyAndTakesTheRightOneInEitherHeader) {
  ExpectProblem(HttpPost(url_ + "/v1/images", Png(30, 20), "image/png",
                         {{"Authorization", "Bearer not-the-key"}}),
                401, "ApiKeyInvalid");
  ExpectProblem(HttpPost(url_ + "/v1/images", Png(30, 20), "image/png",
                         {{"Authorization", std::string("Basic ") + kKey}}),
                401, "ApiKeyMissing");
  const json image = json::parse(UploadWithKey());
  HttpResponse by_header =
      HttpGet(url_ + "/v1/images/" + image["id"].get<std::string>(), {{"X-API-Key", kKey}});
  EXPECT_EQ(by_header.status, 200) << by_header.body;
  ExpectProblem(HttpGet(url_ + "/v1/images/" + image["id"].get<std::string>(),
                        {{"X-API-Key", std::string(kKey) + "x"}}),
                401, "ApiKeyInvalid");
}

TEST_F(AuthServerTest, ServesASignedUrlWithoutAKeyAndRefusesATamperedOrExpiredOne) {
  const json image = json::parse(UploadWithKey());
  const std::string id = image["id"];
  ASSERT_TRUE(image.contains("signedContentUrl")) << image.dump();
  const std::string signed_url = image["signedContentUrl"];
  HttpResponse content = HttpGet(url_ + signed_url);
  ASSERT_EQ(content.status, 200) << content.body;
  EXPECT_EQ(content.body, Png(30, 20));
  // Without the signature the same path needs a key.
  ExpectProblem(HttpGet(url_ + "/v1/images/" + id + "/content"), 401, "ApiKeyMissing");

  // One hex digit of the signature changed.
  std::string tampered = signed_url;
  char& last = tampered.back();
  last = last == '0' ? '1' : '0';
  ExpectProblem(HttpGet(url_ + tampered), 403, "SignatureInvalid");
  // A later expiry with the old signature.
  const size_t at = signed_url.find("expires=") + 8;
  std::string extended = signed_url;
  extended.replace(at, 10, "9999999999");
  ExpectProblem(HttpGet(url_ + extended), 403, "SignatureInvalid");
  // The signature of one image on another path.
  std::string other = signed_url;
  other.replace(other.find(id), id.size(), std::string(64, 'a'));
  ExpectProblem(HttpGet(url_ + other), 403, "SignatureInvalid");
  // Signed correctly, but long ago.
  const auth::Authenticator signer(auth_options_);
  const std::string old =
      signer.SignPath("/v1/images/" + id + "/content", absl::Now() - absl::Hours(1));
  ExpectProblem(HttpGet(url_ + old), 403, "SignatureExpired");
  // A signature is no key for the other routes.
  const std::string query = signed_url.substr(signed_url.find('?'));
  ExpectProblem(HttpGet(url_ + "/v1/images/" + id + query), 401, "ApiKeyMissing");
}

// --- the catalogue, job listings, variants and the seed contracts --------------------------

TEST_F(ServerTest, KeepsEveryOtherRouteAheadOfTheRootVariantRoute) {
  const std::string image = Upload();
  const std::string unknown(64, 'f');
  // Each of these would also fit "/:image_id/:variant" or another parameter route.
  EXPECT_TRUE(json::parse(HttpGet(url_ + "/v1/images").body).contains("items"));
  EXPECT_TRUE(json::parse(HttpGet(url_ + "/v1/jobs").body).contains("items"));
  EXPECT_EQ(HttpGet(url_ + "/v1/images/" + image + "/content").body, Png(30, 20));
  EXPECT_EQ(HttpGet(url_ + "/docs/redoc.standalone.js").status, 200);
  EXPECT_EQ(HttpGet(url_ + "/ping").body, "pong");
  EXPECT_EQ(HttpGet(url_ + "/health").body, "OK");
  ExpectProblem(HttpGet(url_ + "/check/j_01HV3K9Q6Y0S4W7T1F2D5G8B9C"), 404, "JobNotFound");
  ExpectProblem(HttpGet(url_ + "/v1/jobs/j_01HV3K9Q6Y0S4W7T1F2D5G8B9C/output"), 404, "JobNotFound");
  // Two segments no route has: still RouteNotFound, not an image lookup.
  for (const char* path : {"/v1/nothing-here", "/docs/x", "/metrics/x", "/check", "/a/b"}) {
    ExpectProblem(HttpGet(url_ + path), 404, "RouteNotFound");
  }
  // Counted as no route's, not as the variant route's.
  EXPECT_NE(metrics_.Render().find(
                "pixq_http_requests_total{code=\"404\",method=\"GET\",route=\"unmatched\"} 5"),
            std::string::npos)
      << metrics_.Render();
  // An image id in front: the seed's variant route.
  ExpectProblem(HttpGet(url_ + "/" + unknown + "/png"), 404, "ImageNotFound");
  ExpectProblem(HttpGet(url_ + "/" + image + "/sepia"), 404, "UnknownVariant");
  ExpectProblem(HttpGet(url_ + "/v1/images/" + image + "/sepia"), 404, "UnknownVariant");
  HttpResponse queued = HttpGet(url_ + "/" + image + "/png?wait=0");
  EXPECT_EQ(queued.status, 202) << queued.body;
  EXPECT_EQ(queued.Header("location").rfind("/v1/jobs/j_", 0), 0u);
}

TEST_F(ServerTest, AnswersAMethodAPathDoesNotHaveWith405ProblemDetails) {
  const std::string image = Upload();
  HttpResponse put = testing::HttpRequest("PUT", url_ + "/v1/images");
  ExpectProblem(put, 405, "MethodNotAllowed");
  EXPECT_EQ(put.Header("allow"), "POST, GET");
  HttpResponse post = HttpPost(url_ + "/" + image + "/png", "", "");
  ExpectProblem(post, 405, "MethodNotAllowed");
  EXPECT_EQ(post.Header("allow"), "GET");
  ExpectProblem(testing::HttpRequest("PATCH", url_ + "/v1/jobs/j_01HV3K9Q6Y0S4W7T1F2D5G8B9C"), 405,
                "MethodNotAllowed");
  // Two segments that are no route's, whatever the method.
  ExpectProblem(HttpPost(url_ + "/foo/bar", "", ""), 404, "RouteNotFound");
}

TEST_F(ServerTest, DecodesQueryParametersAsSent) {
  HttpResponse r = HttpPost(url_ + "/v1/images?title=Big%20Cat+%C3%A9t%C3%A9&filename=a%2Fb.png",
                            Png(31, 20), "image/png");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(json::parse(r.body)["title"], "Big Cat \xc3\xa9t\xc3\xa9");
  EXPECT_EQ(json::parse(r.body)["filename"], "a/b.png");
  HttpPost(url_ + "/v1/images?title=dog", Png(32, 20), "image/png");
  Apply();
  const json found = json::parse(HttpGet(url_ + "/v1/images?title=big+CAT").body);
  ASSERT_EQ(found["items"].size(), 1u) << found.dump();
  EXPECT_EQ(found["items"][0]["title"], "Big Cat \xc3\xa9t\xc3\xa9");
  // A title that is not UTF-8 is kept as valid UTF-8, and answered.
  HttpResponse odd = HttpPost(url_ + "/v1/images?title=%FF%FE", Png(33, 20), "image/png");
  EXPECT_EQ(odd.status, 201) << odd.body;
}

TEST_F(ServerTest, PagesThroughTheCatalogueAndDeletesAnImage) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    HttpResponse r = HttpPost(url_ + "/v1/images?title=t", Png(40 + i, 20), "image/png");
    ASSERT_EQ(r.status, 201);
    ids.push_back(json::parse(r.body)["id"]);
  }
  Apply();
  std::vector<std::string> listed;
  std::string next = "/v1/images?limit=2";
  while (!next.empty()) {
    const json page = json::parse(HttpGet(url_ + next).body);
    ASSERT_LE(page["items"].size(), 2u);
    for (const json& item : page["items"]) listed.push_back(item["id"]);
    next = page["nextPageToken"].is_null()
               ? ""
               : "/v1/images?limit=2&pageToken=" + page["nextPageToken"].get<std::string>();
  }
  std::vector<std::string> sorted_ids = ids, sorted_listed = listed;
  std::sort(sorted_ids.begin(), sorted_ids.end());
  std::sort(sorted_listed.begin(), sorted_listed.end());
  EXPECT_EQ(sorted_listed, sorted_ids);
  ExpectProblem(HttpGet(url_ + "/v1/images?limit=0"), 400, "InvalidArgument");
  ExpectProblem(HttpGet(url_ + "/v1/images?pageToken=nope"), 400, "InvalidPageToken");

  HttpResponse deleted = testing::HttpDelete(url_ + "/v1/images/" + ids[0]);
  EXPECT_EQ(deleted.status, 204) << deleted.body;
  EXPECT_TRUE(deleted.body.empty());
  ExpectProblem(HttpGet(url_ + "/v1/images/" + ids[0]), 404, "ImageNotFound");
  ExpectProblem(testing::HttpDelete(url_ + "/v1/images/" + ids[0]), 404, "ImageNotFound");
  EXPECT_EQ(json::parse(HttpGet(url_ + "/v1/images").body)["items"].size(), 4u);
}

TEST_F(ServerTest, AVariantWaitsPastRunningUntilItsJobEnds) {
  const std::string image = Upload();
  // A worker, here: Running once the variant's request waits, then Succeeded (with the output
  // written).
  const absl::Time deadline = clock_.Now() + absl::Seconds(5);
  std::atomic<bool> ended = false;
  std::thread worker([&] {
    const std::vector<queue::OutgoingMessage> queued = producer_.AwaitSentTo("pixq.jobs", 1);
    Apply();
    absl::StatusOr<job::JobRecord> record = job::RecordFromJson(queued[0].value);
    ASSERT_TRUE(record.ok());
    clock_.AwaitDeadline(deadline);  // the request waits for the job
    record->status.phase = job::Phase::kRunning;
    ASSERT_TRUE(jobs_.Apply(record->id, job::ToJson(*record).dump()).ok());
    ended = true;
    absl::StatusOr<std::string> path = store_->PutOutput(record->output_key, "png", Png(7, 7));
    ASSERT_TRUE(path.ok());
    record->status.phase = job::Phase::kSucceeded;
    record->status.output = job::OutputInfo{.path = *path, .format = job::Format::kPng};
    ASSERT_TRUE(jobs_.Apply(record->id, job::ToJson(*record).dump()).ok());
  });
  const absl::Time start = absl::Now();
  HttpResponse r = HttpGet(url_ + "/v1/images/" + image + "/mirror?wait=5s");
  const absl::Duration took = absl::Now() - start;
  worker.join();
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, Png(7, 7));
  EXPECT_EQ(r.Header("content-type"), "image/png");
  EXPECT_TRUE(ended) << "answered at Running, not at the end";
  EXPECT_LT(took, absl::Seconds(4));
  // Stored now: served at once, with the output key as its ETag.
  HttpResponse again = HttpGet(url_ + "/" + image + "/mirror?wait=0");
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body, Png(7, 7));
  EXPECT_EQ(
      HttpGet(url_ + "/" + image + "/mirror", {{"If-None-Match", again.Header("etag")}}).status,
      304);
  EXPECT_EQ(producer_.SentTo("pixq.jobs").size(), 1u);
}

TEST_F(ServerTest, AVariantNotMadeInTimeAnswers202WithItsJob) {
  const std::string image = Upload();
  const absl::Time start = clock_.Now();
  absl::Time answered;
  HttpResponse r = AtDeadline(absl::Milliseconds(300), [&] {
    HttpResponse answer = HttpGet(url_ + "/v1/images/" + image + "/grayscale?width=10&wait=300ms");
    answered = clock_.Now();
    return answer;
  });
  EXPECT_GE(answered - start, absl::Milliseconds(300));
  ASSERT_EQ(r.status, 202) << r.body;
  const json job = json::parse(r.body);
  EXPECT_EQ(r.Header("location"), "/v1/jobs/" + job["metadata"]["id"].get<std::string>());
  EXPECT_EQ(job["metadata"]["labels"]["variant"], "grayscale");
  EXPECT_EQ(job["spec"]["steps"][0]["op"], "resize");
  EXPECT_EQ(job["spec"]["steps"][1]["op"], "grayscale");
  ExpectProblem(HttpGet(url_ + "/v1/images/" + image + "/grayscale?width=0"), 400,
                "InvalidArgument");
  ExpectProblem(HttpGet(url_ + "/v1/images/" + image + "/grayscale?wait=soon"), 400,
                "InvalidArgument");
}

TEST_F(ServerTest, ListsAndForgetsJobs) {
  const std::string image = Upload();
  std::vector<std::string> ids;
  for (int width : {10, 11, 12}) {
    HttpResponse r =
        HttpPost(url_ + "/v1/jobs",
                 R"({"source":{"imageId":")" + image + R"("},"steps":[{"op":"resize","width":)" +
                     std::to_string(width) + "}]}",
                 "application/json");
    ASSERT_EQ(r.status, 202) << r.body;
    ids.push_back(json::parse(r.body)["metadata"]["id"]);
  }
  Apply();
  absl::StatusOr<job::JobRecord> done = service_->GetJob(ids[1]);
  ASSERT_TRUE(done.ok());
  done->status.phase = job::Phase::kFailed;
  ASSERT_TRUE(jobs_.Apply(done->id, job::ToJson(*done).dump()).ok());

  const json outstanding = json::parse(HttpGet(url_ + "/v1/jobs?phase=Pending,Running").body);
  ASSERT_EQ(outstanding["items"].size(), 2u);
  EXPECT_EQ(outstanding["items"][0]["metadata"]["id"], ids[0]);
  EXPECT_EQ(outstanding["items"][1]["metadata"]["id"], ids[2]);
  EXPECT_TRUE(outstanding["nextPageToken"].is_null());
  const json first = json::parse(HttpGet(url_ + "/v1/jobs?limit=1").body);
  ASSERT_EQ(first["items"].size(), 1u);
  ASSERT_TRUE(first["nextPageToken"].is_string());
  ExpectProblem(HttpGet(url_ + "/v1/jobs?phase=Pending&pageToken=" +
                        first["nextPageToken"].get<std::string>()),
                400, "InvalidPageToken");
  ExpectProblem(HttpGet(url_ + "/v1/jobs?phase=Done"), 400, "InvalidArgument");

  ExpectProblem(testing::HttpDelete(url_ + "/v1/jobs/" + ids[0]), 409, "JobNotFinished");
  EXPECT_EQ(testing::HttpDelete(url_ + "/v1/jobs/" + ids[1]).status, 204);
  ExpectProblem(HttpGet(url_ + "/v1/jobs/" + ids[1]), 404, "JobNotFound");
  EXPECT_EQ(json::parse(HttpGet(url_ + "/v1/jobs").body)["items"].size(), 2u);
}

TEST_F(AuthServerTest, AsksForAKeyOnTheNewRoutesButNotOnPing) {
  const std::string hex(64, 'a');
  ExpectProblem(HttpGet(url_ + "/v1/images"), 401, "ApiKeyMissing");
  ExpectProblem(HttpGet(url_ + "/v1/jobs?phase=Pending"), 401, "ApiKeyMissing");
  ExpectProblem(testing::HttpDelete(url_ + "/v1/images/" + hex), 401, "ApiKeyMissing");
  ExpectProblem(testing::HttpDelete(url_ + "/v1/jobs/j_01HV3K9Q6Y0S4W7T1F2D5G8B9C"), 401,
                "ApiKeyMissing");
  ExpectProblem(HttpGet(url_ + "/v1/images/" + hex + "/png"), 401, "ApiKeyMissing");
  ExpectProblem(HttpGet(url_ + "/" + hex + "/png"), 401, "ApiKeyMissing");
  ExpectProblem(HttpPost(url_ + "/download", R"({"image_url":"https://a.example/x.jpg"})",
                         "application/json"),
                401, "ApiKeyMissing");
  ExpectProblem(HttpGet(url_ + "/check/j_01HV3K9Q6Y0S4W7T1F2D5G8B9C"), 401, "ApiKeyMissing");
  ExpectProblem(HttpPostForm(url_ + "/upload_file", {{.name = "image", .data = Png(30, 20)}}), 401,
                "ApiKeyMissing");
  ExpectProblem(testing::HttpRequest("PUT", url_ + "/v1/images"), 401, "ApiKeyMissing");
  EXPECT_TRUE(producer_.Sent().empty());
  EXPECT_EQ(HttpGet(url_ + "/ping").body, "pong");
  EXPECT_EQ(HttpGet(url_ + "/v1/images", {{"X-API-Key", kKey}}).status, 200);
}

}  // namespace
}  // namespace pixq::http
