// The API description (pkg/http/openapi.json, served at GET /openapi.json) is the contract: it
// lists exactly the routes the server registers, with the access each has, and every answer the
// server gives is one it lists, in a media type it lists. Hermetic: the server runs on fakes.
//
// With PIXQ_OPENAPI_SAMPLES_DIR set, the real answers are also written there (one JSON file per
// test), and tests/openapi/validate.mjs checks their bodies against the description's schemas.

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "pkg/crypto/sha256.h"
#include "pkg/errors/errors.h"
#include "pkg/http/assets.h"
#include "pkg/http/server.h"
#include "pkg/job/ids.h"
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
using testing::MultipartBody;

const json& Spec() {
  static const json spec = json::parse(OpenApiJson().bytes);
  return spec;
}

// Follows a local "$ref" ("#/components/...") to what it names.
const json& Resolve(const json& node) {
  if (!node.is_object() || !node.contains("$ref")) return node;
  const json::json_pointer pointer(node["$ref"].get<std::string>().substr(1));
  return Resolve(Spec().at(pointer));
}

const std::vector<std::string>& HttpMethods() {
  static const std::vector<std::string> methods = {"get",   "put",     "post",  "delete",
                                                   "patch", "options", "trace", "head"};
  return methods;
}

std::string Describe(const std::set<std::string>& set) { return absl::StrJoin(set, "\n  "); }

// "GET /v1/jobs/{id}" for every route the server registers, and for every operation described.
std::set<std::string> RegisteredOperations() {
  std::set<std::string> out;
  for (const RouteInfo& route : ApiServer::RegisteredRoutes()) {
    out.insert(route.method + " " + OpenApiPath(route.path));
  }
  return out;
}

std::set<std::string> DescribedOperations() {
  std::set<std::string> out;
  for (const auto& [path, item] : Spec().at("paths").items()) {
    for (const std::string& method : HttpMethods()) {
      if (item.contains(method)) out.insert(absl::AsciiStrToUpper(method) + " " + path);
    }
  }
  return out;
}

const json& Operation(const std::string& method, const std::string& openapi_path) {
  return Spec().at("paths").at(openapi_path).at(absl::AsciiStrToLower(method));
}

TEST(OpenApiTest, DescribesEveryRegisteredRouteAndNoOther) {
  const std::set<std::string> registered = RegisteredOperations();
  const std::set<std::string> described = DescribedOperations();
  ASSERT_FALSE(registered.empty());
  std::set<std::string> undescribed, unregistered;
  std::set_difference(registered.begin(), registered.end(), described.begin(), described.end(),
                      std::inserter(undescribed, undescribed.end()));
  std::set_difference(described.begin(), described.end(), registered.begin(), registered.end(),
                      std::inserter(unregistered, unregistered.end()));
  EXPECT_TRUE(undescribed.empty())
      << "routes the server registers that pkg/http/openapi.json does not describe:\n  "
      << Describe(undescribed);
  EXPECT_TRUE(unregistered.empty())
      << "operations pkg/http/openapi.json describes that the server does not register:\n  "
      << Describe(unregistered);
  EXPECT_EQ(ApiServer::RegisteredRoutes().size(), registered.size()) << "a route registered twice";
}

TEST(OpenApiTest, DescribesWhoMayCallEachRoute) {
  for (const RouteInfo& route : ApiServer::RegisteredRoutes()) {
    const std::string path = OpenApiPath(route.path);
    if (!Spec()["paths"].contains(path)) continue;  // reported by the test above
    const json& operation = Operation(route.method, path);
    // An operation's own `security` replaces the document's.
    const json& security =
        operation.contains("security") ? operation["security"] : Spec()["security"];
    std::set<std::string> schemes;
    for (const json& requirement : security) {
      ASSERT_EQ(requirement.size(), 1u) << "one scheme per alternative: " << path;
      schemes.insert(requirement.begin().key());
    }
    std::set<std::string> expected;
    switch (route.access) {
      case RouteAccess::kOpen:
        break;
      case RouteAccess::kKey:
        expected = {"apiKeyHeader", "bearerAuth"};
        break;
      case RouteAccess::kKeyOrSignature:
        expected = {"apiKeyHeader", "bearerAuth", "signedUrl"};
        break;
    }
    EXPECT_EQ(schemes, expected) << route.method << " " << path;
    const bool documents_401 = operation["responses"].contains("401");
    EXPECT_EQ(documents_401, route.access != RouteAccess::kOpen) << route.method << " " << path;
    const bool documents_403 = operation["responses"].contains("403");
    EXPECT_EQ(documents_403, route.access == RouteAccess::kKeyOrSignature)
        << route.method << " " << path;
  }
}

TEST(OpenApiTest, WritesPistachePathParametersAsTemplates) {
  EXPECT_EQ(OpenApiPath("/v1/jobs/:id"), "/v1/jobs/{id}");
  EXPECT_EQ(OpenApiPath("/v1/jobs/:id/output"), "/v1/jobs/{id}/output");
  EXPECT_EQ(OpenApiPath("/v1/images/:id/:variant"), "/v1/images/{id}/{variant}");
  EXPECT_EQ(OpenApiPath("/healthz"), "/healthz");
  EXPECT_EQ(OpenApiPath("/docs/redoc.standalone.js"), "/docs/redoc.standalone.js");
  EXPECT_EQ(OpenApiPath("/"), "/");
}

