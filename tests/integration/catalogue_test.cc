// The catalogue, job listings, variants and the seed services' contracts against the real
// processes: paging through more images than one page, deleting an image (its files gone from the
// volume, forgotten by a second API replica too), outstanding jobs listed and finished ones
// forgotten, variants made once and then served at once, and a session of each seed's client
// (the Flask/Celery downloader's and prog-image's) with the same requests and answer fields.

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "pkg/crypto/sha256.h"
#include "tests/integration/photos.h"
#include "tests/support/http_client.h"
#include "tests/support/origin.h"
#include "tests/support/process.h"
#include "tests/support/system.h"

namespace pixq::testing {
namespace {

using nlohmann::json;

// A small PNG that differs for every n.
std::string NumberedPng(int n) {
  cv::Mat image(12, 16, CV_8UC3, cv::Scalar(n % 256, (n / 256) % 256, 77));
  return Encoded(image, ".png");
}

cv::Mat Decode(const std::string& bytes) {
  return cv::imdecode(std::vector<uchar>(bytes.begin(), bytes.end()), cv::IMREAD_UNCHANGED);
}

std::string Upload(const std::string& api, const std::string& bytes, const std::string& title) {
  HttpResponse r = HttpPost(api + "/v1/images?title=" + UrlEncode(title), bytes, "image/png");
  EXPECT_TRUE(r.status == 201 || r.status == 200) << r.status << " " << r.body;
  return json::parse(r.body, nullptr, false).value("id", "");
}

std::vector<std::string> Files(const std::string& dir) {
  std::vector<std::string> files;
  if (!std::filesystem::exists(dir)) return files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) files.push_back(entry.path().string());
  }
  return files;
}

// Another pixq-api replica on the same broker and volume.
struct Replica {
  std::unique_ptr<Process> process;
  std::string url;
};

Replica StartReplica(System& system, const std::string& name) {
  std::map<std::string, std::string> env = system.Env();
  env["PIXQ_HTTP_PORT"] = "0";
  Replica replica;
  replica.process =
      Process::Start({BinaryDir() + "/cmd/api/pixq-api"}, env, system.root() + "/" + name + ".log");
  int port = 0;
  EXPECT_TRUE(Eventually(
      [&] {
        for (const json& line : System::LogLines(*replica.process, "pixq-api listening")) {
          port = line.value("port", 0);
        }
        return port != 0;
      },
      absl::Seconds(30)))
      << replica.process->Log();
  replica.url = "http://127.0.0.1:" + std::to_string(port);
  EXPECT_TRUE(Eventually([&] { return HttpGet(replica.url + "/readyz", {}, 2000).status == 200; },
                         absl::Seconds(30)))
      << replica.process->Log();
  return replica;
}

