// API keys and signed output URLs against the real processes, configured as the chart does it:
// key hashes and the signing key from the environment (a Kubernetes Secret there).

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "tests/support/http_client.h"
#include "tests/support/system.h"

namespace pixq::testing {
namespace {

using nlohmann::json;

constexpr char kKey[] = "integration-test-key";

// The key's hash as an operator makes it for the configuration (coreutils' sha256sum).
std::string Sha256Of(const std::string& text) {
  TempDir dir;
  const std::string in = dir.path() + "/key";
  FILE* f = fopen(in.c_str(), "w");
  fputs(text.c_str(), f);
  fclose(f);
  const std::string out = dir.path() + "/sum";
  const std::string cmd = "sha256sum " + in + " > " + out;
  if (std::system(cmd.c_str()) != 0) return "";
  return ReadFile(out).substr(0, 64);
}

TEST(AuthTest, KeysGuardTheApiAndSignedUrlsOpenOneOutput) {
  const std::string hash = Sha256Of(kKey);
  ASSERT_EQ(hash.size(), 64u);
  System system(SystemOptions{.partitions = 2,
                              .workers = 1,
                              .env = {{"PIXQ_AUTH_ENABLED", "true"},
                                      {"PIXQ_AUTH_API_KEY_SHA256", hash},
                                      {"PIXQ_AUTH_SIGNING_KEY", std::string(48, 'z')}}});
  const std::string url = system.url();
  const std::map<std::string, std::string> key = {{"Authorization", std::string("Bearer ") + kKey}};
  std::vector<uchar> png;
  cv::imencode(".png", cv::Mat(40, 60, CV_8UC3, cv::Scalar(0, 128, 255)), png);
  const std::string bytes(png.begin(), png.end());

  // No key, a wrong key: refused, nothing stored.
  HttpResponse none = HttpPost(url + "/v1/images", bytes, "image/png");
  EXPECT_EQ(none.status, 401) << none.body;
  EXPECT_EQ(json::parse(none.body).value("reason", ""), "ApiKeyMissing");
  HttpResponse wrong =
      HttpPost(url + "/v1/images", bytes, "image/png", {{"X-API-Key", "not-the-key"}});
  EXPECT_EQ(wrong.status, 401) << wrong.body;
  EXPECT_EQ(json::parse(wrong.body).value("reason", ""), "ApiKeyInvalid");
  // Probes and metrics stay open for kubelet and Prometheus.
  EXPECT_EQ(HttpGet(url + "/readyz").status, 200);
  EXPECT_EQ(HttpGet(url + "/metrics").status, 200);

  // The right key: upload, job, result.
  HttpResponse upload = HttpPost(url + "/v1/images", bytes, "image/png", key);
  ASSERT_EQ(upload.status, 201) << upload.body;
  const std::string image = json::parse(upload.body)["id"];
  const json spec = {{"source", {{"imageId", image}}},
                     {"steps", json::array({{{"op", "resize"}, {"width", 30}}})},
                     {"output", {{"format", "webp"}}}};
  HttpResponse created = HttpPost(url + "/v1/jobs", spec.dump(), "application/json", key);
  ASSERT_EQ(created.status, 202) << created.body;
  const std::string id = json::parse(created.body)["metadata"]["id"];
  json job;
  ASSERT_TRUE(Eventually(
      [&] {
        job = json::parse(HttpGet(url + "/v1/jobs/" + id + "?wait=5s", key).body, nullptr, false);
        return job.is_object() && job["status"].value("phase", "") == "Succeeded";
      },
      absl::Seconds(60)))
      << job.dump();
  EXPECT_EQ(HttpGet(url + "/v1/jobs/" + id + "/output").status, 401);
  EXPECT_EQ(HttpGet(url + "/v1/jobs/" + id + "/output", key).status, 200);

  // The signed URL works without a key, for anyone it is handed to; altered, it does not.
  const std::string signed_url = job["status"]["output"].value("signedUrl", "");
  ASSERT_FALSE(signed_url.empty()) << job.dump();
  HttpResponse shared = HttpGet(url + signed_url);
  EXPECT_EQ(shared.status, 200) << shared.body;
  EXPECT_EQ(shared.Header("content-type"), "image/webp");
  std::string tampered = signed_url;
  tampered.back() = tampered.back() == 'a' ? 'b' : 'a';
  HttpResponse refused = HttpGet(url + tampered);
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(json::parse(refused.body, nullptr, false).value("reason", ""), "SignatureInvalid");
  std::string expired = signed_url;
  const size_t at = expired.find("expires=") + 8;
  expired.replace(at, expired.find('&', at) - at, "1000000000");
  HttpResponse old = HttpGet(url + expired);
  EXPECT_EQ(old.status, 403);
  EXPECT_EQ(json::parse(old.body, nullptr, false).value("reason", ""), "SignatureInvalid")
      << "an expiry moved back is a tampered URL too";
}

}  // namespace
}  // namespace pixq::testing
