#include "pkg/config/config.h"

#include <fstream>
#include <limits>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include <unistd.h>

#include "pkg/config/keys.h"
#include "pkg/config/tracing.h"
#include "pkg/errors/errors.h"
#include "pkg/yaml/yaml.h"

extern char** environ;

namespace pixq::config {
namespace {

// Overloads the call operators of several lambdas, for std::visit.
template <typename... F>
struct Overloaded : F... {
  using F::operator()...;
};

absl::Status ConfigError(std::string_view key, std::string_view what) {
  return errors::Make(errors::Reason::kInvalidConfig,
                      absl::StrCat(errors::Sv(key), ": ", errors::Sv(what)));
}

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

// "k=v,k=v" into `out` (PIXQ_KAFKA_PROPERTIES), merged with what is there.
absl::Status ParseProperties(const std::string& name, const std::string& text,
                             std::map<std::string, std::string>& out) {
  for (absl::string_view pair : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    const size_t eq = pair.find('=');
    if (eq == absl::string_view::npos || eq == 0) {
      return ConfigError(name, absl::StrCat("must be k=v,k=v; got \"", pair, "\""));
    }
    out[std::string(absl::StripAsciiWhitespace(pair.substr(0, eq)))] =
        std::string(absl::StripAsciiWhitespace(pair.substr(eq + 1)));
  }
  return absl::OkStatus();
}

// Sets a key from text, as the environment gives it (lists "a,b"); `name` is what an error names.
absl::Status SetFromText(const Key& key, Config& config, const std::string& name,
                         const std::string& text) {
  return std::visit(
      Overloaded{
          [&](int* v) { return ParseInteger(name, text, *v); },
          [&](int64_t* v) { return ParseInteger(name, text, *v); },
          [&](bool* v) { return ParseBool(name, text, *v); },
          [&](std::string* v) {
            *v = text;
            return absl::OkStatus();
          },
          [&](std::vector<std::string>* v) {
            v->clear();
            for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
              v->emplace_back(absl::StripAsciiWhitespace(item));
            }
            return absl::OkStatus();
          },
          [&](std::map<std::string, std::string>* v) { return ParseProperties(name, text, *v); },
      },
      key.target(config));
}

// Sets a key from its value in the YAML file.
absl::Status SetFromYaml(const Key& key, Config& config, const std::string& name,
                         const yaml::Node& value) {
  using Kind = yaml::Node::Kind;
  const Target target = key.target(config);
  if (auto* properties = std::get_if<std::map<std::string, std::string>*>(&target)) {
    if (value.kind == Kind::kNull) return absl::OkStatus();
    if (value.kind != Kind::kMap) return ConfigError(name, "must be a mapping of strings");
    for (const auto& [property, text] : value.entries) {
      if (text.kind != Kind::kScalar) {
        return ConfigError(absl::StrCat(name, ".", property), "must be a string");
      }
      (**properties)[property] = text.scalar;
    }
    return absl::OkStatus();
  }
  if (std::holds_alternative<std::vector<std::string>*>(target) && value.kind == Kind::kSequence) {
    std::vector<std::string> items;
    for (const yaml::Node& item : value.items) {
      if (item.kind != Kind::kScalar) return ConfigError(name, "must be a list of strings");
      items.push_back(item.scalar);
    }
    return SetFromText(key, config, name, absl::StrJoin(items, ","));
  }
  if (value.kind != Kind::kScalar) return ConfigError(name, "must be a single value");
  return SetFromText(key, config, name, value.scalar);
}

bool IsSection(std::string_view name) {
  for (const char* s : Sections()) {
    if (name == s) return true;
  }
  return false;
}

const Key* FindKey(std::string_view section, std::string_view name) {
  for (const Key& key : Keys()) {
    if (section == key.section && name == key.name) return &key;
  }
  return nullptr;
}

bool IsSecretProperty(const std::string& key) {
  const std::string k = absl::AsciiStrToLower(key);
  return absl::StrContains(k, "password") || absl::StrContains(k, "secret") ||
         absl::StrContains(k, "sasl") || absl::StrContains(k, "key");
}

absl::Status ApplyYaml(const yaml::Node& root, Config& config) {
  using Kind = yaml::Node::Kind;
  if (root.kind == Kind::kNull) return absl::OkStatus();
  if (root.kind != Kind::kMap) return ConfigError("(file)", "must be a mapping of sections");
  for (const auto& [section, entries] : root.entries) {
    if (!IsSection(section)) return ConfigError(section, "unknown section");
    if (entries.kind == Kind::kNull) continue;
    if (entries.kind != Kind::kMap) return ConfigError(section, "must be a mapping");
    for (const auto& [name, value] : entries.entries) {
      const std::string dotted = absl::StrCat(section, ".", name);
      const Key* key = FindKey(section, name);
      if (key == nullptr) return ConfigError(dotted, "unknown key");
      PIXQ_RETURN_IF_ERROR(SetFromYaml(*key, config, dotted, value));
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
    const Key* key = FindKey(section, absl::AsciiStrToLower(rest.substr(underscore + 1)));
    if (key == nullptr) return ConfigError(name, "unknown setting");
    PIXQ_RETURN_IF_ERROR(SetFromText(*key, config, name, value));
  }
  return absl::OkStatus();
}

// An integer key's value, to check its bounds.
int64_t IntegerOf(const Key& key, Config& config) {
  const Target target = key.target(config);
  if (auto* v = std::get_if<int*>(&target)) return **v;
  return *std::get<int64_t*>(target);
}

absl::Status Validate(const Config& c) {
  Config copy = c;  // Key::target reaches members through a Config&; nothing is changed
  for (const Key& key : Keys()) {
    const std::string name = key.Dotted();
    if (key.bounds) {
      int64_t min = key.bounds->min;
      if (key.bounds->min_key != nullptr) {
        for (const Key& other : Keys()) {
          if (other.Dotted() == key.bounds->min_key) min = IntegerOf(other, copy);
        }
      }
      const int64_t value = IntegerOf(key, copy);
      if (value < min || value > key.bounds->max) {
        return ConfigError(name,
                           absl::StrCat("must be ", min, "..", key.bounds->max, ", got ", value));
      }
    }
    if (key.required && std::get<std::string*>(key.target(copy))->empty()) {
      return ConfigError(name, "is empty");
    }
    if (key.check) {
      if (std::optional<std::string> broken = key.check(c)) return ConfigError(name, *broken);
    }
  }
  return absl::OkStatus();
}

std::string DefaultWorkerName() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return absl::StrCat(host[0] != '\0' ? host : "worker", "-", getpid());
}

// A key's value as --print-config shows it: numbers and booleans plain, strings double-quoted,
// lists in flow style, secrets redacted.
yaml::Node Show(const Key& key, Config& config) {
  return std::visit(Overloaded{
                        [](int* v) { return yaml::Node::Scalar(std::to_string(*v)); },
                        [](int64_t* v) { return yaml::Node::Scalar(std::to_string(*v)); },
                        [](bool* v) { return yaml::Node::Scalar(*v ? "true" : "false"); },
                        [&](std::string* v) {
                          return yaml::Node::Quoted(key.secret && !v->empty() ? "<redacted>" : *v);
                        },
                        [](std::vector<std::string>* v) {
                          yaml::Node list = yaml::Node::Sequence({});
                          for (const std::string& item : *v) {
                            if (!item.empty()) list.items.push_back(yaml::Node::Quoted(item));
                          }
                          return list;
                        },
                        [](std::map<std::string, std::string>* v) {
                          yaml::Node map = yaml::Node::Map();
                          for (const auto& [k, value] : *v) {
                            map.entries.emplace_back(
                                k, yaml::Node::Quoted(IsSecretProperty(k) ? "<redacted>" : value));
                          }
                          return map;
                        },
                    },
                    key.target(config));
}

}  // namespace