TEST(OpenApiTest, EmbedsTheRepositoryFilesByteForByte) {
  const std::string source = PIXQ_SOURCE_DIR;
  EXPECT_EQ(OpenApiJson().bytes, testing::ReadFile(source + "/pkg/http/openapi.json"))
      << "rebuild: the embedded description is not pkg/http/openapi.json";
  EXPECT_EQ(DocsPage().bytes, testing::ReadFile(source + "/pkg/http/docs.html"));
  for (const Asset* asset : {&OpenApiJson(), &DocsPage(), &DocsScript()}) {
    EXPECT_EQ(asset->sha256, crypto::Sha256Hex(asset->bytes));
  }
  // Redoc's bundle, with its licence in front and nothing from a CDN.
  EXPECT_GT(DocsScript().bytes.size(), 500'000u);
  EXPECT_EQ(DocsScript().bytes.find("/*! Redoc "), 0u);
  EXPECT_NE(DocsScript().bytes.find("The MIT License"), std::string_view::npos);
  EXPECT_EQ(DocsScript().bytes.find("cdn.redoc.ly"), std::string_view::npos);
  EXPECT_FALSE(RedocVersion().empty());
}

TEST(OpenApiTest, IsOpenApi31ForThisVersionOfPixq) {
  EXPECT_EQ(Spec()["openapi"], "3.1.0");
  EXPECT_EQ(Spec()["info"]["version"], PIXQ_VERSION) << "the project's version (CMakeLists.txt)";
}

TEST(OpenApiTest, DocsPageLoadsNothingFromElsewhere) {
  const std::string_view page = DocsPage().bytes;
  for (std::string_view external : {"http:", "https:", "//"}) {
    // "//" as in a scheme-relative URL; the page has no comment lines that start so.
    EXPECT_EQ(page.find(std::string(" src=\"") + std::string(external)), std::string_view::npos);
    EXPECT_EQ(page.find(std::string(" href=\"") + std::string(external)), std::string_view::npos);
    EXPECT_EQ(page.find(std::string(" spec-url=\"") + std::string(external)),
              std::string_view::npos);
  }
  EXPECT_NE(page.find("spec-url=\"openapi.json\""), std::string_view::npos);
  EXPECT_NE(page.find("src=\"docs/redoc.standalone.js\""), std::string_view::npos);
}

// The real server on fakes, with auth and signed URLs on (as the chart runs it, and so that
// every field and answer the description lists can appear). Each answer goes through Check().
class RealAnswersTest : public ServerFixture {
 protected:
  static constexpr char kKey[] = "openapi-test-key-0123456789";

  RealAnswersTest() {
    auth_options_ = {.enabled = true,
                     .api_key_sha256 = {crypto::Sha256Hex(kKey)},
                     .signing_key = "signing-key-signing-key-signing-key",
                     .signed_url_ttl = absl::Minutes(5)};
  }

  void TearDown() override {
    ServerFixture::TearDown();
    const char* dir = std::getenv("PIXQ_OPENAPI_SAMPLES_DIR");
    if (dir == nullptr || *dir == '\0') return;
    const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
    std::ofstream out(std::string(dir) + "/" + test->test_suite_name() + "." + test->name() +
                      ".json");
    out << samples_.dump(2) << "\n";
    EXPECT_TRUE(out.good()) << "cannot write the samples to " << dir;
  }

  void Apply() { feed_.Apply(); }

  static std::map<std::string, std::string> Key(std::map<std::string, std::string> headers = {}) {
    headers["X-API-Key"] = kKey;
    return headers;
  }

  // Checks that the operation lists the answer's status (not only under "default") and its
  // media type, and keeps the answer (and a JSON request) for the schema check.
  HttpResponse Check(const std::string& method, const std::string& route, HttpResponse r,
                     const std::string& json_request = "") {
    const std::string path = OpenApiPath(route);
    const std::string what = method + " " + path + " answered " + std::to_string(r.status);
    const json& responses = Operation(method, path).at("responses");
    const std::string status = std::to_string(r.status);
    EXPECT_TRUE(responses.contains(status)) << what << ", which the description does not list";
    std::string media_type = r.Header("content-type");
    media_type =
        std::string(absl::StripAsciiWhitespace(media_type.substr(0, media_type.find(';'))));
    if (responses.contains(status)) {
      const json& response = Resolve(responses[status]);
      if (media_type.empty() || r.body.empty()) {
        EXPECT_FALSE(response.contains("content")) << what << " without a body";
      } else {
        bool listed = false;
        if (auto content = response.find("content"); content != response.end()) {
          for (auto it = content->begin(); it != content->end(); ++it) {
            listed = listed || it.key().substr(0, it.key().find(';')) == media_type;
          }
        }
        EXPECT_TRUE(listed) << what << " in " << media_type << ", which it does not list";
      }
    }
    json body = nullptr;
    if (media_type == "application/json" || media_type == "application/problem+json") {
      body = json::parse(r.body, nullptr, false);
      EXPECT_FALSE(body.is_discarded()) << what << " with a body that is not JSON: " << r.body;
    }
    json sample = {{"method", method},
                   {"path", path},
                   {"status", status},
                   {"mediaType", media_type},
                   {"body", body}};
    if (json request = json::parse(json_request, nullptr, false); !request.is_discarded()) {
      sample["request"] = std::move(request);
    }
    samples_.push_back(std::move(sample));
    return r;
  }

  HttpResponse Get(const std::string& route, const std::string& url,
                   std::map<std::string, std::string> headers = Key()) {
    return Check("GET", route, HttpGet(url_ + url, headers));
  }
  HttpResponse Delete(const std::string& route, const std::string& url,
                      std::map<std::string, std::string> headers = Key()) {
    return Check("DELETE", route, testing::HttpDelete(url_ + url, headers));
  }
  HttpResponse Post(const std::string& route, const std::string& url, const std::string& body,
                    const std::string& content_type,
                    std::map<std::string, std::string> headers = Key()) {
    return Check("POST", route, HttpPost(url_ + url, body, content_type, headers),
                 content_type == "application/json" ? body : "");
  }

  std::string Upload(int width) {
    HttpResponse r = Post("/v1/images", "/v1/images?title=t", Png(width, 20), "image/png");
    EXPECT_EQ(r.status, 201) << r.body;
    Apply();
    return json::parse(r.body, nullptr, false).value("id", "");
  }

  // A job on `image`, made to succeed as a worker would: output written, Succeeded published.
  json SucceededJob(const std::string& image, const std::string& spec_tail) {
    HttpResponse created =
        Post("/v1/jobs", "/v1/jobs", R"({"source":{"imageId":")" + image + "\"}" + spec_tail + "}",
             "application/json");
    EXPECT_EQ(created.status, 202) << created.body;
    Apply();
    absl::StatusOr<job::JobRecord> record =
        service_->GetJob(json::parse(created.body)["metadata"]["id"]);
    EXPECT_TRUE(record.ok()) << record.status();
    if (!record.ok()) return json();
    absl::StatusOr<std::string> path = store_->PutOutput(
        record->output_key, job::FormatExtension(record->spec.output.format), Png(8, 8));
    EXPECT_TRUE(path.ok()) << path.status();
    record->status.phase = job::Phase::kSucceeded;
    record->status.attempts = 1;
    record->status.started_at = record->created_at;
    record->status.finished_at = record->created_at;
    record->status.worker = "worker-1";
    record->status.output = job::OutputInfo{
        .path = *path, .format = record->spec.output.format, .width = 8, .height = 8, .bytes = 70};
    EXPECT_TRUE(jobs_.Apply(record->id, job::ToJson(*record).dump()).ok());
    return json::parse(Get("/v1/jobs/:id", "/v1/jobs/" + record->id).body);
  }

  // A worker, on another thread: once the request that queues the next job after
  // `queued_before` jobs waits for it (up to `wait`, from now), that job goes Running, then ends
  // in `phase` (Succeeded with an output written, or Failed), so that the wait sees it.
  std::thread FinishNextJob(size_t queued_before, job::Phase phase, absl::Duration wait) {
    const absl::Time deadline = clock_.Now() + wait;
    return std::thread([this, queued_before, phase, deadline] {
      const std::vector<queue::OutgoingMessage> queued =
          producer_.AwaitSentTo("pixq.jobs", queued_before + 1);
      Apply();
      absl::StatusOr<job::JobRecord> record = job::RecordFromJson(queued[queued_before].value);
      ASSERT_TRUE(record.ok());
      clock_.AwaitDeadline(deadline);
      record->status.phase = job::Phase::kRunning;
      record->status.attempts = 1;
      ASSERT_TRUE(jobs_.Apply(record->id, job::ToJson(*record).dump()).ok());
      record->status.phase = phase;
      if (phase == job::Phase::kSucceeded) {
        absl::StatusOr<std::string> path = store_->PutOutput(
            record->output_key, job::FormatExtension(record->spec.output.format), Png(8, 8));
        ASSERT_TRUE(path.ok());
        record->status.output = job::OutputInfo{.path = *path,
                                                .format = record->spec.output.format,
                                                .width = 8,
                                                .height = 8,
                                                .bytes = 70};
      } else {
        record->status.reason = "CorruptImage";
        record->status.message = "the image could not be decoded";
      }
      ASSERT_TRUE(jobs_.Apply(record->id, job::ToJson(*record).dump()).ok());
    });
  }

  json samples_ = json::array();
};

