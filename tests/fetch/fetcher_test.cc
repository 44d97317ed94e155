// HttpFetcher against origins on loopback only. The guard is shown refusing loopback targets in
// every spelling; if it were broken, the request would still only reach a listener on this
// machine, which counts the connections it got.
#include "pkg/fetch/fetcher.h"

#include <gtest/gtest.h>

#include "pkg/errors/errors.h"
#include "tests/support/origin.h"

namespace pixq::fetch {
namespace {

using testing::Origin;
using testing::OriginReply;
using testing::OriginRequest;

FetchOptions AllowLoopback(const std::vector<std::string>& allowed = {"127.0.0.1"}) {
  FetchOptions options;
  options.connect_timeout = absl::Seconds(2);
  options.timeout = absl::Seconds(5);
  options.policy = *AddressPolicy::FromStrings(allowed);
  return options;
}

OriginReply Image(const OriginRequest&) {
  return {.headers = {{"Content-Type", "image/jpeg"}}, .body = std::string(1000, 'x')};
}

TEST(FetcherTest, DownloadsFromAnAllowedOrigin) {
  Origin origin(Image);
  HttpFetcher fetcher(AllowLoopback());
  absl::StatusOr<Response> r = fetcher.Get(origin.url() + "/photo.jpg");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, std::string(1000, 'x'));
  EXPECT_EQ(r->content_type, "image/jpeg");
  ASSERT_EQ(origin.requests().size(), 1u);
  EXPECT_EQ(origin.requests()[0].target, "/photo.jpg");
  EXPECT_EQ(origin.requests()[0].headers.at("user-agent"), "pixq");
}

TEST(FetcherTest, FollowsAFewRedirectsAndNoMore) {
  Origin origin([](const OriginRequest& r) -> OriginReply {
    // /hop/N redirects to /hop/N-1; /hop/0 is the image.
    const int n = std::stoi(r.target.substr(5));
    if (n == 0) return Image(r);
    return {.status = 302, .headers = {{"Location", "/hop/" + std::to_string(n - 1)}}};
  });
  HttpFetcher fetcher(AllowLoopback());
  absl::StatusOr<Response> r = fetcher.Get(origin.url() + "/hop/3");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->redirects, 3);
  EXPECT_EQ(r->final_url, origin.url() + "/hop/0");
  absl::StatusOr<Response> too_many = fetcher.Get(origin.url() + "/hop/4");
  EXPECT_EQ(errors::ReasonOf(too_many.status()), "TooManyRedirects");
  EXPECT_FALSE(errors::IsRetriable(too_many.status()));
}

TEST(FetcherTest, RefusesSchemesOtherThanHttpAlsoAfterARedirect) {
  Origin origin([](const OriginRequest&) -> OriginReply {
    return {.status = 302, .headers = {{"Location", "file:///etc/passwd"}}};
  });
  HttpFetcher fetcher(AllowLoopback());
  for (const std::string& url : {std::string("file:///etc/passwd"), std::string("gopher://x/"),
                                 std::string("ftp://127.0.0.1/a.jpg"), origin.url() + "/"}) {
    absl::StatusOr<Response> r = fetcher.Get(url);
    EXPECT_EQ(errors::ReasonOf(r.status()), "InvalidSourceUrl") << url << ": " << r.status();
  }
}

