#pragma once

// Structured logs: one JSON object per line on stdout with time, level, service, message and the
// given fields (job_id, trace_id, span_id where known). Process-wide, thread-safe; each line is
// written with one call so lines of concurrent threads never interleave. Never pass image bytes
// or secrets as fields.

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "nlohmann/json.hpp"

namespace pixq::observability {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

[[nodiscard]] std::optional<Level> ParseLevel(std::string_view name);  // debug|info|warn|error

// Sets the service name and the lowest level written. Call once at start, before threads log.
void ConfigureLogging(std::string service, Level min_level);

using Fields = std::initializer_list<std::pair<const char*, nlohmann::json>>;

void Log(Level level, std::string_view message, Fields fields = {});
void Log(Level level, std::string_view message, const nlohmann::json& fields);
inline void LogDebug(std::string_view m, Fields f = {}) { Log(Level::kDebug, m, f); }
inline void LogInfo(std::string_view m, Fields f = {}) { Log(Level::kInfo, m, f); }
inline void LogWarn(std::string_view m, Fields f = {}) { Log(Level::kWarn, m, f); }
inline void LogError(std::string_view m, Fields f = {}) { Log(Level::kError, m, f); }

// Fields added to every line this thread logs while the LogContext lives (job_id, trace_id,
// span_id), so that code below need not pass them along. Nests; a field given to Log wins.
class LogContext final {
 public:
  explicit LogContext(Fields fields);
  ~LogContext();
  LogContext(const LogContext&) = delete;
  LogContext& operator=(const LogContext&) = delete;

 private:
  nlohmann::json previous_;
};

}  // namespace pixq::observability
