#include "pkg/runtime/runtime.h"

#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <sched.h>

#include "pkg/observability/metrics.h"
#include "tests/support/collector.h"
#include "tests/support/process.h"

namespace pixq::runtime {
namespace {

void WriteCpuMax(const std::filesystem::path& dir, const std::string& text) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "cpu.max") << text << "\n";
}

TEST(CpuLimitTest, TakesTheLowestQuotaOfTheProcessesCgroupAndThoseAboveIt) {
  testing::TempDir root;
  const std::filesystem::path mount = root.path();
  WriteCpuMax(mount, "max 100000");
  // No cgroup limit: the CPUs it may run on.
  EXPECT_EQ(CpuLimit(8, root.path(), "0::/\n"), 8);
  // Inside a container (its own cgroup namespace: "/"), the quota at the mount's top.
  WriteCpuMax(mount, "150000 100000");
  EXPECT_EQ(CpuLimit(8, root.path(), "0::/\n"), 2);  // 1.5 CPUs, rounded up
  // A service's own cgroup below a limited slice: the tighter of the two, wherever it is.
  WriteCpuMax(mount, "max 100000");
  WriteCpuMax(mount / "pixq.slice", "300000 100000");
  WriteCpuMax(mount / "pixq.slice" / "worker.service", "max 100000");
  EXPECT_EQ(CpuLimit(8, root.path(), "0::/pixq.slice/worker.service\n"), 3);
  WriteCpuMax(mount / "pixq.slice" / "worker.service", "100000 100000");
  EXPECT_EQ(CpuLimit(8, root.path(), "0::/pixq.slice/worker.service\n"), 1);
  // Fewer CPUs to run on than the quota allows: those.
  WriteCpuMax(mount / "pixq.slice" / "worker.service", "max 100000");
  EXPECT_EQ(CpuLimit(2, root.path(), "0::/pixq.slice/worker.service\n"), 2);
  // cgroup v1 lines (or none) are not read; never below 1.
  EXPECT_EQ(CpuLimit(4, root.path(), "4:cpu,cpuacct:/limited\n"), 4);
  EXPECT_EQ(CpuLimit(0, root.path(), ""), 1);
}

TEST(CpuLimitTest, CountsOnlyTheCpusTheProcessMayRunOn) {
  // As under `taskset -c 0`: this thread may run on one CPU only (set on a thread of its own, so
  // the test's other threads keep theirs).
  int limit = 0;
  std::thread pinned([&] {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(sched_getcpu(), &one);
    ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
    limit = CpuLimit();
  });
  pinned.join();
  EXPECT_EQ(limit, 1);
}

// The tracer of a binary: named after it unless OTEL_* say otherwise, exporting through pkg/fetch
// to the configured collector (here a stand-in on loopback, which no proxy may stand between).
TEST(StartTracerTest, NamesTheServiceAfterTheBinaryUnlessTheVariablesDo) {
  testing::Collector collector;
  for (const bool named : {false, true}) {
    std::map<std::string, std::string> env = {
        {"OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint()}};
    if (named) env["OTEL_SERVICE_NAME"] = "thumbs";
    absl::StatusOr<config::Config> cfg = config::LoadFromString("", env);
    ASSERT_TRUE(cfg.ok()) << cfg.status();
    observability::Metrics metrics{observability::MetricsRole::kApi};
    std::unique_ptr<observability::Tracer> tracer = StartTracer(*cfg, "pixq-api", metrics);
    tracer->StartSpan("hello", observability::SpanKind::kServer, nullptr).End();
    tracer->Flush(absl::Seconds(10));
    EXPECT_EQ(tracer->exported(), 1);
  }
  const std::vector<testing::ReceivedSpan> spans = collector.Spans();
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0].service, "pixq-api");
  EXPECT_EQ(spans[1].service, "thumbs");
}

}  // namespace
}  // namespace pixq::runtime