TEST(FetcherTest, StopsReadingABodyOverTheLimit) {
  Origin origin([](const OriginRequest& r) -> OriginReply {
    // /declared says how long it is; /streamed does not, so only counting can stop it.
    return {.body = std::string(300'000, 'x'), .content_length = r.target == "/declared"};
  });
  FetchOptions options = AllowLoopback();
  options.max_bytes = 100'000;
  HttpFetcher fetcher(options);
  for (const char* path : {"/declared", "/streamed"}) {
    absl::StatusOr<Response> r = fetcher.Get(origin.url() + path);
    EXPECT_EQ(errors::ReasonOf(r.status()), "SourceTooLarge") << path << ": " << r.status();
    EXPECT_FALSE(errors::IsRetriable(r.status()));
  }
}

TEST(FetcherTest, TellsPermanentAnswersFromTransientOnes) {
  Origin origin([](const OriginRequest& r) -> OriginReply {
    return {.status = std::stoi(r.target.substr(1))};
  });
  HttpFetcher fetcher(AllowLoopback());
  const std::pair<int, const char*> cases[] = {
      {404, "SourceNotFound"},   {410, "SourceNotFound"},    {403, "SourceRefused"},
      {400, "SourceRefused"},    {429, "SourceUnavailable"}, {500, "SourceUnavailable"},
      {503, "SourceUnavailable"}};
  for (const auto& [status, reason] : cases) {
    absl::StatusOr<Response> r = fetcher.Get(origin.url() + "/" + std::to_string(status));
    EXPECT_EQ(errors::ReasonOf(r.status()), reason) << status;
    EXPECT_EQ(errors::IsRetriable(r.status()), std::string(reason) == "SourceUnavailable")
        << status;
  }
}

TEST(FetcherTest, ASlowOriginTimesOutAsTransient) {
  Origin origin([](const OriginRequest& r) -> OriginReply {
    OriginReply reply = Image(r);
    reply.delay = absl::Seconds(1);
    return reply;
  });
  FetchOptions options = AllowLoopback();
  options.timeout = absl::Milliseconds(200);
  HttpFetcher fetcher(options);
  absl::StatusOr<Response> r = fetcher.Get(origin.url() + "/slow.jpg");
  EXPECT_EQ(errors::ReasonOf(r.status()), "SourceUnavailable") << r.status();
  EXPECT_TRUE(errors::IsRetriable(r.status()));
}

TEST(FetcherTest, ARefusedConnectionIsTransient) {
  int port = 0;
  {
    Origin gone(Image);
    port = gone.port();
  }  // closed: nothing listens there now
  HttpFetcher fetcher(AllowLoopback());
  absl::StatusOr<Response> r = fetcher.Get("http://127.0.0.1:" + std::to_string(port) + "/");
  EXPECT_EQ(errors::ReasonOf(r.status()), "SourceUnavailable") << r.status();
}

TEST(FetcherTest, TheGuardRefusesLoopbackInEverySpellingWithoutConnecting) {
  Origin v4(Image, "127.0.0.1");
  Origin v6(Image, "::1");
  const std::string p4 = std::to_string(v4.port());
  const std::string p6 = std::to_string(v6.port());
  HttpFetcher fetcher(FetchOptions{});  // the default policy: loopback denied
  for (const std::string& url :
       {"http://127.0.0.1:" + p4 + "/", "http://127.1:" + p4 + "/", "http://0x7f000001:" + p4 + "/",
        "http://2130706433:" + p4 + "/", "http://017700000001:" + p4 + "/",
        "http://localhost:" + p4 + "/", "http://[::ffff:127.0.0.1]:" + p4 + "/",
        "http://[::ffff:7f00:1]:" + p4 + "/", "http://[::1]:" + p6 + "/",
        "https://127.0.0.1:" + p4 + "/"}) {
    absl::StatusOr<Response> r = fetcher.Get(url);
    EXPECT_EQ(errors::ReasonOf(r.status()), "SourceForbidden") << url << ": " << r.status();
    EXPECT_FALSE(errors::IsRetriable(r.status())) << url;
  }
  EXPECT_EQ(v4.connections(), 0);
  EXPECT_EQ(v6.connections(), 0);
}

TEST(FetcherTest, TheGuardChecksWhereARedirectLeads) {
  Origin denied(Image, "127.0.0.2");  // loopback too, but not on the allow-list
  Origin allowed([&](const OriginRequest&) -> OriginReply {
    return {.status = 302, .headers = {{"Location", denied.url() + "/secret"}}};
  });
  HttpFetcher fetcher(AllowLoopback({"127.0.0.1"}));
  absl::StatusOr<Response> r = fetcher.Get(allowed.url() + "/innocent.jpg");
  EXPECT_EQ(errors::ReasonOf(r.status()), "SourceForbidden") << r.status();
  EXPECT_NE(r.status().message().find("127.0.0.2 (loopback)"), std::string_view::npos)
      << r.status();
  EXPECT_EQ(allowed.connections(), 1);
  EXPECT_EQ(denied.connections(), 0);
}

TEST(FetcherTest, PostsABodyWithHeadersAndFollowsNoRedirect) {
  Origin origin([](const OriginRequest& r) -> OriginReply {
    if (r.target == "/moved") return {.status = 302, .headers = {{"Location", "/hook"}}};
    return {.status = 204};
  });
  HttpFetcher fetcher(AllowLoopback());
  absl::StatusOr<Response> r =
      fetcher.Post(origin.url() + "/hook", R"({"a":1})",
                   {{"Content-Type", "application/json"}, {"X-Pixq-Signature", "sha256=ab"}});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(origin.requests().size(), 1u);
  const OriginRequest got = origin.requests()[0];
  EXPECT_EQ(got.method, "POST");
  EXPECT_EQ(got.body, R"({"a":1})");
  EXPECT_EQ(got.headers.at("content-type"), "application/json");
  EXPECT_EQ(got.headers.at("x-pixq-signature"), "sha256=ab");
  absl::StatusOr<Response> moved = fetcher.Post(origin.url() + "/moved", "{}", {});
  EXPECT_EQ(errors::ReasonOf(moved.status()), "SourceRefused") << moved.status();
  EXPECT_EQ(origin.requests().size(), 2u);
}

TEST(FetcherTest, RedactsCredentialsAndQueries) {
  EXPECT_EQ(RedactedUrl("https://user:pw@example.com/a.jpg?token=1#x"),
            "https://example.com/a.jpg");
  EXPECT_EQ(RedactedUrl("http://example.com/a@b.jpg"), "http://example.com/a@b.jpg");
}

}  // namespace
}  // namespace pixq::fetch
