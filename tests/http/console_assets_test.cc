// The web console's files (pkg/http/console) as pixq-api embeds and serves them: byte for byte
// what the repository holds, each with the console's Content-Security-Policy and nosniff, with
// no inline script or style and no markup made from data.

#include <filesystem>
#include <regex>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include <gtest/gtest.h>

#include "pkg/crypto/sha256.h"
#include "pkg/http/assets.h"
#include "tests/http/server_fixture.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"

namespace pixq::http {
namespace {

using testing::HttpGet;

const std::string& ConsoleSource() {
  static const std::string dir = std::string(PIXQ_SOURCE_DIR) + "/pkg/http/console";
  return dir;
}

// Every file of pkg/http/console.
std::set<std::string> ConsoleFiles() {
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(ConsoleSource())) {
    names.insert(entry.path().filename().string());
  }
  return names;
}

TEST(ConsoleAssetsTest, EmbedsEveryFileOfTheFolderByteForByte) {
  ASSERT_FALSE(ConsoleFiles().empty());
  for (const std::string& name : ConsoleFiles()) {
    const Asset* asset = ConsoleFile(name);
    ASSERT_NE(asset, nullptr) << name << " is not embedded: list it in pkg/http/CMakeLists.txt";
    EXPECT_EQ(asset->bytes, testing::ReadFile(ConsoleSource() + "/" + name)) << name;
    EXPECT_EQ(asset->sha256, crypto::Sha256Hex(asset->bytes)) << name;
  }
  EXPECT_EQ(ConsoleFile("nothing.js"), nullptr);
  EXPECT_EQ(ConsoleFile("../openapi.json"), nullptr);
}

TEST(ConsoleAssetsTest, PageHasNoInlineScriptOrStyleAndLoadsOnlyItsOwnFiles) {
  const std::string page(ConsoleFile("index.html")->bytes);
  EXPECT_NE(page.find("<script type=\"module\" src=\"/console/app.js\"></script>"),
            std::string::npos);
  EXPECT_EQ(page.find("<script>"), std::string::npos);
  EXPECT_EQ(page.find("<style"), std::string::npos);
  EXPECT_EQ(page.find(" style="), std::string::npos);
  EXPECT_FALSE(std::regex_search(page, std::regex(" on[a-z]+=", std::regex::icase)))
      << "an inline event handler";
  for (const char* external : {"src=\"http", "href=\"http", "src=\"//", "href=\"//"}) {
    EXPECT_EQ(page.find(external), std::string::npos) << external;
  }
}

TEST(ConsoleAssetsTest, ScriptsNeverParseMarkup) {
  for (const std::string& name : ConsoleFiles()) {
    if (!absl::EndsWith(name, ".js")) continue;
    const std::string script(ConsoleFile(name)->bytes);
    for (const char* sink : {".innerHTML", ".outerHTML", "insertAdjacentHTML", "document.write",
                             "eval(", "new Function", "javascript:"}) {
      EXPECT_EQ(script.find(sink), std::string::npos) << name << " uses " << sink;
    }
  }
}

class ConsoleServeTest : public ServerFixture {};

TEST_F(ConsoleServeTest, ServesEveryFileWithThePolicyAndNosniff) {
  std::set<std::string> paths = {"/console"};
  for (const std::string& name : ConsoleFiles()) {
    if (name != "index.html") paths.insert("/console/" + name);
  }
  for (const std::string& path : paths) {
    const testing::HttpResponse r = HttpGet(url_ + path);
    ASSERT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.Header("content-security-policy"),
              "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
              "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
        << path;
    EXPECT_EQ(r.Header("x-content-type-options"), "nosniff") << path;
    EXPECT_EQ(r.Header("referrer-policy"), "no-referrer") << path;
    const std::string type = r.Header("content-type");
    if (absl::EndsWith(path, ".js")) {
      EXPECT_TRUE(absl::StartsWith(type, "text/javascript")) << path << ": " << type;
    } else if (absl::EndsWith(path, ".css")) {
      EXPECT_TRUE(absl::StartsWith(type, "text/css")) << path << ": " << type;
    } else {
      EXPECT_TRUE(absl::StartsWith(type, "text/html")) << path << ": " << type;
    }
  }
  // index.html only as /console; a name it does not have is no route's.
  EXPECT_EQ(HttpGet(url_ + "/console/index.html").status, 404);
  EXPECT_EQ(HttpGet(url_ + "/console/nothing.js").status, 404);
  EXPECT_EQ(HttpGet(url_ + "/console/%2e%2e%2fopenapi.json").status, 404);
}

}  // namespace
}  // namespace pixq::http
