#include "pkg/config/config.h"

#include <algorithm>
#include <fstream>
#include <functional>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include "pkg/errors/errors.h"
#include "pkg/fetch/address.h"

extern char** environ;

namespace pixq::config {
namespace {

absl::Status ConfigError(std::string_view key, std::string_view what) {
  return errors::Invalid("InvalidConfig", absl::StrCat(errors::Sv(key), ": ", errors::Sv(what)));
}

// One settable key: its section and name, how to set it from text and how to show it.
struct Field {
  const char* section;
  const char* key;
  std::function<absl::Status(Config&, const std::string& name, const std::string& text)> set;
  std::function<std::string(const Config&)> show;
  enum class Kind { kNumber, kString, kList, kSecret } kind = Kind::kNumber;
};

template <typename T>
absl::Status ParseInteger(const std::string& name, const std::string& text, T& out) {
  int64_t value = 0;
  if (!absl::SimpleAtoi(errors::Sv(text), &value)) {
    return ConfigError(name, absl::StrCat("must be an integer, got \"", text, "\""));
  }
  if (value < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
      value > static_cast<int64_t>(std::numeric_limits<T>::max())) {
    return ConfigError(name, absl::StrCat("out of range, got ", text));
  }
  out = static_cast<T>(value);
  return absl::OkStatus();
}

absl::Status ParseBool(const std::string& name, const std::string& text, bool& out) {
  const std::string t = absl::AsciiStrToLower(text);
  if (t == "true" || t == "1" || t == "yes" || t == "on") {
    out = true;
  } else if (t == "false" || t == "0" || t == "no" || t == "off") {
    out = false;
  } else {
    return ConfigError(name, absl::StrCat("must be true or false, got \"", text, "\""));
  }
  return absl::OkStatus();
}

#define PIXQ_STRING_FIELD(section, member)                                                 \
  Field {                                                                                  \
#section, #member,                                                                       \
        [](Config& c, const std::string&, const std::string& text) {                         \
          c.section.member = text;                                                           \
          return absl::OkStatus();                                                           \
        },                                                                                   \
        [](const Config& c) { return c.section.member; }, Field::Kind::kString \
  }
#define PIXQ_BOOL_FIELD(section, member)                                                   \
  Field {                                                                                  \
#section, #member,                                                                       \
        [](Config& c, const std::string& name, const std::string& text) {                    \
          return ParseBool(name, text, c.section.member);                                    \
        },                                                                                   \
        [](const Config& c) { return std::string(c.section.member ? "true" : "false"); } \
  }
#define PIXQ_INT_FIELD(section, member)                                                    \
  Field {                                                                                  \
#section, #member,                                                                       \
        [](Config& c, const std::string& name, const std::string& text) {                    \
          return ParseInteger(name, text, c.section.member);                                 \
        },                                                                                   \
        [](const Config& c) { return std::to_string(c.section.member); } \
  }

const std::vector<Field>& Fields() {
  static const std::vector<Field> fields = {
      PIXQ_STRING_FIELD(kafka, bootstrap_servers),
      PIXQ_STRING_FIELD(kafka, bootstrap_file),
      PIXQ_STRING_FIELD(kafka, topic_prefix),
      PIXQ_STRING_FIELD(kafka, consumer_group),
      PIXQ_INT_FIELD(kafka, produce_timeout_ms),
      PIXQ_INT_FIELD(kafka, session_timeout_ms),
      PIXQ_STRING_FIELD(storage, root),
      PIXQ_INT_FIELD(storage, tmp_max_age_s),
      PIXQ_STRING_FIELD(http, address),
      PIXQ_INT_FIELD(http, port),
      PIXQ_INT_FIELD(http, threads),
      PIXQ_INT_FIELD(http, max_body_bytes),
      PIXQ_INT_FIELD(http, max_wait_s),
      PIXQ_INT_FIELD(limits, max_pixels),
      PIXQ_INT_FIELD(limits, max_steps),
      PIXQ_INT_FIELD(limits, max_output_dimension),
      PIXQ_INT_FIELD(limits, max_json_bytes),
      PIXQ_INT_FIELD(limits, decode_timeout_ms),
      PIXQ_INT_FIELD(limits, process_timeout_ms),
      PIXQ_INT_FIELD(limits, encode_timeout_ms),
      PIXQ_STRING_FIELD(worker, name),
      PIXQ_STRING_FIELD(worker, address),
      PIXQ_INT_FIELD(worker, port),
      PIXQ_INT_FIELD(worker, concurrency),
      PIXQ_INT_FIELD(worker, shutdown_grace_s),
      PIXQ_BOOL_FIELD(auth, enabled),
      Field{"auth", "api_key_sha256",
            [](Config& c, const std::string&, const std::string& text) {
              c.auth.api_key_sha256.clear();
              for (absl::string_view v : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
                c.auth.api_key_sha256.emplace_back(absl::StripAsciiWhitespace(v));
              }
              return absl::OkStatus();
            },
            [](const Config& c) { return absl::StrJoin(c.auth.api_key_sha256, ","); },
            Field::Kind::kList},
      Field{"auth", "signing_key",
            [](Config& c, const std::string&, const std::string& text) {
              c.auth.signing_key = text;
              return absl::OkStatus();
            },
            [](const Config& c) { return c.auth.signing_key; }, Field::Kind::kSecret},
      PIXQ_INT_FIELD(auth, signed_url_ttl_s),
      PIXQ_INT_FIELD(retention, job_records_s),
      PIXQ_INT_FIELD(retention, outputs_s),
      PIXQ_INT_FIELD(fetch, connect_timeout_ms),
      PIXQ_INT_FIELD(fetch, timeout_ms),
      PIXQ_INT_FIELD(fetch, max_bytes),
      PIXQ_INT_FIELD(fetch, max_redirects),
      Field{"fetch", "allow",
            [](Config& c, const std::string&, const std::string& text) {
              c.fetch.allow.clear();
              for (absl::string_view v : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
                c.fetch.allow.emplace_back(absl::StripAsciiWhitespace(v));
              }
              return absl::OkStatus();
            },
            [](const Config& c) { return absl::StrJoin(c.fetch.allow, ","); }, Field::Kind::kList},
      PIXQ_INT_FIELD(retry, max_attempts),
      PIXQ_INT_FIELD(retry, backoff_ms),
      PIXQ_INT_FIELD(retry, max_backoff_ms),
      Field{"webhook", "secret",
            [](Config& c, const std::string&, const std::string& text) {
              c.webhook.secret = text;
              return absl::OkStatus();
            },
            [](const Config& c) { return c.webhook.secret; }, Field::Kind::kSecret},
      PIXQ_INT_FIELD(webhook, max_attempts),
      PIXQ_INT_FIELD(webhook, backoff_ms),
      PIXQ_STRING_FIELD(log, level),
  };
  return fields;
}

#undef PIXQ_STRING_FIELD
#undef PIXQ_INT_FIELD
#undef PIXQ_BOOL_FIELD

constexpr const char* kSections[] = {"kafka",     "storage", "http",  "limits",  "worker", "auth",
                                     "retention", "fetch",   "retry", "webhook", "log"};

bool IsSection(const std::string& name) {
  for (const char* s : kSections) {
    if (name == s) return true;
  }
  return false;
}

const Field* FindField(const std::string& section, const std::string& key) {
  for (const Field& f : Fields()) {
    if (section == f.section && key == f.key) return &f;
  }
  return nullptr;
}

bool IsSecretProperty(const std::string& key) {
  const std::string k = absl::AsciiStrToLower(key);
  return absl::StrContains(k, "password") || absl::StrContains(k, "secret") ||
         absl::StrContains(k, "sasl") || absl::StrContains(k, "key");
}

absl::Status ApplyYaml(const YAML::Node& root, Config& config) {
  if (root.IsNull()) return absl::OkStatus();
  if (!root.IsMap()) return ConfigError("(file)", "must be a mapping of sections");
  for (const auto& section_entry : root) {
    const std::string section = section_entry.first.as<std::string>();
    if (!IsSection(section)) return ConfigError(section, "unknown section");
    const YAML::Node& section_node = section_entry.second;
    if (section_node.IsNull()) continue;
    if (!section_node.IsMap()) return ConfigError(section, "must be a mapping");
    for (const auto& entry : section_node) {
      const std::string key = entry.first.as<std::string>();
      const std::string name = absl::StrCat(section, ".", key);
      if (section == "kafka" && key == "properties") {
        if (entry.second.IsNull()) continue;
        if (!entry.second.IsMap()) return ConfigError(name, "must be a mapping of strings");
        for (const auto& p : entry.second) {
          if (!p.second.IsScalar()) {
            return ConfigError(absl::StrCat(name, ".", p.first.as<std::string>()),
                               "must be a string");
          }
          config.kafka.properties[p.first.as<std::string>()] = p.second.as<std::string>();
        }
        continue;
      }
      const Field* field = FindField(section, key);
      if (field == nullptr) return ConfigError(name, "unknown key");
      if (field->kind == Field::Kind::kList && entry.second.IsSequence()) {
        std::vector<std::string> items;
        for (const auto& item : entry.second) {
          if (!item.IsScalar()) return ConfigError(name, "must be a list of strings");
          items.push_back(item.as<std::string>());
        }
        PIXQ_RETURN_IF_ERROR(field->set(config, name, absl::StrJoin(items, ",")));
        continue;
      }
      if (!entry.second.IsScalar()) return ConfigError(name, "must be a single value");
      PIXQ_RETURN_IF_ERROR(field->set(config, name, entry.second.as<std::string>()));
    }
  }
  return absl::OkStatus();
}

absl::Status ApplyEnvironment(const std::map<std::string, std::string>& env, Config& config) {
  for (const auto& [name, value] : env) {
    if (!absl::StartsWith(name, "PIXQ_")) continue;
    const std::string rest = name.substr(5);
    const size_t underscore = rest.find('_');
    if (underscore == std::string::npos) continue;  // e.g. PIXQ_CONFIG
    const std::string section = absl::AsciiStrToLower(rest.substr(0, underscore));
    if (!IsSection(section)) continue;  // not ours to judge
    const std::string key = absl::AsciiStrToLower(rest.substr(underscore + 1));
    if (section == "kafka" && key == "properties") {
      for (absl::string_view pair : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
        const size_t eq = pair.find('=');
        if (eq == absl::string_view::npos || eq == 0) {
          return ConfigError(name, absl::StrCat("must be k=v,k=v; got \"", pair, "\""));
        }
        config.kafka.properties[std::string(absl::StripAsciiWhitespace(pair.substr(0, eq)))] =
            std::string(absl::StripAsciiWhitespace(pair.substr(eq + 1)));
      }
      continue;
    }
    const Field* field = FindField(section, key);
    if (field == nullptr) return ConfigError(name, "unknown setting");
    PIXQ_RETURN_IF_ERROR(field->set(config, name, value));
  }
  return absl::OkStatus();
}

absl::Status Range(const char* name, int64_t value, int64_t min, int64_t max) {
  if (value < min || value > max) {
    return ConfigError(name, absl::StrCat("must be ", min, "..", max, ", got ", value));
  }
  return absl::OkStatus();
}

absl::Status Validate(const Config& c) {
  PIXQ_RETURN_IF_ERROR(Range("kafka.produce_timeout_ms", c.kafka.produce_timeout_ms, 100, 120000));
  PIXQ_RETURN_IF_ERROR(Range("kafka.session_timeout_ms", c.kafka.session_timeout_ms, 1000, 300000));
  for (char ch : c.kafka.topic_prefix) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '_' &&
        ch != '-') {
      return ConfigError("kafka.topic_prefix", "may only contain letters, digits, . _ -");
    }
  }
  if (c.kafka.consumer_group.empty()) return ConfigError("kafka.consumer_group", "is empty");
  if (c.kafka.bootstrap_servers.empty() && c.kafka.bootstrap_file.empty()) {
    return ConfigError("kafka.bootstrap_servers", "is empty and so is kafka.bootstrap_file");
  }
  if (c.storage.root.empty()) return ConfigError("storage.root", "is empty");
  PIXQ_RETURN_IF_ERROR(Range("storage.tmp_max_age_s", c.storage.tmp_max_age_s, 60, 86400 * 7));
  if (c.http.address.empty()) return ConfigError("http.address", "is empty");
  PIXQ_RETURN_IF_ERROR(Range("http.port", c.http.port, 0, 65535));
  PIXQ_RETURN_IF_ERROR(Range("http.threads", c.http.threads, 1, 256));
  PIXQ_RETURN_IF_ERROR(Range("http.max_body_bytes", c.http.max_body_bytes, 1024, int64_t{4} << 30));
  PIXQ_RETURN_IF_ERROR(Range("http.max_wait_s", c.http.max_wait_s, 0, 3600));
  PIXQ_RETURN_IF_ERROR(Range("limits.max_pixels", c.limits.max_pixels, 1, int64_t{1} << 40));
  PIXQ_RETURN_IF_ERROR(Range("limits.max_steps", c.limits.max_steps, 1, 1000));
  PIXQ_RETURN_IF_ERROR(
      Range("limits.max_output_dimension", c.limits.max_output_dimension, 1, 65535));
  PIXQ_RETURN_IF_ERROR(
      Range("limits.max_json_bytes", c.limits.max_json_bytes, 256, int64_t{64} << 20));
  PIXQ_RETURN_IF_ERROR(
      Range("limits.decode_timeout_ms", c.limits.decode_timeout_ms, 10, 3'600'000));
  PIXQ_RETURN_IF_ERROR(
      Range("limits.process_timeout_ms", c.limits.process_timeout_ms, 10, 3'600'000));
  PIXQ_RETURN_IF_ERROR(
      Range("limits.encode_timeout_ms", c.limits.encode_timeout_ms, 10, 3'600'000));
  PIXQ_RETURN_IF_ERROR(Range("worker.port", c.worker.port, 0, 65535));
  PIXQ_RETURN_IF_ERROR(Range("worker.concurrency", c.worker.concurrency, 0, 256));
  PIXQ_RETURN_IF_ERROR(Range("worker.shutdown_grace_s", c.worker.shutdown_grace_s, 0, 3600));
  if (c.worker.address.empty()) return ConfigError("worker.address", "is empty");
  for (const std::string& hash : c.auth.api_key_sha256) {
    if (hash.size() != 64 || !std::all_of(hash.begin(), hash.end(), [](char ch) {
          return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
        })) {
      return ConfigError("auth.api_key_sha256",
                         "each entry must be the SHA-256 of a key as 64 lower-case hex digits");
    }
  }
  if (c.auth.enabled && c.auth.api_key_sha256.empty()) {
    return ConfigError("auth.api_key_sha256", "is empty while auth.enabled is true");
  }
  if (!c.auth.signing_key.empty() && c.auth.signing_key.size() < 32) {
    return ConfigError("auth.signing_key", "must be at least 32 characters");
  }
  PIXQ_RETURN_IF_ERROR(
      Range("retention.job_records_s", c.retention.job_records_s, 0, int64_t{3650} * 86400));
  PIXQ_RETURN_IF_ERROR(
      Range("retention.outputs_s", c.retention.outputs_s, 0, int64_t{3650} * 86400));
  PIXQ_RETURN_IF_ERROR(Range("auth.signed_url_ttl_s", c.auth.signed_url_ttl_s, 1, 86400 * 366));
  PIXQ_RETURN_IF_ERROR(Range("fetch.connect_timeout_ms", c.fetch.connect_timeout_ms, 100, 60000));
  PIXQ_RETURN_IF_ERROR(Range("fetch.timeout_ms", c.fetch.timeout_ms, 100, 600000));
  PIXQ_RETURN_IF_ERROR(Range("fetch.max_bytes", c.fetch.max_bytes, 1024, int64_t{4} << 30));
  PIXQ_RETURN_IF_ERROR(Range("fetch.max_redirects", c.fetch.max_redirects, 0, 10));
  for (const std::string& range : c.fetch.allow) {
    if (!fetch::ParseCidr(range).ok()) {
      return ConfigError(
          "fetch.allow",
          absl::StrCat("\"", range, "\" is not an address or a range like 10.0.0.0/8"));
    }
  }
  PIXQ_RETURN_IF_ERROR(Range("retry.max_attempts", c.retry.max_attempts, 1, 100));
  PIXQ_RETURN_IF_ERROR(Range("retry.backoff_ms", c.retry.backoff_ms, 10, 3600000));
  PIXQ_RETURN_IF_ERROR(
      Range("retry.max_backoff_ms", c.retry.max_backoff_ms, c.retry.backoff_ms, 86400000));
  PIXQ_RETURN_IF_ERROR(Range("webhook.max_attempts", c.webhook.max_attempts, 1, 10));
  PIXQ_RETURN_IF_ERROR(Range("webhook.backoff_ms", c.webhook.backoff_ms, 10, 60000));
  if (c.log.level != "debug" && c.log.level != "info" && c.log.level != "warn" &&
      c.log.level != "error") {
    return ConfigError(
        "log.level", absl::StrCat("must be debug, info, warn or error, got \"", c.log.level, "\""));
  }
  return absl::OkStatus();
}