TEST_F(RealAnswersTest, ImagesAnswerAsDescribed) {
  const std::string id = Upload(30);
  EXPECT_EQ(Post("/v1/images", "/v1/images", Png(30, 20), "image/png").status, 200);
  EXPECT_EQ(Check("POST", "/v1/images",
                  HttpPostForm(url_ + "/v1/images", {{.name = "image",
                                                      .data = Png(32, 20),
                                                      .filename = "a.png",
                                                      .content_type = "image/png"},
                                                     {.name = "title", .data = "A"}}))
                .status,
            401);  // the form helper sends no key
  EXPECT_EQ(Post("/v1/images", "/v1/images", "plain text", "text/plain").status, 415);
  EXPECT_EQ(Post("/v1/images", "/v1/images", "", "image/png").status, 400);
  EXPECT_EQ(Post("/v1/images", "/v1/images", std::string((1 << 20) + 10, 'x'), "image/png").status,
            413);
  EXPECT_EQ(Post("/v1/images", "/v1/images", Png(30, 20), "image/png", {}).status, 401);

  const json meta = json::parse(Get("/v1/images/:id", "/v1/images/" + id).body);
  EXPECT_EQ(Get("/v1/images/:id", "/v1/images/" + std::string(64, 'f')).status, 404);
  EXPECT_EQ(Get("/v1/images/:id", "/v1/images/" + id, {}).status, 401);

  HttpResponse content = Get("/v1/images/:id/content", "/v1/images/" + id + "/content");
  EXPECT_EQ(content.status, 200);
  EXPECT_EQ(Get("/v1/images/:id/content", "/v1/images/" + id + "/content",
                Key({{"If-None-Match", content.Header("etag")}}))
                .status,
            304);
  const std::string signed_url = meta.value("signedContentUrl", "");
  EXPECT_EQ(Get("/v1/images/:id/content", signed_url, {}).status, 200);
  EXPECT_EQ(Get("/v1/images/:id/content", signed_url + "0", {}).status, 403);
  EXPECT_EQ(Get("/v1/images/:id/content", "/v1/images/" + std::string(64, 'a') + "/content").status,
            404);
}