TEST(CatalogueTest, PagesThroughMoreImagesThanOnePageAndFiltersByTitle) {
  System system(SystemOptions{.partitions = 2, .workers = 0});
  const std::string api = system.url();
  constexpr int kImages = 130;
  std::vector<std::string> uploaded;
  const absl::Time start = absl::Now();
  for (int i = 0; i < kImages; ++i) {
    uploaded.push_back(Upload(api, NumberedPng(i), absl::StrCat(i % 3 == 0 ? "Cat " : "dog ", i)));
  }
  const absl::Duration uploading = absl::Now() - start;

  // Every image once, oldest first, in pages of 50 (the default).
  std::vector<json> listed;
  std::string token;
  int pages = 0;
  do {
    HttpResponse r = HttpGet(api + "/v1/images" + (token.empty() ? "" : "?pageToken=" + token));
    ASSERT_EQ(r.status, 200) << r.body;
    const json page = json::parse(r.body);
    EXPECT_LE(page["items"].size(), 50u);
    for (const json& item : page["items"]) listed.push_back(item);
    token = page["nextPageToken"].is_string() ? page["nextPageToken"].get<std::string>() : "";
    ++pages;
  } while (!token.empty() && pages < 20);
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(listed.size(), uploaded.size());
  std::set<std::string> ids;
  for (size_t i = 0; i < listed.size(); ++i) {
    ids.insert(listed[i]["id"].get<std::string>());
    if (i > 0) {
      const auto key = [](const json& m) {
        return std::make_pair(m["createdAt"].get<std::string>(), m["id"].get<std::string>());
      };
      EXPECT_LT(key(listed[i - 1]), key(listed[i])) << "oldest first, each once";
    }
  }
  EXPECT_EQ(ids, std::set<std::string>(uploaded.begin(), uploaded.end()));

  // The cats, in any case, a page of 20 at a time.
  std::set<std::string> cats;
  token.clear();
  int cat_pages = 0;
  do {
    const json page = json::parse(HttpGet(api + "/v1/images?title=cAT&limit=20" +
                                          (token.empty() ? "" : "&pageToken=" + token))
                                      .body);
    for (const json& item : page["items"]) {
      EXPECT_EQ(item["title"].get<std::string>().rfind("Cat ", 0), 0u) << item.dump();
      cats.insert(item["id"].get<std::string>());
    }
    token = page["nextPageToken"].is_string() ? page["nextPageToken"].get<std::string>() : "";
    ++cat_pages;
  } while (!token.empty() && cat_pages < 20);
  EXPECT_EQ(cats.size(), static_cast<size_t>((kImages + 2) / 3));
  // A token is for its own filter only.
  const json first = json::parse(HttpGet(api + "/v1/images?title=cat&limit=1").body);
  HttpResponse mixed =
      HttpGet(api + "/v1/images?title=dog&pageToken=" + first["nextPageToken"].get<std::string>());
  EXPECT_EQ(mixed.status, 400);
  EXPECT_EQ(json::parse(mixed.body)["reason"], "InvalidPageToken");
  std::cout << "catalogue: " << kImages << " images uploaded in "
            << absl::ToInt64Milliseconds(uploading) << " ms, listed in " << pages
            << " pages of 50; " << cats.size() << " cats in " << cat_pages << " pages of 20\n";
}

TEST(CatalogueTest, DeletingAnImageRemovesItsFilesAndEveryReplicaForgetsIt) {
  System system(SystemOptions{.partitions = 2, .workers = 1});
  const std::string api = system.url();
  Replica second = StartReplica(system, "api-2");
  const std::string volume = system.root() + "/volume";

  const std::string png = Encoded(SmallPhoto(320), ".png");
  const std::string image = Upload(api, png, "to delete");
  const std::string kept = Upload(api, NumberedPng(1), "kept");
  // Two jobs, a variant and a job on the other image.
  std::vector<std::string> jobs;
  for (const char* steps :
       {R"([{"op":"resize","width":100}])", R"([{"op":"grayscale"},{"op":"flip"}])"}) {
    HttpResponse r = HttpPost(api + "/v1/jobs",
                              R"({"source":{"imageId":")" + image + R"("},"steps":)" + steps + "}",
                              "application/json");
    ASSERT_EQ(r.status, 202) << r.body;
    jobs.push_back(json::parse(r.body)["metadata"]["id"]);
  }
  for (const std::string& id : jobs) {
    ASSERT_EQ(AwaitJob(api, id, absl::Minutes(1))["status"]["phase"], "Succeeded");
  }
  ASSERT_EQ(HttpGet(api + "/v1/images/" + image + "/mirror?wait=60s").status, 200);
  HttpResponse other = HttpPost(
      api + "/v1/jobs", R"({"source":{"imageId":")" + kept + R"("},"steps":[{"op":"mirror"}]})",
      "application/json");
  ASSERT_EQ(other.status, 202);
  ASSERT_EQ(
      AwaitJob(api, json::parse(other.body)["metadata"]["id"], absl::Minutes(1))["status"]["phase"],
      "Succeeded");
  const std::string original = volume + "/originals/" + image.substr(0, 2) + "/" + image;
  ASSERT_TRUE(std::filesystem::exists(original));
  ASSERT_EQ(Files(volume + "/outputs").size(), 4u);
  // The second replica knows it too.
  ASSERT_TRUE(Eventually([&] { return HttpGet(second.url + "/v1/images/" + image).status == 200; },
                         absl::Seconds(10)));

  HttpResponse deleted = HttpDelete(api + "/v1/images/" + image);
  ASSERT_EQ(deleted.status, 204) << deleted.body;
  const absl::Time at = absl::Now();
  // Its original and its three outputs are gone; the other image's stay.
  EXPECT_FALSE(std::filesystem::exists(original));
  const std::vector<std::string> left = Files(volume + "/outputs");
  EXPECT_EQ(left.size(), 1u);
  EXPECT_TRUE(std::filesystem::exists(volume + "/originals/" + kept.substr(0, 2) + "/" + kept));

  // This replica forgot it before answering; the other one within moments.
  HttpResponse gone = HttpGet(api + "/v1/images/" + image);
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(json::parse(gone.body)["reason"], "ImageNotFound");
  EXPECT_TRUE(Eventually([&] { return HttpGet(second.url + "/v1/images/" + image).status == 404; },
                         absl::Seconds(10)));
  const absl::Duration forgotten = absl::Now() - at;
  for (const std::string& url : {api, second.url}) {
    const json listing = json::parse(HttpGet(url + "/v1/images").body);
    ASSERT_EQ(listing["items"].size(), 1u) << url << ": " << listing.dump();
    EXPECT_EQ(listing["items"][0]["id"], kept);
    EXPECT_EQ(HttpGet(url + "/v1/images/" + image + "/content").status, 404);
    EXPECT_EQ(HttpGet(url + "/" + image + "/png").status, 404);
  }
  // The job records stay; their outputs are gone.
  HttpResponse job = HttpGet(second.url + "/v1/jobs/" + jobs[0]);
  EXPECT_EQ(job.status, 200);
  HttpResponse output = HttpGet(second.url + "/v1/jobs/" + jobs[0] + "/output");
  EXPECT_EQ(output.status, 404);
  EXPECT_EQ(json::parse(output.body)["reason"], "ContentGone");
  // A new job on it is refused; deleting it again is 404, on either replica.
  HttpResponse refused = HttpPost(
      second.url + "/v1/jobs", R"({"source":{"imageId":")" + image + R"("}})", "application/json");
  EXPECT_EQ(refused.status, 422) << refused.body;
  EXPECT_EQ(HttpDelete(second.url + "/v1/images/" + image).status, 404);

  // The same bytes again are a new upload, and work.
  HttpResponse again = HttpPost(second.url + "/v1/images", png, "image/png");
  EXPECT_EQ(again.status, 201) << again.body;
  EXPECT_TRUE(std::filesystem::exists(original));
  std::cout << "delete: original and 3 outputs removed; the second replica forgot the image within "
            << absl::ToInt64Milliseconds(forgotten) << " ms\n";
}

