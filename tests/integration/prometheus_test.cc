// The dashboards and alert rules against Debian's real Prometheus: it scrapes the running API and
// two workers every second, jobs of every step and format are driven through (with a cache hit
// and a failing job), and then every panel query of every dashboard in observability/dashboards
// and every alert expression in observability/alerts runs through Prometheus's HTTP API. Each
// must parse, each panel query must return data, and every alert rule must evaluate healthily
// inside Prometheus (which loads the rule file itself).

#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "nlohmann/json.hpp"
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "tests/support/http_client.h"
#include "tests/support/system.h"

namespace pixq::testing {
namespace {

using nlohmann::json;

const std::string kSource = PIXQ_SOURCE_DIR;
constexpr char kPrometheus[] = "/usr/bin/prometheus";

std::string HostPort(const std::string& url) { return url.substr(url.find("//") + 2); }

struct PanelQuery {
  std::string where;  // "<dashboard> / <panel> / <refId>"
  std::string expr;
};

std::vector<PanelQuery> DashboardQueries() {
  std::vector<PanelQuery> out;
  for (const auto& entry :
       std::filesystem::directory_iterator(kSource + "/observability/dashboards")) {
    if (entry.path().extension() != ".json") continue;
    const json dashboard = json::parse(ReadFile(entry.path()));
    for (const json& panel : dashboard["panels"]) {
      for (const json& target : panel.value("targets", json::array())) {
        out.push_back({absl::StrCat(dashboard["title"].get<std::string>(), " / ",
                                    panel["title"].get<std::string>(), " / ",
                                    target["refId"].get<std::string>()),
                       target["expr"]});
      }
    }
  }
  return out;
}

// Grafana's variables as a dashboard user would have them: all workers, a one-minute rate window.
std::string Substitute(const std::string& expr) {
  return absl::StrReplaceAll(expr, {{"$__rate_interval", "1m"}, {"$instance", ".*"}});
}

class PrometheusTest : public ::testing::Test {
 protected:
  json Query(const std::string& expr) {
    HttpResponse r = HttpGet(prometheus_ + "/api/v1/query?query=" + UrlEncode(expr));
    json doc = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
    return doc.is_object() ? doc : json{{"status", "error"}, {"error", r.body + r.error}};
  }