TEST_F(RealAnswersTest, JobsAnswerAsDescribed) {
  const std::string image = Upload(40);
  const std::string source = R"({"source":{"imageId":")" + image + "\"}";
  // Every step and output field, in the bare form and in the resource form.
  const json done = SucceededJob(
      image,
      R"(,"steps":[{"op":"resize","width":20,"fit":"inside"},{"op":"crop","width":10,"height":10,"gravity":"north"},
         {"op":"crop","x":0,"y":0,"width":5,"height":5},{"op":"rotate","degrees":-90},{"op":"mirror"},{"op":"flip"},
         {"op":"grayscale"},{"op":"blur","sigma":2},{"op":"sharpen","sigma":1,"amount":0.5}],
         "output":{"format":"webp","quality":70,"maxBytes":10000},"labels":{"team":"web"},
         "callbackUrl":"https://hooks.example/pixq")");
  ASSERT_TRUE(done.contains("status")) << done.dump();
  EXPECT_EQ(done["status"]["phase"], "Succeeded");
  const std::string id = done["metadata"]["id"];
  const std::string resource =
      R"({"apiVersion":"pixq/v1","kind":"ImageJob","metadata":{"labels":{"a":"b"}},
      "spec":{"source":{"imageId":")" +
      image +
      R"("},"steps":[{"op":"resize","width":30,"height":10,"fit":"cover"}],
      "output":{"format":"png"}}})";
  EXPECT_EQ(Post("/v1/jobs", "/v1/jobs", resource, "application/json").status, 202);
  Apply();

  // The same image, steps and output again: a cache hit.
  const std::string same = R"(,"steps":[{"op":"grayscale"}],"output":{"format":"jpg"})";
  SucceededJob(image, same);
  EXPECT_EQ(Post("/v1/jobs", "/v1/jobs", source + same + "}", "application/json").status, 201);

  EXPECT_EQ(Post("/v1/jobs", "/v1/jobs", "{", "application/json").status, 400);
  EXPECT_EQ(Post("/v1/jobs", "/v1/jobs", "{}", "application/json").status, 422);
  EXPECT_EQ(
      Post("/v1/jobs", "/v1/jobs", source + R"(,"steps":[{"op":"resize"}]})", "application/json")
          .status,
      422);
  EXPECT_EQ(Post("/v1/jobs", "/v1/jobs",
                 R"({"source":{"imageId":")" + std::string(64, 'e') + "\"}}", "application/json")
                .status,
            422);
  EXPECT_EQ(Post("/v1/jobs", "/v1/jobs", "{}", "text/csv").status, 415);
  EXPECT_EQ(Post("/v1/jobs", "/v1/jobs", std::string(5000, ' '), "application/json").status, 413);
  EXPECT_EQ(Post("/v1/jobs", "/v1/jobs", R"({"source":{"url":"https://example.com/a.jpg"}})",
                 "application/json")
                .status,
            202);
  EXPECT_EQ(Post("/v1/jobs", "/v1/jobs", source + "}", "application/json", {}).status, 401);

  // Reads, a long-poll, and the output in every state.
  EXPECT_EQ(Get("/v1/jobs/:id", "/v1/jobs/" + id + "?wait=100ms").status, 200);
  EXPECT_EQ(Get("/v1/jobs/:id", "/v1/jobs/" + id + "?wait=soon").status, 400);
  EXPECT_EQ(Get("/v1/jobs/:id", "/v1/jobs/j_01HV3K9Q6Y0S4W7T1F2D5G8B9C").status, 404);
  HttpResponse output = Get("/v1/jobs/:id/output", "/v1/jobs/" + id + "/output");
  EXPECT_EQ(output.status, 200);
  EXPECT_EQ(Get("/v1/jobs/:id/output", "/v1/jobs/" + id + "/output",
                Key({{"If-None-Match", output.Header("etag")}}))
                .status,
            304);
  EXPECT_EQ(Get("/v1/jobs/:id/output", done["status"]["output"].value("signedUrl", "/missing"), {})
                .status,
            200);
  EXPECT_EQ(
      Get("/v1/jobs/:id/output", "/v1/jobs/" + id + "/output?expires=1&signature=00", {}).status,
      403);

  HttpResponse pending = Post("/v1/jobs", "/v1/jobs", source + "}", "application/json");
  ASSERT_EQ(pending.status, 202);
  Apply();
  const std::string pending_id = json::parse(pending.body)["metadata"]["id"];
  EXPECT_EQ(Get("/v1/jobs/:id/output", "/v1/jobs/" + pending_id + "/output").status, 409);
  absl::StatusOr<job::JobRecord> failed = service_->GetJob(pending_id);
  ASSERT_TRUE(failed.ok());
  failed->status.phase = job::Phase::kFailed;
  failed->status.attempts = 1;
  failed->status.reason = "CorruptImage";
  failed->status.message = "the image could not be decoded";
  ASSERT_TRUE(jobs_.Apply(pending_id, job::ToJson(*failed).dump()).ok());
  EXPECT_EQ(Get("/v1/jobs/:id", "/v1/jobs/" + pending_id).status, 200);
  EXPECT_EQ(Get("/v1/jobs/:id/output", "/v1/jobs/" + pending_id + "/output").status, 422);
  EXPECT_EQ(Get("/v1/jobs/:id/output", "/v1/jobs/j_01HV3K9Q6Y0S4W7T1F2D5G8B9C/output").status, 404);
  EXPECT_EQ(Get("/v1/jobs/:id", "/v1/jobs/" + pending_id + "?wait=100ms&until=done").status, 200);
  EXPECT_EQ(Get("/v1/jobs/:id", "/v1/jobs/" + pending_id + "?wait=1s&until=ended").status, 400);

  // The failed job retried: the new attempt (202), the same again, and every refusal.
  const std::string retry = "/v1/jobs/" + pending_id + "/retry";
  EXPECT_EQ(
      Post("/v1/jobs/:id/retry", retry, "", "application/json", Key({{"Idempotency-Key", "r-1"}}))
          .status,
      202);
  EXPECT_EQ(Post("/v1/jobs/:id/retry", retry, "", "application/json").status, 202);
  EXPECT_EQ(Post("/v1/jobs/:id/retry", retry, "", "application/json",
                 Key({{"Idempotency-Key", std::string(300, 'k')}}))
                .status,
            400);
  EXPECT_EQ(Post("/v1/jobs/:id/retry", "/v1/jobs/" + id + "/retry", "", "application/json").status,
            409);
  EXPECT_EQ(Post("/v1/jobs/:id/retry", "/v1/jobs/j_01HV3K9Q6Y0S4W7T1F2D5G8B9C/retry", "",
                 "application/json")
                .status,
            404);
  EXPECT_EQ(Post("/v1/jobs/:id/retry", retry, "", "application/json", {}).status, 401);
  failed->status.retries = 1;
  ASSERT_TRUE(jobs_.Apply(pending_id, job::ToJson(*failed).dump()).ok());  // failed again

  producer_.FailTopic("*");
  EXPECT_EQ(Post("/v1/jobs", "/v1/jobs", source + "}", "application/json").status, 503);
  EXPECT_EQ(Post("/v1/jobs/:id/retry", retry, "", "application/json").status, 503);
}

