#include "tests/support/figures.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include <gtest/gtest.h>

namespace pixq::testing {

std::string Took(absl::Duration duration) {
  return absl::FormatDuration(absl::Trunc(
      duration, duration >= absl::Seconds(1) ? absl::Milliseconds(1) : absl::Microseconds(10)));
}

void RecordFault(const FaultFigures& figures) {
  const char* dir_env = std::getenv("PIXQ_FIGURES_DIR");
  const std::filesystem::path dir =
      dir_env != nullptr && *dir_env != '\0' ? dir_env : PIXQ_BINARY_DIR "/figures";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
  const char* run = std::getenv("PIXQ_FIGURES_RUN");  // set by scripts/reliability-report.sh
  const nlohmann::json line = {
      {"run", run != nullptr ? run : ""},
      {"test", test != nullptr ? std::string(test->test_suite_name()) + "." + test->name() : ""},
      {"at", absl::FormatTime(absl::RFC3339_sec, absl::Now(), absl::UTCTimeZone())},
      {"fault", figures.fault},
      {"injected", figures.injected},
      {"jobs", figures.jobs},
      {"lost", figures.lost},
      {"redeliveries", figures.redeliveries},
      {"recovery", figures.recovery}};
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  std::ofstream(dir / "reliability.jsonl", std::ios::app) << line.dump() << "\n";
}

}  // namespace pixq::testing