std::string DefaultWorkerName() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return absl::StrCat(host[0] != '\0' ? host : "worker", "-", getpid());
}

}  // namespace

absl::StatusOr<Config> LoadFromString(std::string_view yaml,
                                      const std::map<std::string, std::string>& env) {
  Config config;
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    PIXQ_RETURN_IF_ERROR(ApplyYaml(root, config));
  } catch (const YAML::Exception& e) {
    return errors::Invalid("InvalidConfig", absl::StrCat("YAML: ", e.what()));
  }
  PIXQ_RETURN_IF_ERROR(ApplyEnvironment(env, config));
  PIXQ_RETURN_IF_ERROR(Validate(config));
  if (config.worker.name.empty()) config.worker.name = DefaultWorkerName();
  return config;
}

absl::StatusOr<Config> Load(std::string_view path, const std::map<std::string, std::string>& env) {
  if (path.empty()) return LoadFromString("", env);
  std::ifstream in{std::string(path)};
  if (!in) {
    return errors::Invalid("InvalidConfig",
                           absl::StrCat("cannot read configuration file ", errors::Sv(path)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  absl::StatusOr<Config> config = LoadFromString(text.str(), env);
  if (!config.ok()) {
    return errors::Invalid("InvalidConfig",
                           absl::StrCat(errors::Sv(path), ": ", config.status().message()));
  }
  return config;
}

std::map<std::string, std::string> ProcessEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string entry(*e);
    const size_t eq = entry.find('=');
    if (eq != std::string::npos) env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  return env;
}

std::string Render(const Config& config) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  for (const char* section : kSections) {
    out << YAML::Key << section << YAML::Value << YAML::BeginMap;
    for (const Field& f : Fields()) {
      if (std::string_view(f.section) != section) continue;
      out << YAML::Key << f.key << YAML::Value;
      switch (f.kind) {
        case Field::Kind::kNumber:
          out << f.show(config);
          break;
        case Field::Kind::kString:
          out << YAML::DoubleQuoted << f.show(config);
          break;
        case Field::Kind::kSecret:
          out << YAML::DoubleQuoted << (f.show(config).empty() ? "" : "<redacted>");
          break;
        case Field::Kind::kList:
          out << YAML::Flow << YAML::BeginSeq;
          for (absl::string_view v : absl::StrSplit(f.show(config), ',', absl::SkipEmpty())) {
            out << YAML::DoubleQuoted << std::string(v);
          }
          out << YAML::EndSeq;
          break;
      }
    }
    if (std::string_view(section) == "kafka") {
      out << YAML::Key << "properties" << YAML::Value << YAML::BeginMap;
      for (const auto& [k, v] : config.kafka.properties) {
        out << YAML::Key << k << YAML::Value << YAML::DoubleQuoted
            << (IsSecretProperty(k) ? "<redacted>" : v);
      }
      out << YAML::EndMap;
    }
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace pixq::config