TEST_F(RealAnswersTest, BatchesYamlAndIdempotencyAnswerAsDescribed) {
  const std::string image = Upload(40);
  const std::string other = Upload(48);
  const std::string spec = R"({"source":{"imageId":")" + image + R"("},"steps":[{"op":"flip"}]})";
  // The same Idempotency-Key and body: the same job; another body: refused.
  HttpResponse first =
      Post("/v1/jobs", "/v1/jobs", spec, "application/json", Key({{"Idempotency-Key", "k-1"}}));
  ASSERT_EQ(first.status, 202) << first.body;
  Apply();
  HttpResponse again =
      Post("/v1/jobs", "/v1/jobs", spec, "application/json", Key({{"Idempotency-Key", "k-1"}}));
  EXPECT_EQ(again.status, 202);
  EXPECT_EQ(json::parse(again.body)["metadata"]["id"], json::parse(first.body)["metadata"]["id"]);
  EXPECT_EQ(Post("/v1/jobs", "/v1/jobs", R"({"source":{"imageId":")" + image + R"("}})",
                 "application/json", Key({{"Idempotency-Key", "k-1"}}))
                .status,
            422);
  EXPECT_EQ(Post("/v1/jobs", "/v1/jobs", spec, "application/json",
                 Key({{"Idempotency-Key", std::string(300, 'k')}}))
                .status,
            400);
  // YAML.
  EXPECT_EQ(Post("/v1/jobs", "/v1/jobs",
                 "source:\n  imageId: \"" + image + "\"\nsteps:\n  - op: resize\n    width: 10\n",
                 "application/yaml")
                .status,
            202);
  EXPECT_EQ(Post("/v1/jobs", "/v1/jobs", "source: [unclosed", "application/yaml").status, 400);

  // Batches: a list of specs, or images and a shared spec.
  HttpResponse listed = Post("/v1/batches", "/v1/batches",
                             R"({"jobs":[)" + spec + "," + spec + "]}", "application/json");
  ASSERT_EQ(listed.status, 202) << listed.body;
  const json shared_body = {{"images", {image, other}},
                            {"steps", json::array({{{"op", "resize"}, {"width", 12}}})},
                            {"output", {{"format", "png"}}}};
  HttpResponse shared = Post("/v1/batches", "/v1/batches", shared_body.dump(), "application/json",
                             Key({{"Idempotency-Key", "b-1"}}));
  ASSERT_EQ(shared.status, 202) << shared.body;
  Apply();
  const std::string batch = json::parse(shared.body)["metadata"]["id"];
  EXPECT_EQ(json::parse(Post("/v1/batches", "/v1/batches", shared_body.dump(), "application/json",
                             Key({{"Idempotency-Key", "b-1"}}))
                            .body)["metadata"]["id"],
            batch);
  HttpResponse read = Get("/v1/batches/{id}", "/v1/batches/" + batch);
  ASSERT_EQ(read.status, 200);
  EXPECT_EQ(json::parse(read.body)["status"]["jobs"], 2);
  EXPECT_EQ(Get("/v1/batches/{id}", "/v1/batches/b_01HV3K9Q6Y0S4W7T1F2D5G8B9C").status, 404);
  EXPECT_EQ(Post("/v1/batches", "/v1/batches", R"({"jobs":[)" + spec + R"(,{"steps":[]}]})",
                 "application/json")
                .status,
            422);
  EXPECT_EQ(Post("/v1/batches", "/v1/batches", "{", "application/json").status, 400);
  EXPECT_EQ(Post("/v1/batches", "/v1/batches", "{}", "text/csv").status, 415);
  EXPECT_EQ(Post("/v1/batches", "/v1/batches", std::string(5000, ' '), "application/json").status,
            413);
  EXPECT_EQ(Post("/v1/batches", "/v1/batches", "{}", "application/json", {}).status, 401);
  producer_.FailTopic("*");
  EXPECT_EQ(
      Post("/v1/batches", "/v1/batches", R"({"jobs":[)" + spec + "]}", "application/json").status,
      503);
}

