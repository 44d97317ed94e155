// GET /docs in a real browser: pixq-devbroker and pixq-api run as real processes on loopback
// (with API keys on, as the Helm chart runs them, since the page must work without one), and
// headless Chromium (Debian's package `chromium`) loads the page, runs Redoc and dumps the DOM it
// rendered. The page must show every route the server registers with its summary, and load
// nothing but from pixq-api itself.
//
// Chromium is kept off the network: every host name resolves to nothing but 127.0.0.1, every
// other address goes to a proxy on 127.0.0.1:9 where nothing listens, and its background services
// are off. What the page itself requested is read from Chromium's net log; the console (where a
// Content-Security-Policy violation shows) from its log file. Chromium runs in its own process
// group, which is killed whatever the outcome; it also dies with this test (PR_SET_PDEATHSIG).

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include "pkg/crypto/sha256.h"
#include "pkg/http/assets.h"
#include "pkg/http/server.h"
#include "tests/support/process.h"
#include "tests/support/system.h"

namespace pixq::http {
namespace {

using nlohmann::json;

// Chromium from $PIXQ_CHROMIUM, else `chromium` or `chromium-browser` on the PATH; "" if none.
std::string FindChromium() {
  if (const char* given = std::getenv("PIXQ_CHROMIUM"); given != nullptr && *given != '\0') {
    return given;
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    const size_t end = std::min(dirs.find(':', start), dirs.size());
    const std::string dir = dirs.substr(start, end - start);
    for (const char* name : {"chromium", "chromium-browser"}) {
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

std::string HtmlEscaped(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '&') {
      out += "&amp;";
    } else if (c == '<') {
      out += "&lt;";
    } else if (c == '>') {
      out += "&gt;";
    } else {
      out += c;
    }
  }
  return out;
}

// Whether Redoc rendered an operation's method and path together:
// <span class="... http-verb get">get</span><span class="...">/v1/jobs/{id}</span>
bool ShowsOperation(const std::string& dom, const std::string& method, const std::string& path) {
  const std::string verb = method + "\">" + method + "</span>";
  for (size_t at = dom.find(verb); at != std::string::npos; at = dom.find(verb, at + 1)) {
    const size_t span = at + verb.size();
    const size_t text = dom.find('>', span);
    if (dom.compare(span, 5, "<span") == 0 && text != std::string::npos &&
        dom.compare(text + 1, path.size() + 7, path + "</span>") == 0) {
      return true;
    }
  }
  return false;
}

struct PageRequest {
  std::string url;
  std::string initiator;
};

// The requests in a Chromium net log, with the origin that caused each ("not an origin" for the
// navigation and Chromium's own requests).
std::vector<PageRequest> RequestsIn(const json& netlog) {
  int start_job = -1;
  for (const auto& [name, value] : netlog.at("constants").at("logEventTypes").items()) {
    if (name == "URL_REQUEST_START_JOB") start_job = value.get<int>();
  }
  std::vector<PageRequest> out;
  for (const json& event : netlog.at("events")) {
    if (event.value("type", -2) != start_job || !event.contains("params")) continue;
    const json& params = event["params"];
    out.push_back({params.value("url", ""), params.value("initiator", "")});
  }
  return out;
}

TEST(DocsPageTest, RendersEveryRouteInChromiumLoadingNothingFromElsewhere) {
  const std::string chromium = FindChromium();
  if (chromium.empty()) {
    GTEST_SKIP() << "Chromium is not installed (Debian package `chromium`, which scripts/setup.sh "
                    "installs; or set PIXQ_CHROMIUM): the /docs page cannot be rendered here";
  }
  testing::System system(
      {.workers = 0,
       .env = {{"PIXQ_AUTH_ENABLED", "true"},
               {"PIXQ_AUTH_API_KEY_SHA256", crypto::Sha256Hex("docs-page-test-key-0123456789")}}});
  // The page needs no key, and neither does what it loads.
  ASSERT_EQ(testing::HttpGet(system.url() + "/docs").status, 200);
  ASSERT_EQ(testing::HttpGet(system.url() + "/v1/images/" + std::string(64, 'a')).status, 401);

  testing::TempDir dir;
  const std::string dom_file = dir.path() + "/dom.html";
  const std::string netlog_file = dir.path() + "/netlog.json";
  const std::string log_file = dir.path() + "/chromium.log";
  const std::vector<std::string> argv = {
      // setsid: Chromium leads its own process group, so that the guard below ends all of it.
      "/bin/sh", "-c", "exec setsid \"$0\" \"$@\" >\"$PIXQ_DOM_FILE\"", chromium, "--headless",
      "--no-sandbox", "--disable-gpu", "--no-first-run",
      "--user-data-dir=" + dir.path() + "/profile",
      // Off the network: names resolve to nothing but loopback; addresses go to a dead proxy.
      "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--proxy-server=127.0.0.1:9",
      "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--disable-default-apps", "--disable-extensions", "--no-pings",
      "--disable-domain-reliability", "--disable-client-side-phishing-detection",
      "--disable-breakpad",
      "--disable-features=Translate,OptimizationHints,MediaRouter,SpellCheck,"
      "AutofillServerCommunication",
      "--log-net-log=" + netlog_file, "--enable-logging", "--log-file=" + log_file, "--v=0",
      // Redoc fetches the description and renders; virtual time lets it finish before the dump.
      "--virtual-time-budget=20000", "--dump-dom", system.url() + "/docs"};
  std::unique_ptr<testing::Process> browser =
      testing::Process::Start(argv,
                              {{"PIXQ_DOM_FILE", dom_file},
                               {"HOME", dir.path()},
                               {"XDG_CONFIG_HOME", dir.path() + "/config"},
                               {"XDG_CACHE_HOME", dir.path() + "/cache"}},
                              dir.path() + "/chromium.stderr");
  ProcessGroupGuard guard(browser->pid());
  const std::optional<int> exit = browser->Wait(absl::Seconds(120));
  ASSERT_TRUE(exit.has_value()) << "Chromium did not finish in 120 s:\n"
                                << testing::ReadFile(log_file);
  ASSERT_EQ(*exit, 0) << testing::ReadFile(dir.path() + "/chromium.stderr")
                      << testing::ReadFile(log_file);

  // Every route, with its summary, as Redoc rendered it.
  const std::string dom = testing::ReadFile(dom_file);
  ASSERT_NE(dom.find("<redoc"), std::string::npos) << dom.substr(0, 2000);
  const json spec = json::parse(OpenApiJson().bytes);
  EXPECT_NE(dom.find(HtmlEscaped(spec["info"]["title"])), std::string::npos);
  for (const RouteInfo& route : ApiServer::RegisteredRoutes()) {
    const std::string path = OpenApiPath(route.path);
    std::string method = route.method;
    for (char& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_TRUE(ShowsOperation(dom, method, path)) << route.method << " " << path;
    const std::string summary = spec["paths"][path][method].value("summary", "");
    EXPECT_FALSE(summary.empty()) << route.method << " " << path;
    EXPECT_NE(dom.find(HtmlEscaped(summary)), std::string::npos)
        << route.method << " " << path << ": \"" << summary << "\" not rendered";
  }
  // And what lies around them: the job resource and its spec's fields, the error contract, and
  // the security schemes.
  for (const char* text : {"ImageJob", "callbackUrl", "application/problem+json", "ApiKeyMissing",
                           "X-API-Key", "bearerAuth"}) {
    EXPECT_NE(dom.find(text), std::string::npos) << text << " not rendered";
  }

  // The page asked pixq-api for its script and the description, and nobody else for anything.
  const json netlog = json::parse(testing::ReadFile(netlog_file), nullptr, false);
  ASSERT_FALSE(netlog.is_discarded()) << "no readable net log in " << netlog_file;
  std::set<std::string> page_requests;
  for (const PageRequest& request : RequestsIn(netlog)) {
    if (request.initiator != system.url()) continue;  // the navigation; Chromium's own
    EXPECT_EQ(request.url.rfind(system.url() + "/", 0), 0u)
        << "the page requested " << request.url << " from elsewhere";
    page_requests.insert(request.url.substr(system.url().size()));
  }
  EXPECT_TRUE(page_requests.contains("/docs/redoc.standalone.js")) << page_requests.size();
  EXPECT_TRUE(page_requests.contains("/openapi.json")) << page_requests.size();
  // What the Content-Security-Policy blocked never reaches the net log: it shows on the console.
  const std::string log = testing::ReadFile(log_file);
  EXPECT_EQ(log.find("Content Security Policy"), std::string::npos) << log;
  EXPECT_EQ(log.find("Uncaught"), std::string::npos) << log;
}

}  // namespace
}  // namespace pixq::http