  std::string prometheus_;
};

TEST_F(PrometheusTest, EveryPanelQueryReturnsDataAndEveryAlertRuleEvaluates) {
  const std::vector<PanelQuery> panels = DashboardQueries();
  ASSERT_GE(panels.size(), 20u) << "the dashboards were not read from " << kSource;

  System system(SystemOptions{.partitions = 4, .workers = 2});
  ASSERT_TRUE(Eventually([&] { return system.AllWorkersOwnPartitions(); }, absl::Seconds(60)));
  std::vector<std::string> worker_targets;
  for (int i = 0; i < system.worker_count(); ++i) {
    std::string probe;
    ASSERT_TRUE(
        Eventually([&] { return !(probe = system.WorkerProbeUrl(i)).empty(); }, absl::Seconds(30)));
    worker_targets.push_back(HostPort(probe));
  }

  // Prometheus on loopback, scraping every second, with the alert rules loaded.
  const int port = FreeLoopbackPort();
  prometheus_ = absl::StrCat("http://127.0.0.1:", port);
  const std::string config = system.root() + "/prometheus.yml";
  {
    json workers = json::array();
    for (const std::string& t : worker_targets) workers.push_back(t);
    // JSON is YAML, and spares a YAML writer.
    const json cfg = {
        {"global", {{"scrape_interval", "1s"}, {"evaluation_interval", "1s"}}},
        {"rule_files", {kSource + "/observability/alerts/pixq-alerts.yaml"}},
        {"scrape_configs",
         {{{"job_name", "pixq-api"}, {"static_configs", {{{"targets", {HostPort(system.url())}}}}}},
          {{"job_name", "pixq-worker"}, {"static_configs", {{{"targets", workers}}}}}}}};
    std::ofstream(config) << cfg.dump(2);
  }
  ASSERT_TRUE(std::filesystem::exists(kPrometheus))
      << "Prometheus is missing; run scripts/setup.sh";
  std::unique_ptr<Process> prometheus = Process::Start(
      {kPrometheus, "--config.file=" + config, "--storage.tsdb.path=" + system.root() + "/tsdb",
       absl::StrCat("--web.listen-address=127.0.0.1:", port), "--log.level=warn"},
      {}, system.root() + "/prometheus.log");
  ASSERT_TRUE(Eventually([&] { return HttpGet(prometheus_ + "/-/ready").status == 200; },
                         absl::Seconds(60)))
      << prometheus->Log();

  // Work for every panel: all steps and formats, a cache hit, a job that fails.
  cv::Mat image(300, 400, CV_8UC3, cv::Scalar(40, 140, 220));
  cv::circle(image, {200, 150}, 80, cv::Scalar(250, 250, 250), -1);
  std::vector<uchar> png;
  ASSERT_TRUE(cv::imencode(".png", image, png));
  HttpResponse upload =
      HttpPost(system.url() + "/v1/images", std::string(png.begin(), png.end()), "image/png");
  ASSERT_EQ(upload.status, 201) << upload.body;
  const json source = {{"imageId", json::parse(upload.body)["id"]}};
  const std::vector<json> steps = {
      {{"op", "resize"}, {"width", 200}},
      {{"op", "crop"}, {"width", 100}, {"height", 100}, {"gravity", "center"}},
      {{"op", "rotate"}, {"degrees", 90}},
      {{"op", "mirror"}},
      {{"op", "flip"}},
      {{"op", "grayscale"}},
      {{"op", "blur"}, {"sigma", 1.5}},
      {{"op", "sharpen"}}};
  const std::vector<std::string> formats = {"jpeg", "png", "webp"};
  std::vector<std::string> ids;
  for (size_t i = 0; i < steps.size() * 2; ++i) {
    const json spec = {{"source", source},
                       {"steps", {steps[i % steps.size()]}},
                       {"output", {{"format", formats[i % formats.size()]}}}};
    HttpResponse created = HttpPost(system.url() + "/v1/jobs", spec.dump(), "application/json");
    ASSERT_TRUE(created.status == 202 || created.status == 201) << created.body;
    ids.push_back(json::parse(created.body)["metadata"]["id"]);
  }
  std::string broken(png.begin(), png.end());
  for (size_t i = broken.find("IDAT") + 4; i + 12 < broken.size(); ++i) {
    broken[i] = static_cast<char>(0x5A ^ i);
  }
  HttpResponse bad = HttpPost(system.url() + "/v1/images", broken, "image/png");
  ASSERT_EQ(bad.status, 201) << bad.body;
  const json failing = {{"source", {{"imageId", json::parse(bad.body)["id"]}}},
                        {"steps", {steps[0]}}};
  HttpResponse created = HttpPost(system.url() + "/v1/jobs", failing.dump(), "application/json");
  ASSERT_EQ(created.status, 202) << created.body;
  ids.push_back(json::parse(created.body)["metadata"]["id"]);
  int succeeded = 0;
  int failed = 0;
  for (const std::string& id : ids) {
    const std::string phase = AwaitJob(system.url(), id, absl::Seconds(60))["status"]["phase"];
    succeeded += phase == "Succeeded";
    failed += phase == "Failed";
  }
  ASSERT_EQ(failed, 1);
  ASSERT_EQ(succeeded, static_cast<int>(ids.size()) - 1);

  // Prometheus has scraped the outcome (and the consumer lag, reported every 5 s).
  const int completed = succeeded + failed;
  ASSERT_TRUE(Eventually(
      [&] {
        const json r =
            Query("sum(pixq_jobs_completed_total) + 0 * sum(pixq_consumer_lag_messages)");
        return r["status"] == "success" && !r["data"]["result"].empty() &&
               r["data"]["result"][0]["value"][1] == std::to_string(completed);
      },
      absl::Seconds(60)))
      << Query("sum(pixq_jobs_completed_total)").dump();
  // A few more scrapes, so that rates see the counters both before and after.
  absl::SleepFor(absl::Seconds(3));

  int with_data = 0;
  for (const PanelQuery& panel : panels) {
    SCOPED_TRACE(panel.where + ": " + panel.expr);
    const json r = Query(Substitute(panel.expr));
    ASSERT_EQ(r["status"], "success") << r.dump();
    EXPECT_FALSE(r["data"]["result"].empty()) << "no data";
    with_data += !r["data"]["result"].empty();
  }
  std::cout << "panel queries with data: " << with_data << " of " << panels.size() << "\n";

  // Every alert rule, as Prometheus loaded it: evaluated without error, and its expression
  // answered by the query API too.
  const std::string rules_file = ReadFile(kSource + "/observability/alerts/pixq-alerts.yaml");
  int declared = 0;
  for (size_t at = rules_file.find("- alert: "); at != std::string::npos;
       at = rules_file.find("- alert: ", at + 1)) {
    ++declared;
  }
  json rules;
  ASSERT_TRUE(Eventually(
      [&] {
        rules = json::parse(HttpGet(prometheus_ + "/api/v1/rules?type=alert").body, nullptr, false);
        if (!rules.is_object() || rules["data"]["groups"].empty()) return false;
        for (const json& rule : rules["data"]["groups"][0]["rules"]) {
          if (rule.value("lastEvaluation", "").rfind("0001-", 0) == 0) return false;
        }
        return true;
      },
      absl::Seconds(30)))
      << rules.dump();
  int evaluated = 0;
  for (const json& group : rules["data"]["groups"]) {
    for (const json& rule : group["rules"]) {
      SCOPED_TRACE(rule["name"].get<std::string>());
      EXPECT_EQ(rule["health"], "ok") << rule.dump();
      const json r = Query(rule["query"]);
      EXPECT_EQ(r["status"], "success") << r.dump();
      ++evaluated;
      std::cout << "alert " << rule["name"].get<std::string>() << ": "
                << rule["state"].get<std::string>() << "\n";
    }
  }
  EXPECT_EQ(evaluated, declared);
  // A healthy system under this light load fires nothing.
  for (const json& group : rules["data"]["groups"]) {
    for (const json& rule : group["rules"]) EXPECT_EQ(rule["state"], "inactive") << rule.dump();
  }
}

}  // namespace
}  // namespace pixq::testing