TEST_F(RealAnswersTest, CatalogueAndJobListsAnswerAsDescribed) {
  const std::string first = Upload(50);
  Upload(51);
  Upload(52);
  const json page = json::parse(Get("/v1/images", "/v1/images?limit=2").body);
  ASSERT_TRUE(page["nextPageToken"].is_string()) << page.dump();
  const json last = json::parse(
      Get("/v1/images", "/v1/images?limit=2&pageToken=" + page["nextPageToken"].get<std::string>())
          .body);
  EXPECT_TRUE(last["nextPageToken"].is_null());
  EXPECT_EQ(Get("/v1/images", "/v1/images?title=T").status, 200);
  EXPECT_EQ(Get("/v1/images", "/v1/images?limit=ten").status, 400);
  EXPECT_EQ(Get("/v1/images", "/v1/images?pageToken=abc").status, 400);
  EXPECT_EQ(Get("/v1/images", "/v1/images", {}).status, 401);

  // Jobs in every phase, listed with their filters.
  SucceededJob(first, R"(,"steps":[{"op":"flip"}])");
  HttpResponse pending = Post("/v1/jobs", "/v1/jobs", R"({"source":{"imageId":")" + first + "\"}}",
                              "application/json");
  ASSERT_EQ(pending.status, 202);
  Apply();
  const std::string pending_id = json::parse(pending.body)["metadata"]["id"];
  const json all = json::parse(Get("/v1/jobs", "/v1/jobs?limit=1").body);
  ASSERT_TRUE(all["nextPageToken"].is_string());
  EXPECT_EQ(Get("/v1/jobs", "/v1/jobs?pageToken=" + all["nextPageToken"].get<std::string>()).status,
            200);
  EXPECT_EQ(json::parse(Get("/v1/jobs", "/v1/jobs?phase=Pending,Running").body)["items"].size(),
            1u);
  EXPECT_EQ(Get("/v1/jobs", "/v1/jobs?phase=Queued").status, 400);
  // An image's jobs, newest first (issues 16, 19).
  const json of_image =
      json::parse(Get("/v1/jobs", "/v1/jobs?image=" + first + "&order=desc&limit=1").body);
  ASSERT_EQ(of_image["items"].size(), 1u) << of_image.dump();
  EXPECT_EQ(of_image["items"][0]["metadata"]["id"], pending_id);
  ASSERT_TRUE(of_image["nextPageToken"].is_string());
  EXPECT_EQ(Get("/v1/jobs", "/v1/jobs?image=" + first +
                                "&pageToken=" + of_image["nextPageToken"].get<std::string>())
                .status,
            200);
  EXPECT_EQ(Get("/v1/jobs", "/v1/jobs?image=cat").status, 400);
  EXPECT_EQ(Get("/v1/jobs", "/v1/jobs?order=newest").status, 400);
  std::set<std::string> declared;
  for (const json& p : Operation("GET", "/v1/jobs").at("parameters")) {
    declared.insert(Resolve(p).at("name").get<std::string>());
  }
  for (const char* name : {"phase", "image", "order", "limit", "pageToken"}) {
    EXPECT_TRUE(declared.contains(name)) << "GET /v1/jobs does not declare ?" << name;
  }
  EXPECT_EQ(Get("/v1/jobs", "/v1/jobs", {}).status, 401);

  // Deleting: a job only once it has finished; an image with its outputs.
  EXPECT_EQ(Delete("/v1/jobs/:id", "/v1/jobs/" + pending_id).status, 409);
  const std::string done_id =
      json::parse(Get("/v1/jobs", "/v1/jobs?phase=Succeeded").body)["items"][0]["metadata"]["id"];
  EXPECT_EQ(Delete("/v1/jobs/:id", "/v1/jobs/" + done_id).status, 204);
  EXPECT_EQ(Delete("/v1/jobs/:id", "/v1/jobs/" + done_id).status, 404);
  EXPECT_EQ(Delete("/v1/jobs/:id", "/v1/jobs/" + pending_id, {}).status, 401);
  EXPECT_EQ(Delete("/v1/images/:id", "/v1/images/" + first).status, 204);
  EXPECT_EQ(Delete("/v1/images/:id", "/v1/images/" + first).status, 404);
  EXPECT_EQ(Delete("/v1/images/:id", "/v1/images/" + first, {}).status, 401);
  const std::string other = page["items"][1]["id"];
  producer_.FailTopic("*");
  EXPECT_EQ(Delete("/v1/images/:id", "/v1/images/" + other).status, 503);
}

