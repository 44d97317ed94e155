// pixq's web console (GET /console) in a real browser: pixq-devbroker, pixq-api (with API keys
// on) and two workers run as real processes on loopback, headless Chromium (Debian's package
// `chromium`) runs on loopback only, and console.mjs drives it with puppeteer-core over its
// DevTools connection through every scenario of docs/console.md (one system start for all).
//
// Chromium is kept off the network as tests/openapi/docs_page_test.cc keeps it: every host name
// resolves to nothing but 127.0.0.1, every other address goes to a dead proxy on 127.0.0.1:9, and
// its background services are off; its net log then shows that nothing was requested from
// anywhere but pixq-api. Chromium leads its own process group, killed whatever the outcome.
//
// PIXQ_CONSOLE_SCREENSHOTS=<dir> keeps the run's screenshots there (docs/ holds those of
// docs/console.md); otherwise they go to a temporary directory.

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <signal.h>
#include <unistd.h>

#include "pkg/crypto/sha256.h"
#include "tests/support/process.h"
#include "tests/support/system.h"

namespace pixq::http {
namespace {

using nlohmann::json;

constexpr char kKey[] = "console-test-key-0123456789abcdef";

// The first of `names` that is an executable on the PATH; "" if none is.
std::string FindOnPath(std::initializer_list<const char*> names) {
  const char* path = std::getenv("PATH");
  const std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  for (size_t start = 0; start <= dirs.size();) {
    const size_t end = std::min(dirs.find(':', start), dirs.size());
    const std::string dir = dirs.substr(start, end - start);
    for (const char* name : names) {
      const std::filesystem::path candidate = std::filesystem::path(dir) / name;
      std::error_code ec;
      if (!dir.empty() && std::filesystem::is_regular_file(candidate, ec) &&
          access(candidate.c_str(), X_OK) == 0) {
        return candidate.string();
      }
    }
    start = end + 1;
  }
  return "";
}

// Chromium from $PIXQ_CHROMIUM, else `chromium` or `chromium-browser` on the PATH; "" if none.
std::string FindChromium() {
  if (const char* given = std::getenv("PIXQ_CHROMIUM"); given != nullptr && *given != '\0') {
    return given;
  }
  return FindOnPath({"chromium", "chromium-browser"});
}

// Kills a process group when it goes away: Chromium's renderer and GPU processes with it.
class ProcessGroupGuard final {
 public:
  explicit ProcessGroupGuard(pid_t group) : group_(group) {}
  ~ProcessGroupGuard() {
    if (group_ > 0) kill(-group_, SIGKILL);
  }
  ProcessGroupGuard(const ProcessGroupGuard&) = delete;
  ProcessGroupGuard& operator=(const ProcessGroupGuard&) = delete;