Config Defaults() {
  Config config;
  for (const Key& key : Keys()) {
    // The table's own defaults: a default that does not parse is a bug caught by the tests.
    (void)SetFromText(key, config, key.Dotted(), key.default_value);
  }
  return config;
}

absl::StatusOr<Config> LoadFromString(std::string_view yaml,
                                      const std::map<std::string, std::string>& env) {
  Config config = Defaults();
  absl::StatusOr<yaml::Node> root = yaml::ParseTree(yaml);
  if (!root.ok()) {
    return errors::Make(errors::Reason::kInvalidConfig,
                        absl::StrCat("YAML: ", root.status().message()));
  }
  PIXQ_RETURN_IF_ERROR(ApplyYaml(*root, config));
  PIXQ_RETURN_IF_ERROR(ApplyEnvironment(env, config));
  PIXQ_RETURN_IF_ERROR(Validate(config));
  absl::StatusOr<observability::TracingOptions> tracing = TracingFromEnvironment(env);
  if (!tracing.ok()) return tracing.status();
  config.tracing = *std::move(tracing);
  if (config.worker.name.empty()) config.worker.name = DefaultWorkerName();
  return config;
}

absl::StatusOr<Config> Load(std::string_view path, const std::map<std::string, std::string>& env) {
  if (path.empty()) return LoadFromString("", env);
  std::ifstream in{std::string(path)};
  if (!in) {
    return errors::Make(errors::Reason::kInvalidConfig,
                        absl::StrCat("cannot read configuration file ", errors::Sv(path)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  absl::StatusOr<Config> config = LoadFromString(text.str(), env);
  if (!config.ok()) {
    return errors::Make(errors::Reason::kInvalidConfig,
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
  Config copy = config;  // Key::target reaches members through a Config&; nothing is changed
  yaml::Node root = yaml::Node::Map();
  for (const char* section : Sections()) {
    yaml::Node entries = yaml::Node::Map();
    for (const Key& key : Keys()) {
      if (std::string_view(key.section) == section) {
        entries.entries.emplace_back(key.name, Show(key, copy));
      }
    }
    root.entries.emplace_back(section, std::move(entries));
  }
  return yaml::Emit(root);
}

}  // namespace pixq::config