TEST_F(RealAnswersTest, QueueAnswersAsDescribed) {
  // A broker that describes the group, with a worker's finished jobs seen.
  api::JobActivity activity(clock_);
  job::JobRecord record;
  record.id = "j_01HV3K9Q6Y0S4W7T1F2D5G8B9C";
  record.spec.source.image_id = std::string(64, 'a');
  record.status.phase = job::Phase::kFailed;
  record.status.reason = "CorruptImage";
  record.status.worker = "w1";
  record.status.started_at = job::UnixMillisToRfc3339(absl::ToUnixMillis(clock_.Now()));
  record.status.finished_at = record.status.started_at;
  activity.Note(job::ToJson(record).dump());
  queue_report_ = api::QueueReport{
      .group = {.group_id = "pixq-workers",
                .topic = "pixq.jobs",
                .members_known = true,
                .state = "Stable",
                .members = {{.client_id = "pixq-worker-w1",
                             .member_id = "pixq-worker-w1-1",
                             .host = "/127.0.0.1",
                             .partitions = {0, 1}}},
                .partitions = {{.partition = 0, .committed = 3, .log_end = 5, .lag = 2},
                               {.partition = 1, .committed = -1, .log_end = 0, .lag = 0}}},
      .activity = activity.Read()};
  HttpResponse r = Get("/v1/queue", "/v1/queue");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["lag"], 2);
  // The local broker: members unknown.
  queue_report_->group.members_known = false;
  queue_report_->group.members.clear();
  queue_report_->group.state.clear();
  queue_report_->group.members_unknown_why = "the broker does not describe consumer groups";
  r = Get("/v1/queue", "/v1/queue");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(json::parse(r.body)["group"]["members"].is_null());
  queue_report_ = errors::Make(errors::Reason::kBrokerUnavailable, "metadata: timed out");
  r = Get("/v1/queue", "/v1/queue");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(json::parse(r.body)["reason"], "BrokerUnavailable");
  EXPECT_EQ(Get("/v1/queue", "/v1/queue", {}).status, 401);
}

TEST_F(RealAnswersTest, VariantsAnswerAsDescribed) {
  const std::string image = Upload(60);
  int round = 0;
  for (const std::string route : {"/v1/images/:id/:variant", "/:image_id/:variant"}) {
    const std::string base = route == "/:image_id/:variant" ? "/" + image : "/v1/images/" + image;
    // Each round asks for variants not stored yet.
    const std::string size = "width=" + std::to_string(40 + round++);
    // Made within the wait (200), or not (202); failed (422).
    std::thread worker = FinishNextJob(producer_.SentTo("pixq.jobs").size(), job::Phase::kSucceeded,
                                       absl::Seconds(5));
    HttpResponse made = Get(route, base + "/grayscale?wait=5s&" + size);
    worker.join();
    EXPECT_EQ(made.status, 200) << made.body;
    EXPECT_EQ(Get(route, base + "/grayscale?" + size, Key({{"If-None-Match", made.Header("etag")}}))
                  .status,
              304);
    EXPECT_EQ(Get(route, base + "/grayscale?" + size).status, 200);
    EXPECT_EQ(Get(route, base + "/webp?wait=0&" + size).status, 202);
    EXPECT_EQ(AtDeadline(absl::Milliseconds(100),
                         [&] { return Get(route, base + "/jpeg?wait=100ms&height=10&" + size); })
                  .status,
              202);
    worker =
        FinishNextJob(producer_.SentTo("pixq.jobs").size(), job::Phase::kFailed, absl::Seconds(5));
    EXPECT_EQ(Get(route, base + "/mirror?wait=5s&" + size).status, 422);
    worker.join();
    EXPECT_EQ(Get(route, base + "/png?width=0").status, 400);
    EXPECT_EQ(Get(route, base + "/png?wait=later").status, 400);
    EXPECT_EQ(Get(route, base + "/sepia").status, 404);
    EXPECT_EQ(Get(route, base + "/png", {}).status, 401);
  }
  EXPECT_EQ(Get("/v1/images/:id/:variant", "/v1/images/" + std::string(64, 'f') + "/png").status,
            404);
  EXPECT_EQ(Get("/:image_id/:variant", "/not-an-image/png").status, 404);
  producer_.FailTopic("*");
  EXPECT_EQ(Get("/:image_id/:variant", "/" + image + "/png?width=30").status, 503);
}