 private:
  pid_t group_;
};

// A photo-like JPEG: a gradient with a disc, different for each `seed`.
std::string WritePhoto(const std::string& dir, int seed) {
  cv::Mat image(480, 640, CV_8UC3);
  for (int y = 0; y < image.rows; ++y) {
    for (int x = 0; x < image.cols; ++x) {
      image.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uchar>(x * 160 / image.cols + seed * 40),
                                            static_cast<uchar>(y * 200 / image.rows + 30),
                                            static_cast<uchar>(230 - seed * 70));
    }
  }
  cv::circle(image, {200 + seed * 120, 240}, 90, cv::Scalar(30, 200 - seed * 50, 240), cv::FILLED);
  const std::string path = absl::StrCat(dir, "/photo-", seed + 1, ".jpg");
  cv::imwrite(path, image);
  return path;
}

// The requests in a Chromium net log that a page made (those with an initiator).
std::vector<std::string> PageRequests(const json& netlog, const std::string& origin) {
  int start_job = -1;
  for (const auto& [name, value] : netlog.at("constants").at("logEventTypes").items()) {
    if (name == "URL_REQUEST_START_JOB") start_job = value.get<int>();
  }
  std::vector<std::string> out;
  for (const json& event : netlog.at("events")) {
    if (event.value("type", -2) != start_job || !event.contains("params")) continue;
    if (event["params"].value("initiator", "") != origin) continue;
    out.push_back(event["params"].value("url", ""));
  }
  return out;
}

TEST(ConsoleTest, UploadsBrowsesRunsAndRetriesInChromiumWithAuthOn) {
  const std::string chromium = FindChromium();
  if (chromium.empty()) {
    GTEST_SKIP() << "Chromium is not installed (Debian package `chromium`, which scripts/setup.sh "
                    "installs; or set PIXQ_CHROMIUM)";
  }
  const std::string node = FindOnPath({"node", "nodejs"});
  if (node.empty()) GTEST_SKIP() << "Node.js is not installed (scripts/setup.sh installs it)";
  const std::string script_dir = PIXQ_CONSOLE_DIR;
  if (!std::filesystem::exists(script_dir + "/node_modules/puppeteer-core/package.json")) {
    GTEST_SKIP() << "puppeteer-core is not installed: run scripts/setup.sh, or `npm ci --prefix "
                    "tests/console --ignore-scripts`";
  }
  testing::System system({.workers = 2,
                          .env = {{"PIXQ_AUTH_ENABLED", "true"},
                                  {"PIXQ_AUTH_API_KEY_SHA256", crypto::Sha256Hex(kKey)}}});
  // The console's files need no key; what they show does.
  const testing::HttpResponse page = testing::HttpGet(system.url() + "/console");
  ASSERT_EQ(page.status, 200);
  ASSERT_EQ(testing::HttpGet(system.url() + "/v1/images").status, 401);

  testing::TempDir dir;
  std::vector<std::string> photos;
  for (int i = 0; i < 3; ++i) photos.push_back(WritePhoto(dir.path(), i));
  const char* keep = std::getenv("PIXQ_CONSOLE_SCREENSHOTS");
  const std::string shots = keep != nullptr && *keep != '\0' ? keep : dir.path();
  const std::string netlog_file = dir.path() + "/netlog.json";
  const std::string profile = dir.path() + "/profile";
  const std::vector<std::string> argv = {
      // setsid: Chromium leads its own process group, so that the guard below ends all of it.
      "/usr/bin/setsid", chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
      "--user-data-dir=" + profile,
      // DevTools on loopback, at a port Chromium picks and writes to DevToolsActivePort.
      "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
      // Off the network: names resolve to nothing but loopback; addresses go to a dead proxy.
      "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--proxy-server=127.0.0.1:9",
      "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--disable-default-apps", "--disable-extensions", "--no-pings",
      "--disable-domain-reliability", "--disable-client-side-phishing-detection",
      "--disable-breakpad",
      "--disable-features=Translate,OptimizationHints,MediaRouter,SpellCheck,"
      "AutofillServerCommunication",
      "--log-net-log=" + netlog_file, "about:blank"};
  std::unique_ptr<testing::Process> browser =
      testing::Process::Start(argv,
                              {{"HOME", dir.path()},
                               {"XDG_CONFIG_HOME", dir.path() + "/config"},
                               {"XDG_CACHE_HOME", dir.path() + "/cache"}},
                              dir.path() + "/chromium.log");
  ProcessGroupGuard guard(browser->pid());
  const std::string port_file = profile + "/DevToolsActivePort";
  ASSERT_TRUE(testing::Eventually(
      [&] { return testing::ReadFile(port_file).find('\n') != std::string::npos; },
      absl::Seconds(60)))
      << testing::ReadFile(dir.path() + "/chromium.log");
  const std::string ports = testing::ReadFile(port_file);
  const size_t newline = ports.find('\n');
  const std::string endpoint =
      absl::StrCat("ws://127.0.0.1:", ports.substr(0, newline), ports.substr(newline + 1));

  std::unique_ptr<testing::Process> driver =
      testing::Process::Start({node, script_dir + "/console.mjs"},
                              {{"PIXQ_URL", system.url()},
                               {"PIXQ_API_KEY", kKey},
                               {"PIXQ_PHOTOS", absl::StrJoin(photos, ":")},
                               {"PIXQ_DEVTOOLS_WS", endpoint},
                               {"PIXQ_SHOTS", shots}},
                              dir.path() + "/console.log");
  const std::optional<int> exit = driver->Wait(absl::Seconds(300));
  const std::string log = testing::ReadFile(dir.path() + "/console.log");
  ASSERT_TRUE(exit.has_value()) << "console.mjs did not finish in 300 s:\n" << log;
  EXPECT_EQ(*exit, 0) << log;
  std::cout << log;

  // console.mjs closed Chromium, which wrote its net log out as it ended.
  if (!browser->Wait(absl::Seconds(30)).has_value()) browser->Signal(SIGTERM);
  ASSERT_TRUE(browser->Wait(absl::Seconds(30)).has_value());
  const json netlog = json::parse(testing::ReadFile(netlog_file), nullptr, false);
  ASSERT_FALSE(netlog.is_discarded()) << "no readable net log in " << netlog_file;
  const std::vector<std::string> requests = PageRequests(netlog, system.url());
  EXPECT_FALSE(requests.empty());
  for (const std::string& url : requests) {
    EXPECT_EQ(url.rfind(system.url() + "/", 0), 0u) << "the console requested " << url;
    EXPECT_EQ(url.find(kKey), std::string::npos) << "the key is in " << url;
  }
}

}  // namespace
}  // namespace pixq::http