TEST(JobListingTest, ListsOutstandingJobsAndForgetsFinishedOnes) {
  // No worker at first: every job stays Pending.
  System system(SystemOptions{.partitions = 2, .workers = 0});
  const std::string api = system.url();
  const std::string image = Upload(api, NumberedPng(7), "jobs");
  std::vector<std::string> ids;
  for (int width = 1; width <= 12; ++width) {
    HttpResponse r =
        HttpPost(api + "/v1/jobs",
                 R"({"source":{"imageId":")" + image + R"("},"steps":[{"op":"resize","width":)" +
                     std::to_string(width) + "}]}",
                 "application/json");
    ASSERT_EQ(r.status, 202) << r.body;
    ids.push_back(json::parse(r.body)["metadata"]["id"]);
  }
  auto list = [&](const std::string& query) {
    std::vector<std::string> out;
    std::string token;
    int pages = 0;
    do {
      const json page = json::parse(
          HttpGet(api + "/v1/jobs?limit=5&" + query + (token.empty() ? "" : "&pageToken=" + token))
              .body);
      for (const json& item : page["items"]) out.push_back(item["metadata"]["id"]);
      token = page["nextPageToken"].is_string() ? page["nextPageToken"].get<std::string>() : "";
      ++pages;
    } while (!token.empty() && pages < 20);
    return out;
  };
  EXPECT_EQ(list("phase=Pending,Running"), ids) << "all outstanding, in creation order";
  EXPECT_TRUE(list("phase=Succeeded,Failed").empty());
  HttpResponse unfinished = HttpDelete(api + "/v1/jobs/" + ids[0]);
  EXPECT_EQ(unfinished.status, 409);
  EXPECT_EQ(json::parse(unfinished.body)["reason"], "JobNotFinished");
  HttpResponse bad = HttpGet(api + "/v1/jobs?phase=Pending,Queued");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json::parse(bad.body)["reason"], "InvalidArgument");

  // A worker comes: nothing is outstanding after a while.
  system.AddWorker();
  const absl::Time start = absl::Now();
  for (const std::string& id : ids) {
    ASSERT_EQ(AwaitJob(api, id, absl::Minutes(2))["status"]["phase"], "Succeeded");
  }
  const absl::Duration drained = absl::Now() - start;
  EXPECT_TRUE(list("phase=pending,running").empty());
  EXPECT_EQ(list("phase=Succeeded"), ids);

  // Forgetting a finished job: gone from every read; its output stays on the volume.
  const json done = json::parse(HttpGet(api + "/v1/jobs/" + ids[3]).body);
  EXPECT_EQ(HttpDelete(api + "/v1/jobs/" + ids[3]).status, 204);
  EXPECT_EQ(HttpGet(api + "/v1/jobs/" + ids[3]).status, 404);
  EXPECT_EQ(HttpGet(api + "/v1/jobs/" + ids[3] + "/output").status, 404);
  std::vector<std::string> rest = ids;
  rest.erase(rest.begin() + 3);
  EXPECT_EQ(list(""), rest);
  EXPECT_EQ(Files(system.root() + "/volume/outputs").size(), ids.size());
  std::cout << "job listing: " << ids.size()
            << " outstanding jobs listed in pages of 5; one worker "
            << "finished them in " << absl::ToInt64Milliseconds(drained) << " ms\n";
}