TEST_F(RealAnswersTest, SeedContractsAnswerAsDescribed) {
  // The Flask/Celery downloader.
  HttpResponse task =
      Post("/download", "/download",
           R"({"file_name":"cat.png","image_url":"https://images.example/cat.png"})",
           "application/json");
  ASSERT_EQ(task.status, 200) << task.body;
  const std::string task_id = json::parse(task.body)["task_id"];
  Apply();
  EXPECT_EQ(json::parse(Get("/check/:task_id", "/check/" + task_id).body)["state"], "PENDING");
  // As the worker leaves it: downloaded into the catalogue, converted.
  absl::StatusOr<job::JobRecord> record = service_->GetJob(task_id);
  ASSERT_TRUE(record.ok());
  const std::string image = Upload(70);
  record->status.image_id = image;
  record->output_key = job::OutputKey(image, record->spec);
  absl::StatusOr<std::string> path = store_->PutOutput(record->output_key, "png", Png(8, 8));
  ASSERT_TRUE(path.ok());
  record->status.phase = job::Phase::kSucceeded;
  record->status.output = job::OutputInfo{
      .path = *path, .format = job::Format::kPng, .width = 8, .height = 8, .bytes = 70};
  ASSERT_TRUE(jobs_.Apply(task_id, job::ToJson(*record).dump()).ok());
  const json done = json::parse(Get("/check/:task_id", "/check/" + task_id).body);
  EXPECT_EQ(done["state"], "SUCCESS");
  EXPECT_EQ(done["result"]["file_name"], "cat.png");
  EXPECT_TRUE(done["result"].contains("signed_url"));
  record->status.phase = job::Phase::kFailed;
  record->status.output.reset();
  record->status.reason = "SourceNotFound";
  record->status.message = "the origin answered 404";
  ASSERT_TRUE(jobs_.Apply(task_id, job::ToJson(*record).dump()).ok());
  EXPECT_EQ(json::parse(Get("/check/:task_id", "/check/" + task_id).body)["state"], "FAILURE");
  EXPECT_EQ(Get("/check/:task_id", "/check/j_01HV3K9Q6Y0S4W7T1F2D5G8B9C").status, 404);
  EXPECT_EQ(Get("/check/:task_id", "/check/" + task_id, {}).status, 401);
  EXPECT_EQ(Post("/download", "/download", "{", "application/json").status, 400);
  EXPECT_EQ(Post("/download", "/download", R"({"file_name":"a.jpg"})", "application/json").status,
            422);
  EXPECT_EQ(
      Post("/download", "/download", R"({"image_url":"ftp://a.example/a"})", "application/json")
          .status,
      422);
  EXPECT_EQ(
      Post("/download", "/download", "image_url=x", "application/x-www-form-urlencoded").status,
      415);
  EXPECT_EQ(Post("/download", "/download", std::string(5000, ' '), "application/json").status, 413);
  EXPECT_EQ(Post("/download", "/download", "{}", "application/json", {}).status, 401);

  // prog-image.
  auto [form, form_type] = MultipartBody(
      {{.name = "image", .data = Png(71, 20), .filename = "a.png", .content_type = "image/png"}});
  HttpResponse uploaded = Post("/upload_file", "/upload_file", form, form_type);
  ASSERT_EQ(uploaded.status, 200) << uploaded.body;
  EXPECT_EQ(json::parse(uploaded.body)["image_id"], crypto::Sha256Hex(Png(71, 20)));
  EXPECT_EQ(Post("/upload_file", "/upload_file", form, form_type).status, 200) << "known: 200 too";
  auto [no_image, no_image_type] = MultipartBody({{.name = "title", .data = "t"}});
  EXPECT_EQ(Post("/upload_file", "/upload_file", no_image, no_image_type).status, 400);
  auto [text, text_type] = MultipartBody({{.name = "image", .data = "not an image"}});
  EXPECT_EQ(Post("/upload_file", "/upload_file", text, text_type).status, 415);
  EXPECT_EQ(
      Post("/upload_file", "/upload_file", std::string((1 << 20) + 10, 'x'), form_type).status,
      413);
  EXPECT_EQ(Post("/upload_file", "/upload_file", form, form_type, {}).status, 401);
  EXPECT_EQ(Get("/ping", "/ping", {}).body, "pong");
}

TEST_F(RealAnswersTest, OpenRoutesAnswerAsDescribedWithoutAKey) {
  EXPECT_EQ(Get("/healthz", "/healthz", {}).status, 200);
  EXPECT_EQ(Get("/readyz", "/readyz", {}).status, 200);
  EXPECT_EQ(Get("/health", "/health", {}).status, 200);
  EXPECT_EQ(Get("/metrics", "/metrics", {}).status, 200);
  for (const char* route : {"/openapi.json", "/docs", "/docs/redoc.standalone.js"}) {
    HttpResponse r = Get(route, route, {});
    EXPECT_EQ(r.status, 200) << route;
    EXPECT_EQ(Get(route, route, {{"If-None-Match", r.Header("etag")}}).status, 304) << route;
  }
  for (const auto& [route, url] :
       {std::pair{"/console", "/console"}, std::pair{"/console/:file", "/console/app.js"},
        std::pair{"/console/:file", "/console/console.css"}}) {
    HttpResponse r = Get(route, url, {});
    EXPECT_EQ(r.status, 200) << url;
    EXPECT_EQ(Get(route, url, {{"If-None-Match", r.Header("etag")}}).status, 304) << url;
  }
  EXPECT_EQ(Get("/console/:file", "/console/nothing.js", {}).status, 404);
  ready_ = errors::Make(errors::Reason::kNotReady, "loading");
  EXPECT_EQ(Get("/readyz", "/readyz", {}).status, 503);
}

TEST_F(RealAnswersTest, EveryRouteIsExercised) {
  // The tests above between them call every route; this keeps that so when routes are added.
  const std::set<std::string> exercised = {"POST /v1/images",
                                           "GET /v1/images",
                                           "GET /v1/images/{id}",
                                           "DELETE /v1/images/{id}",
                                           "GET /v1/images/{id}/content",
                                           "GET /v1/images/{id}/{variant}",
                                           "POST /v1/jobs",
                                           "GET /v1/jobs",
                                           "GET /v1/jobs/{id}",
                                           "DELETE /v1/jobs/{id}",
                                           "GET /v1/jobs/{id}/output",
                                           "POST /v1/jobs/{id}/retry",
                                           "POST /v1/batches",
                                           "GET /v1/queue",
                                           "GET /v1/batches/{id}",
                                           "POST /download",
                                           "GET /check/{task_id}",
                                           "POST /upload_file",
                                           "GET /{image_id}/{variant}",
                                           "GET /ping",
                                           "GET /healthz",
                                           "GET /readyz",
                                           "GET /health",
                                           "GET /metrics",
                                           "GET /openapi.json",
                                           "GET /docs",
                                           "GET /docs/redoc.standalone.js",
                                           "GET /console",
                                           "GET /console/{file}"};
  EXPECT_EQ(RegisteredOperations(), exercised)
      << "a route was added or removed: exercise it in RealAnswersTest and list it here";
}

}  // namespace
}  // namespace pixq::http
