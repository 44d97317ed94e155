// observability/README.md against what the real processes expose on /metrics, both ways: every
// family a process exposes is listed for that process with the same type and label names, and
// every family listed for a process is exposed by it. The system is driven first (an upload, a
// job, a cache hit, an unknown route) so that the labelled series exist and their label names can
// be compared too.

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "tests/support/http_client.h"
#include "tests/support/system.h"

namespace pixq::testing {
namespace {

using nlohmann::json;

struct Family {
  std::string type;
  std::set<std::string> labels;
  std::set<std::string> processes;  // documented only
  bool has_samples = false;         // exposed only
};

std::string Trim(absl::string_view s) { return std::string(absl::StripAsciiWhitespace(s)); }

// The rows of the metrics table: | `name` | type | `a`, `b` | api, worker | meaning |
std::map<std::string, Family> Documented() {
  std::ifstream in(std::string(PIXQ_SOURCE_DIR) + "/observability/README.md");
  std::map<std::string, Family> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("| `pixq_", 0) != 0) continue;
    std::vector<std::string> cells = absl::StrSplit(line, '|');
    if (cells.size() < 6) continue;
    Family f;
    f.type = Trim(cells[2]);
    for (absl::string_view label : absl::StrSplit(cells[3], ',')) {
      std::string name = Trim(label);
      if (name.empty() || name == "—") continue;
      f.labels.insert(std::string(absl::StripPrefix(absl::StripSuffix(name, "`"), "`")));
    }
    for (absl::string_view p : absl::StrSplit(cells[4], ',')) f.processes.insert(Trim(p));
    std::string name = Trim(cells[1]);
    out[name.substr(1, name.size() - 2)] = f;
  }
  return out;
}

// The families of a Prometheus text exposition with their types and the label names of their
// samples (`le` of histogram buckets left out).
std::map<std::string, Family> Exposed(const std::string& text) {
  std::map<std::string, Family> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# TYPE ", 0) == 0) {
      std::vector<std::string> parts = absl::StrSplit(line, ' ');
      if (parts.size() == 4) out[parts[2]].type = parts[3];
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    const size_t brace = line.find('{');
    std::string name = line.substr(0, std::min(brace, line.find(' ')));
    if (!out.contains(name)) {
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        if (absl::EndsWith(name, suffix) &&
            out.contains(name.substr(0, name.size() - strlen(suffix)))) {
          name = name.substr(0, name.size() - strlen(suffix));
          break;
        }
      }
    }
    Family& f = out[name];
    f.has_samples = true;
    if (brace == std::string::npos) continue;
    const std::string labels = line.substr(brace + 1, line.find('}') - brace - 1);
    for (absl::string_view pair : absl::StrSplit(labels, "\",")) {
      const std::string key = Trim(pair.substr(0, pair.find('=')));
      if (!key.empty() && key != "le") f.labels.insert(key);
    }
  }
  return out;
}

void ExpectMatches(const std::string& process, const std::string& exposition,
                   const std::map<std::string, Family>& documented) {
  const std::map<std::string, Family> exposed = Exposed(exposition);
  for (const auto& [name, doc] : documented) {
    if (!doc.processes.contains(process)) continue;
    auto it = exposed.find(name);
    EXPECT_NE(it, exposed.end()) << process << " does not expose " << name
                                 << ", which observability/README.md lists for it";
  }
  for (const auto& [name, got] : exposed) {
    SCOPED_TRACE(process + " " + name);
    auto it = documented.find(name);
    ASSERT_NE(it, documented.end()) << "exposed but not in observability/README.md";
    EXPECT_TRUE(it->second.processes.contains(process)) << "exposed by a process not listed";
    EXPECT_EQ(got.type, it->second.type);
    if (got.has_samples) {
      EXPECT_EQ(got.labels, it->second.labels);
    }
  }
}

TEST(MetricsTest, EachProcessExposesExactlyTheFamiliesTheReadmeLists) {
  const std::map<std::string, Family> documented = Documented();
  ASSERT_GE(documented.size(), 15u) << "the metrics table of observability/README.md was not read";

  System system(SystemOptions{.partitions = 2, .workers = 1});
  const std::string& url = system.url();
  ASSERT_TRUE(Eventually([&] { return system.AllWorkersOwnPartitions(); }, absl::Seconds(60)));

  cv::Mat image(120, 160, CV_8UC3, cv::Scalar(30, 120, 200));
  std::vector<uchar> png;
  ASSERT_TRUE(cv::imencode(".png", image, png));
  HttpResponse upload =
      HttpPost(url + "/v1/images", std::string(png.begin(), png.end()), "image/png");
  ASSERT_EQ(upload.status, 201) << upload.body;
  const std::string image_id = json::parse(upload.body)["id"];
  const std::string spec = json{
      {"source", {{"imageId", image_id}}},
      {"steps", json::array({{{"op", "resize"}, {"width", 80}}, {{"op", "grayscale"}}})},
      {"output",
       {{"format", "webp"}}}}.dump();
  for (int round = 0; round < 2; ++round) {  // the second is a cache hit
    HttpResponse created = HttpPost(url + "/v1/jobs", spec, "application/json");
    // Queued the first time; answered from the existing output (201, Succeeded) the second.
    ASSERT_EQ(created.status, round == 0 ? 202 : 201) << created.body;
    const std::string id = json::parse(created.body)["metadata"]["id"];
    const json done = AwaitJob(url, id, absl::Seconds(60));
    ASSERT_EQ(done["status"]["phase"], "Succeeded") << done.dump();
  }
  EXPECT_EQ(HttpGet(url + "/no/such/route").status, 404);

  std::string probe;
  ASSERT_TRUE(
      Eventually([&] { return !(probe = system.WorkerProbeUrl(0)).empty(); }, absl::Seconds(30)));
  // Consumer lag comes from librdkafka's statistics, every 5 s.
  std::string worker_text;
  ASSERT_TRUE(Eventually(
      [&] {
        worker_text = HttpGet(probe + "/metrics").body;
        return worker_text.find("pixq_consumer_lag_messages{") != std::string::npos;
      },
      absl::Seconds(30)))
      << worker_text;
  HttpResponse api_metrics = HttpGet(url + "/metrics");
  ASSERT_EQ(api_metrics.status, 200);

  ExpectMatches("api", api_metrics.body, documented);
  ExpectMatches("worker", worker_text, documented);

  // A few values that must follow from what was driven above.
  EXPECT_NE(api_metrics.body.find("pixq_cache_hits_total 1"), std::string::npos)
      << api_metrics.body;
  EXPECT_NE(api_metrics.body.find("pixq_jobs_submitted_total 2"), std::string::npos);
  EXPECT_NE(api_metrics.body.find(
                "pixq_http_requests_total{code=\"404\",method=\"GET\",route=\"unmatched\"} 1"),
            std::string::npos);
  EXPECT_NE(worker_text.find(
                "pixq_jobs_completed_total{format=\"webp\",reason=\"\",result=\"succeeded\"} 1"),
            std::string::npos)
      << worker_text;
  EXPECT_NE(worker_text.find("pixq_job_step_duration_seconds_count{op=\"grayscale\"} 1"),
            std::string::npos);
}

}  // namespace
}  // namespace pixq::testing