TEST(VariantsTest, MadeOnceThenServedAtOnce) {
  System system(SystemOptions{.partitions = 2, .workers = 1});
  const std::string api = system.url();
  const cv::Mat photo = SmallPhoto(400);
  const std::string jpeg = Encoded(photo, ".jpg");
  HttpResponse up = HttpPost(api + "/v1/images?title=photo", jpeg, "image/jpeg");
  ASSERT_EQ(up.status, 201) << up.body;
  const std::string image = json::parse(up.body)["id"];

  // First call: made within the wait (200). Second: stored, served at once, same bytes and ETag.
  absl::Time start = absl::Now();
  HttpResponse first = HttpGet(api + "/v1/images/" + image + "/grayscale?wait=60s");
  const absl::Duration first_took = absl::Now() - start;
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.Header("content-type"), "image/jpeg") << "grayscale keeps the image's format";
  const cv::Mat gray = Decode(first.body);
  ASSERT_FALSE(gray.empty());
  EXPECT_EQ(gray.cols, photo.cols);
  EXPECT_EQ(gray.channels(), 1);
  start = absl::Now();
  HttpResponse second = HttpGet(api + "/v1/images/" + image + "/grayscale");
  const absl::Duration second_took = absl::Now() - start;
  ASSERT_EQ(second.status, 200);
  EXPECT_EQ(second.body, first.body);
  EXPECT_EQ(second.Header("etag"), first.Header("etag"));
  EXPECT_EQ(second.Header("cache-control"), "public, max-age=31536000, immutable");
  EXPECT_LT(second_took, absl::Seconds(1));

  // Not waited for: 202 with the job; its Location leads to it; then the variant is there.
  HttpResponse queued = HttpGet(api + "/v1/images/" + image + "/webp?width=120&wait=0");
  ASSERT_EQ(queued.status, 202) << queued.body;
  const std::string location = queued.Header("location");
  ASSERT_EQ(location.rfind("/v1/jobs/j_", 0), 0u) << location;
  const json made =
      AwaitJob(api, location.substr(std::string("/v1/jobs/").size()), absl::Minutes(1));
  ASSERT_EQ(made["status"]["phase"], "Succeeded") << made.dump();
  EXPECT_EQ(made["metadata"]["labels"]["variant"], "webp");
  HttpResponse webp = HttpGet(api + "/v1/images/" + image + "/webp?width=120&wait=0");
  ASSERT_EQ(webp.status, 200);
  EXPECT_EQ(webp.Header("content-type"), "image/webp");
  EXPECT_EQ(Decode(webp.body).cols, 120);
  EXPECT_EQ(webp.body, HttpGet(api + made["status"]["output"]["url"].get<std::string>()).body)
      << "the variant is the job's output";

  // The same variant asked as a job is a cache hit: one output for both.
  HttpResponse hit = HttpPost(api + "/v1/jobs",
                              R"({"source":{"imageId":")" + image +
                                  R"("},"steps":[{"op":"grayscale"}],"output":{"format":"jpeg"}})",
                              "application/json");
  EXPECT_EQ(hit.status, 201) << hit.body;
  std::cout << "variants: grayscale made and served in " << absl::ToInt64Milliseconds(first_took)
            << " ms, served again in " << absl::ToInt64Milliseconds(second_took) << " ms\n";
}

