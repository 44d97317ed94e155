#pragma once

// The configuration's keys, one row each: where the value lives in Config, its default, its
// bounds and rules, and what it means. Load, validation, the PIXQ_* environment names, Render
// (--print-config) and README.md's table (held to it by a test) all read these rows, so a key is
// added, documented and checked in one place.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/status.h"

#include "pkg/config/config.h"

namespace pixq::config {

// Where a key's value lives; its type decides how the value is read and shown.
using Target = std::variant<int*, int64_t*, bool*, std::string*, std::vector<std::string>*,
                            std::map<std::string, std::string>*>;

// An integer's allowed values: min..max, where the minimum may be another key's value.
struct Bounds {
  int64_t min = 0;
  int64_t max = 0;
  const char* min_key = nullptr;  // e.g. "retry.backoff_ms": min is that key's value
};

struct Key {
  const char* section;  // "http"
  const char* name;     // "port"
  std::function<Target(Config&)> target;
  // The default as text, as the environment would give it ("a,b" for a list).
  const char* default_value;
  const char* meaning;
  std::optional<Bounds> bounds = std::nullopt;  // integers
  bool required = false;                        // strings: "is empty" when empty
  bool secret = false;                          // Render shows "<redacted>"
  // A further rule, given the whole configuration (other keys' values may matter). OK or the
  // message after "<key>: ", e.g. "must be at least 32 characters".
  std::function<std::optional<std::string>(const Config&)> check = nullptr;

  [[nodiscard]] std::string Dotted() const;   // "http.port"
  [[nodiscard]] std::string EnvName() const;  // "PIXQ_HTTP_PORT"
};

// Every key, in the order Render writes them (sections in the order of Sections()).
[[nodiscard]] std::span<const Key> Keys();
[[nodiscard]] std::span<const char* const> Sections();

}  // namespace pixq::config
