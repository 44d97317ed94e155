#include "pkg/config/tracing.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

#include "pkg/encoding/percent.h"
#include "pkg/errors/errors.h"

namespace pixq::config {
namespace {

using observability::Sampler;
using observability::TracingOptions;

// "k=v,k2=v2" (OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS), values percent-decoded.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParsePairs(const char* variable,
                                                                            std::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  for (absl::string_view item : absl::StrSplit(errors::Sv(text), ',', absl::SkipWhitespace())) {
    const size_t eq = item.find('=');
    if (eq == absl::string_view::npos || eq == 0) {
      return errors::Make(errors::Reason::kInvalidConfig,
                          absl::StrCat(variable, ": expected key=value pairs, got \"", item, "\""));
    }
    out.emplace_back(
        std::string(absl::StripAsciiWhitespace(item.substr(0, eq))),
        encoding::PercentDecode(std::string(absl::StripAsciiWhitespace(item.substr(eq + 1)))));
  }
  return out;
}

}  // namespace

absl::StatusOr<TracingOptions> TracingFromEnvironment(
    const std::map<std::string, std::string>& env) {
  TracingOptions options;
  auto get = [&](const char* name) -> std::string {
    auto it = env.find(name);
    return it != env.end() ? std::string(absl::StripAsciiWhitespace(it->second)) : std::string();
  };
  auto milliseconds = [&](const char* name, absl::Duration& out) -> absl::Status {
    const std::string v = get(name);
    if (v.empty()) return absl::OkStatus();
    int64_t ms = 0;
    if (!absl::SimpleAtoi(v, &ms) || ms <= 0) {
      return errors::Make(errors::Reason::kInvalidConfig,
                          absl::StrCat(name, ": must be a positive number of milliseconds"));
    }
    out = absl::Milliseconds(ms);
    return absl::OkStatus();
  };
  auto count = [&](const char* name, size_t& out) -> absl::Status {
    const std::string v = get(name);
    if (v.empty()) return absl::OkStatus();
    if (!absl::SimpleAtoi(v, &out) || out == 0) {
      return errors::Make(errors::Reason::kInvalidConfig,
                          absl::StrCat(name, ": must be a positive integer"));
    }
    return absl::OkStatus();
  };

  options.enabled = absl::AsciiStrToLower(get("OTEL_SDK_DISABLED")) != "true";

  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> resource =
      ParsePairs("OTEL_RESOURCE_ATTRIBUTES", get("OTEL_RESOURCE_ATTRIBUTES"));
  if (!resource.ok()) return resource.status();
  for (auto& [key, value] : *resource) {
    if (key == "service.name") {
      options.service_name = value;
      continue;
    }
    // A key given twice keeps its last value: OTLP allows each key once.
    auto same = std::find_if(options.resource_attributes.begin(), options.resource_attributes.end(),
                             [&](const auto& attribute) { return attribute.first == key; });
    if (same != options.resource_attributes.end()) {
      same->second = value;
    } else {
      options.resource_attributes.emplace_back(key, value);
    }
  }
  if (std::string name = get("OTEL_SERVICE_NAME"); !name.empty()) options.service_name = name;

  const std::string sampler = absl::AsciiStrToLower(get("OTEL_TRACES_SAMPLER"));
  using Root = Sampler::Root;
  if (sampler.empty() || sampler == "parentbased_always_on") {
    options.sampler = {Root::kAlwaysOn, true};
  } else if (sampler == "always_on") {
    options.sampler = {Root::kAlwaysOn, false};
  } else if (sampler == "always_off") {
    options.sampler = {Root::kAlwaysOff, false};
  } else if (sampler == "traceidratio") {
    options.sampler = {Root::kRatio, false};
  } else if (sampler == "parentbased_always_off") {
    options.sampler = {Root::kAlwaysOff, true};
  } else if (sampler == "parentbased_traceidratio") {
    options.sampler = {Root::kRatio, true};
  } else {
    return errors::Make(
        errors::Reason::kInvalidConfig,
        absl::StrCat("OTEL_TRACES_SAMPLER: unknown sampler \"", sampler,
                     "\" (always_on, always_off, traceidratio, parentbased_always_on, "
                     "parentbased_always_off, parentbased_traceidratio)"));
  }
  if (options.sampler.root == Root::kRatio) {
    const std::string arg = get("OTEL_TRACES_SAMPLER_ARG");
    if (!arg.empty() && (!absl::SimpleAtod(arg, &options.sampler.ratio) ||
                         options.sampler.ratio < 0 || options.sampler.ratio > 1)) {
      return errors::Make(errors::Reason::kInvalidConfig,
                          "OTEL_TRACES_SAMPLER_ARG: must be a ratio between 0 and 1");
    }
  }

  if (std::string url = get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); !url.empty()) {
    options.traces_url = url;
  } else if (std::string base = get("OTEL_EXPORTER_OTLP_ENDPOINT"); !base.empty()) {
    options.traces_url = absl::StrCat(absl::StripSuffix(base, "/"), "/v1/traces");
  }
  if (!options.traces_url.empty() && options.traces_url.rfind("http://", 0) != 0 &&
      options.traces_url.rfind("https://", 0) != 0) {
    return errors::Make(errors::Reason::kInvalidConfig,
                        "OTEL_EXPORTER_OTLP_ENDPOINT: must be an http:// or https:// URL");
  }
  for (const char* name : {"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"}) {
    absl::StatusOr<std::vector<std::pair<std::string, std::string>>> headers =
        ParsePairs(name, get(name));
    if (!headers.ok()) return headers.status();
    options.headers.insert(options.headers.end(), headers->begin(), headers->end());
  }
  PIXQ_RETURN_IF_ERROR(milliseconds("OTEL_EXPORTER_OTLP_TIMEOUT", options.export_timeout));
  PIXQ_RETURN_IF_ERROR(milliseconds("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", options.export_timeout));
  PIXQ_RETURN_IF_ERROR(milliseconds("OTEL_BSP_SCHEDULE_DELAY", options.flush_interval));
  PIXQ_RETURN_IF_ERROR(count("OTEL_BSP_MAX_QUEUE_SIZE", options.max_queue));
  PIXQ_RETURN_IF_ERROR(count("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", options.max_batch));
  options.max_batch = std::min(options.max_batch, options.max_queue);
  return options;
}

}  // namespace pixq::config