// The Flask/Celery downloader's client, as it was written against the seed: POST /download with
// file_name and image_url, read task_id, poll GET /check/<task_id> until the state is SUCCESS or
// FAILURE, then fetch the result.
TEST(SeedContractTest, CeleryDownloaderClientSession) {
  const std::string photo = Encoded(SmallPhoto(300), ".jpg");
  Origin origin([&](const OriginRequest& request) {
    if (request.target == "/missing.jpg") return OriginReply{.status = 404, .body = "no"};
    return OriginReply{.headers = {{"Content-Type", "image/jpeg"}}, .body = photo};
  });
  System system(
      SystemOptions{.partitions = 2, .workers = 1, .env = {{"PIXQ_FETCH_ALLOW", "127.0.0.1"}}});
  const std::string api = system.url();

  auto poll = [&](const std::string& task_id) {
    json check;
    Eventually(
        [&] {
          HttpResponse r = HttpGet(api + "/check/" + task_id);
          EXPECT_EQ(r.status, 200) << r.body;
          check = json::parse(r.body, nullptr, false);
          const std::string state = check.value("state", "");
          EXPECT_TRUE(state == "PENDING" || state == "STARTED" || state == "SUCCESS" ||
                      state == "FAILURE")
              << state;
          return state == "SUCCESS" || state == "FAILURE";
        },
        absl::Seconds(60));
    return check;
  };

  const absl::Time start = absl::Now();
  HttpResponse submitted = HttpPost(
      api + "/download",
      json{{"file_name", "../../kleiber.png"}, {"image_url", origin.url() + "/photos/kleiber.jpg"}}
          .dump(),
      "application/json");
  ASSERT_EQ(submitted.status, 200) << submitted.body;
  const json task = json::parse(submitted.body);
  ASSERT_TRUE(task.contains("task_id"));
  EXPECT_EQ(task.size(), 1u) << "the seed's answer: task_id only";
  const std::string task_id = task["task_id"];
  const json check = poll(task_id);
  const absl::Duration took = absl::Now() - start;
  ASSERT_EQ(check["state"], "SUCCESS") << check.dump();
  EXPECT_EQ(check["status"], "SUCCESS");
  EXPECT_EQ(check["task_id"], task_id);
  EXPECT_EQ(check["result"]["file_name"], "../../kleiber.png");
  EXPECT_EQ(check["result"]["format"], "png") << "the format file_name asks for";
  EXPECT_EQ(check["result"]["image_id"], crypto::Sha256Hex(photo));
  HttpResponse result = HttpGet(api + check["result"]["url"].get<std::string>());
  ASSERT_EQ(result.status, 200);
  EXPECT_EQ(result.Header("content-type"), "image/png");
  EXPECT_EQ(Decode(result.body).cols, 300);
  // The file name is nobody's path: no file of that name anywhere in or above the volume.
  for (const std::string& path : Files(system.root())) {
    EXPECT_EQ(path.find("kleiber"), std::string::npos) << path;
  }
  // The same task is also a job of the v1 API.
  EXPECT_EQ(
      json::parse(HttpGet(api + "/v1/jobs/" + task_id).body)["metadata"]["labels"]["fileName"],
      "../../kleiber.png");

  // A download that fails: FAILURE, with the error as the result.
  HttpResponse failing =
      HttpPost(api + "/download",
               json{{"file_name", "x.jpg"}, {"image_url", origin.url() + "/missing.jpg"}}.dump(),
               "application/json");
  ASSERT_EQ(failing.status, 200) << failing.body;
  const json failed = poll(json::parse(failing.body)["task_id"]);
  EXPECT_EQ(failed["state"], "FAILURE") << failed.dump();
  EXPECT_EQ(failed["result"].get<std::string>().rfind("SourceNotFound", 0), 0u) << failed.dump();
  EXPECT_EQ(failed["error"]["reason"], "SourceNotFound");

  // What the seed refused, pixq refuses, as problem details.
  HttpResponse no_url = HttpPost(api + "/download", R"({"file_name":"a.jpg"})", "application/json");
  EXPECT_EQ(no_url.status, 422);
  EXPECT_EQ(json::parse(no_url.body)["detail"], "image_url: is required");
  EXPECT_EQ(HttpGet(api + "/check/j_01HV3K9Q6Y0S4W7T1F2D5G8B9C").status, 404);
  std::cout << "downloader seed: task SUCCESS " << absl::ToInt64Milliseconds(took)
            << " ms after POST /download (" << origin.requests().size() << " origin requests)\n";
}

