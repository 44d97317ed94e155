// CallEndpoint against origins on loopback (port 0) started in the test process.
#include "pkg/fetch/endpoint.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pkg/errors/errors.h"
#include "tests/support/origin.h"
#include "tests/support/process.h"

namespace pixq::fetch {
namespace {

using testing::Origin;
using testing::OriginReply;
using testing::OriginRequest;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(EndpointTest, GetsAnAnswerIntoMemoryWithItsHeadersSent) {
  Origin origin([](const OriginRequest&) {
    return OriginReply{.headers = {{"Content-Type", "application/json"}}, .body = R"({"a":1})"};
  });
  absl::StatusOr<EndpointResponse> r = CallEndpoint(
      {.url = origin.url() + "/v1/jobs?phase=Failed", .headers = {{"X-API-Key", "k"}}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"a":1})");
  EXPECT_EQ(r->content_type, "application/json");
  EXPECT_NE(std::find(r->headers.begin(), r->headers.end(),
                      std::pair<std::string, std::string>("content-type", "application/json")),
            r->headers.end());
  ASSERT_EQ(origin.requests().size(), 1u);
  EXPECT_EQ(origin.requests()[0].method, "GET");
  EXPECT_EQ(origin.requests()[0].target, "/v1/jobs?phase=Failed");
  EXPECT_EQ(origin.requests()[0].headers.at("x-api-key"), "k");
}

TEST(EndpointTest, ReturnsErrorAnswersAsAnswers) {
  Origin origin([](const OriginRequest&) { return OriginReply{.status = 409, .body = "busy"}; });
  absl::StatusOr<EndpointResponse> r =
      CallEndpoint({.method = "POST", .url = origin.url() + "/v1/jobs/j/retry"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 409);
  EXPECT_EQ(r->body, "busy");
  EXPECT_EQ(origin.requests()[0].method, "POST");
}

TEST(EndpointTest, StreamsAFileAsMultipartWithItsFields) {
  testing::TempDir dir;
  const std::string photo = dir.path() + "/photo.jpg";
  std::ofstream(photo, std::ios::binary) << std::string(100000, 'p');
  Origin origin([](const OriginRequest&) { return OriginReply{.status = 201, .body = "{}"}; });
  absl::StatusOr<EndpointResponse> r =
      CallEndpoint({.method = "POST",
                    .url = origin.url() + "/v1/images",
                    .form = {{.name = "image", .file_path = photo, .content_type = "image/jpeg"},
                             {.name = "title", .value = "a title"}}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 201);
  ASSERT_EQ(origin.requests().size(), 1u);
  const OriginRequest sent = origin.requests()[0];
  EXPECT_NE(sent.headers.at("content-type").find("multipart/form-data; boundary="),
            std::string::npos)
      << sent.headers.at("content-type");
  EXPECT_NE(sent.body.find(R"(name="image"; filename="photo.jpg")"), std::string::npos);
  EXPECT_NE(sent.body.find(std::string(100000, 'p')), std::string::npos);
  EXPECT_NE(sent.body.find("a title"), std::string::npos);
}

TEST(EndpointTest, WritesASuccessfulAnswerToTheOutputFileOnlyWhenComplete) {
  testing::TempDir dir;
  Origin origin([](const OriginRequest& r) {
    if (r.target == "/missing") return OriginReply{.status = 404, .body = "no such output"};
    return OriginReply{.headers = {{"Content-Type", "image/webp"}}, .body = "RIFFxxxxWEBP"};
  });
  const std::string out = dir.path() + "/out.webp";
  absl::StatusOr<EndpointResponse> r =
      CallEndpoint({.url = origin.url() + "/output", .output_file = out});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(r->body.empty());
  EXPECT_EQ(r->bytes, 12);
  EXPECT_EQ(ReadAll(out), "RIFFxxxxWEBP");
  struct stat st {};
  ASSERT_EQ(::stat(out.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);

  // An error answer is read into memory and leaves no file behind, not even a temporary one.
  const std::string missing = dir.path() + "/missing.webp";
  r = CallEndpoint({.url = origin.url() + "/missing", .output_file = missing});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->body, "no such output");
  EXPECT_FALSE(std::filesystem::exists(missing));
  int entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, 1) << "only out.webp";
}

TEST(EndpointTest, RemovesOnlyTheTemporaryFilesNoDownloadHolds) {
  testing::TempDir dir;
  const auto make = [&](const std::string& name) {
    const std::string path = dir.path() + "/" + name;
    std::ofstream(path) << "part";
    return path;
  };
  const std::string left = make(".out.webp.Ab12Cd");     // a killed download's leftover
  const std::string running = make(".out.webp.Zz99Yy");  // one still being written
  const std::string other = make(".other.webp.Ab12Cd");  // another output's: not asked about
  const std::string users = make(".config.backup");      // a hidden file of the user's
  const std::string output = make("out.webp");           // the output itself
  const int held = ::open(running.c_str(), O_RDONLY);
  ASSERT_GE(held, 0);
  ASSERT_EQ(::flock(held, LOCK_EX), 0);

  EXPECT_EQ(RemoveAbandonedDownloads({dir.path() + "/out.webp", dir.path() + "/absent/x.webp"}), 1);
  EXPECT_FALSE(std::filesystem::exists(left));
  EXPECT_TRUE(std::filesystem::exists(running));
  EXPECT_TRUE(std::filesystem::exists(other));
  EXPECT_TRUE(std::filesystem::exists(users));
  EXPECT_TRUE(std::filesystem::exists(output));
  ::close(held);
  EXPECT_EQ(RemoveAbandonedDownloads({dir.path() + "/out.webp"}), 1) << "its writer is gone";
}

TEST(EndpointTest, SaysWhichFileCannotBeSentOrWritten) {
  testing::TempDir dir;
  Origin origin([](const OriginRequest&) { return OriginReply{.body = "x"}; });
  absl::StatusOr<EndpointResponse> r =
      CallEndpoint({.method = "POST",
                    .url = origin.url(),
                    .form = {{.name = "image", .file_path = dir.path() + "/absent.jpg"}}});
  EXPECT_EQ(errors::ReasonOf(r.status()), "StorageError");
  EXPECT_NE(r.status().message().find("absent.jpg"), std::string_view::npos);
  EXPECT_TRUE(origin.requests().empty()) << "nothing sent";
  r = CallEndpoint({.url = origin.url(), .output_file = dir.path() + "/no/such/dir/out"});
  EXPECT_EQ(errors::ReasonOf(r.status()), "StorageError");
}

TEST(EndpointTest, SaysWhenNothingAnswers) {
  const int port = testing::FreeLoopbackPort();
  absl::StatusOr<EndpointResponse> r = CallEndpoint(
      {.url = "http://127.0.0.1:" + std::to_string(port) + "/", .timeout = absl::Seconds(5)});
  EXPECT_EQ(errors::ReasonOf(r.status()), "EndpointUnreachable");
  EXPECT_EQ(
      errors::ReasonOf(CallEndpoint({.method = "PATCH", .url = "http://127.0.0.1/"}).status()),
      "InvalidArgument");
}

}  // namespace
}  // namespace pixq::fetch
