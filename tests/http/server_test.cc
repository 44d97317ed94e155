// pkg/http's routes over a real socket on 127.0.0.1 (port 0), with the service on fakes: the
// request limits, problem+json answers, long-polls and file serving, without Kafka.

#include "pkg/http/server.h"

#include <thread>
#include <vector>

#include "nlohmann/json.hpp"
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "pkg/crypto/sha256.h"
#include "pkg/errors/errors.h"
#include "pkg/job/json.h"
#include "pkg/storage/volume.h"
#include "tests/fakes/fake_producer.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"

namespace pixq::http {
namespace {

using nlohmann::json;
using testing::HttpGet;
using testing::HttpPost;
using testing::HttpPostForm;
using testing::HttpResponse;

std::string Png(int width, int height) {
  std::vector<uchar> out;
  cv::imencode(".png", cv::Mat(height, width, CV_8UC3, cv::Scalar(1, 2, 3)), out);
  return std::string(out.begin(), out.end());
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = storage::VolumeStore::Open(dir_.path(), absl::Hours(1));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    service_ = std::make_unique<api::Service>(
        api::ServiceOptions{.max_pixels = 10'000'000}, *store_, producer_, jobs_, images_,
        [this](absl::Duration) {
          Apply();
          return absl::OkStatus();
        },
        metrics_, tracer_);
    server_ = std::make_unique<ApiServer>(
        ServerOptions{.address = "127.0.0.1",
                      .port = 0,
                      .threads = 2,
                      .max_body_bytes = 1 << 20,
                      .max_json_bytes = 4096,
                      .max_wait = absl::Seconds(5),
                      .storage_root = store_->root(),
                      .auth = auth_options_},
        *service_, jobs_, [this] { return ready_; }, metrics_, tracer_);
    ASSERT_TRUE(server_->Start().ok());
    url_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }

  void TearDown() override { server_->Shutdown(); }

  // Applies what was published to the tables, as the table reader would.
  void Apply() {
    std::lock_guard<std::mutex> lock(apply_mu_);
    const auto sent = producer_.Sent();
    for (size_t i = applied_; i < sent.size(); ++i) {
      const auto& m = sent[i];
      std::optional<std::string> value;
      if (!m.tombstone) value = m.value;
      if (m.topic == "pixq.images") (void)images_.Apply(m.key, value);
      if (m.topic == "pixq.job-status") (void)jobs_.Apply(m.key, value);
    }
    applied_ = sent.size();
  }

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

  testing::TempDir dir_;
  std::unique_ptr<storage::VolumeStore> store_;
  testing::FakeProducer producer_;
  state::JobTable jobs_;
  state::ImageTable images_;
  std::mutex apply_mu_;
  size_t applied_ = 0;
  observability::Metrics metrics_{observability::MetricsRole::kApi};
  observability::Tracer tracer_{observability::TracingOptions{}, nullptr};
  std::unique_ptr<api::Service> service_;
  std::unique_ptr<ApiServer> server_;
  absl::Status ready_ = absl::OkStatus();
  auth::AuthOptions auth_options_;  // off unless a test's fixture turns it on
  std::string url_;
};

TEST_F(ServerTest, AnswersTheProbes) {
  EXPECT_EQ(HttpGet(url_ + "/healthz").status, 200);
  EXPECT_EQ(HttpGet(url_ + "/health").body, "OK");
  EXPECT_EQ(HttpGet(url_ + "/readyz").status, 200);
  ready_ = errors::Unavailable("NotReady", "loading");
  HttpResponse not_ready = HttpGet(url_ + "/readyz");
  ExpectProblem(not_ready, 503, "NotReady");
  EXPECT_EQ(not_ready.Header("retry-after"), "1");
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
  const std::string image = Upload();
  HttpResponse created = HttpPost(url_ + "/v1/jobs", R"({"source":{"imageId":")" + image + R"("}})",
                                  "application/json");
  ASSERT_EQ(created.status, 202) << created.body;
  EXPECT_FALSE(created.Header("location").empty());
  Apply();
  const std::string id = json::parse(created.body)["metadata"]["id"];
  std::thread worker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
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

TEST_F(ServerTest, LongPollAnswersAtTheDeadlineWithTheCurrentState) {
  const std::string image = Upload();
  HttpResponse created = HttpPost(url_ + "/v1/jobs", R"({"source":{"imageId":")" + image + R"("}})",
                                  "application/json");
  Apply();
  const std::string id = json::parse(created.body)["metadata"]["id"];
  HttpResponse polled = HttpGet(url_ + "/v1/jobs/" + id + "?wait=300ms");
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

}  // namespace
}  // namespace pixq::http