// prog-image's client: POST /upload_file with the multipart field "image", read image_id, then
// GET /<image_id>/<jpeg|png|grayscale|mirror> for the bytes; /ping and /health as before.
TEST(SeedContractTest, ProgImageClientSession) {
  System system(SystemOptions{.partitions = 2, .workers = 2});
  const std::string api = system.url();
  EXPECT_EQ(HttpGet(api + "/ping").body, "pong");
  EXPECT_EQ(HttpGet(api + "/health").body, "OK");

  const cv::Mat photo = SmallPhoto(240);
  const std::string png = Encoded(photo, ".png");
  HttpResponse uploaded = HttpPostForm(
      api + "/upload_file",
      {{.name = "image", .data = png, .filename = "photo.png", .content_type = "image/png"}});
  ASSERT_EQ(uploaded.status, 200) << uploaded.body;
  const json answer = json::parse(uploaded.body);
  EXPECT_EQ(answer.size(), 1u) << "the seed's answer: image_id only";
  const std::string image = answer["image_id"];
  EXPECT_EQ(image, crypto::Sha256Hex(png));

  struct Expect {
    const char* variant;
    const char* content_type;
    int channels;
  };
  for (const Expect& e : {Expect{"jpeg", "image/jpeg", 3}, Expect{"png", "image/png", 3},
                          Expect{"grayscale", "image/png", 1}, Expect{"mirror", "image/png", 3}}) {
    const absl::Time start = absl::Now();
    HttpResponse r = HttpGet(api + "/" + image + "/" + e.variant);
    const absl::Duration first = absl::Now() - start;
    ASSERT_EQ(r.status, 200) << e.variant << ": " << r.body;
    EXPECT_EQ(r.Header("content-type"), e.content_type) << e.variant;
    const cv::Mat decoded = Decode(r.body);
    ASSERT_FALSE(decoded.empty()) << e.variant;
    EXPECT_EQ(decoded.cols, photo.cols) << e.variant;
    EXPECT_EQ(decoded.rows, photo.rows) << e.variant;
    EXPECT_EQ(decoded.channels(), e.channels) << e.variant;
    if (std::string(e.variant) == "mirror") {
      cv::Mat flipped;
      cv::flip(photo, flipped, 1);
      EXPECT_EQ(cv::norm(decoded, flipped, cv::NORM_INF), 0) << "a lossless left-right mirror";
    }
    const absl::Time again_start = absl::Now();
    HttpResponse again = HttpGet(api + "/" + image + "/" + e.variant);
    const absl::Duration again_took = absl::Now() - again_start;
    EXPECT_EQ(again.body, r.body) << e.variant;
    std::cout << "prog-image seed: /" << e.variant << " " << absl::ToInt64Milliseconds(first)
              << " ms, again " << absl::ToInt64Milliseconds(again_took) << " ms\n";
  }
  EXPECT_EQ(HttpGet(api + "/" + image + "/sepia").status, 404);
  EXPECT_EQ(HttpGet(api + "/" + std::string(64, '0') + "/png").status, 404);
  // The v1 routes are not shadowed by the seed's.
  EXPECT_EQ(HttpGet(api + "/v1/images").status, 200);
  EXPECT_EQ(HttpGet(api + "/v1/jobs").status, 200);
  EXPECT_EQ(json::parse(HttpGet(api + "/v1/nothing-here").body)["reason"], "RouteNotFound");
}

}  // namespace
}  // namespace pixq::testing
