#include "pkg/observability/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace pixq::observability {
namespace {

std::atomic<int> g_min_level{static_cast<int>(Level::kInfo)};
thread_local nlohmann::json t_context = nlohmann::json::object();
std::string& ServiceName() {
  static std::string name = "pixq";
  return name;
}

const char* LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

void Write(Level level, std::string_view message, nlohmann::json line) {
  line["time"] = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  line["level"] = LevelName(level);
  line["service"] = ServiceName();
  line["message"] = std::string(message);
  // Invalid UTF-8 in a field (e.g. a client's file name) is replaced rather than thrown on.
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text.push_back('\n');
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

}  // namespace

std::optional<Level> ParseLevel(std::string_view name) {
  if (name == "debug") return Level::kDebug;
  if (name == "info") return Level::kInfo;
  if (name == "warn" || name == "warning") return Level::kWarn;
  if (name == "error") return Level::kError;
  return std::nullopt;
}

void ConfigureLogging(std::string service, Level min_level) {
  ServiceName() = std::move(service);
  g_min_level = static_cast<int>(min_level);
}

void Log(Level level, std::string_view message, Fields fields) {
  if (static_cast<int>(level) < g_min_level.load(std::memory_order_relaxed)) return;
  nlohmann::json line = t_context;
  for (const auto& [key, value] : fields) line[key] = value;
  Write(level, message, std::move(line));
}

void Log(Level level, std::string_view message, const nlohmann::json& fields) {
  if (static_cast<int>(level) < g_min_level.load(std::memory_order_relaxed)) return;
  nlohmann::json line = t_context;
  if (fields.is_object()) line.update(fields);
  Write(level, message, std::move(line));
}

LogContext::LogContext(Fields fields) : previous_(t_context) {
  for (const auto& [key, value] : fields) t_context[key] = value;
}

LogContext::~LogContext() { t_context = std::move(previous_); }

}  // namespace pixq::observability
