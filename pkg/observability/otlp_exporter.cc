#include "pkg/observability/otlp_exporter.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

#include "pkg/encoding/hex.h"
#include "pkg/errors/errors.h"

namespace pixq::observability {
namespace {

int64_t UnixNanos(absl::Time t) { return absl::ToUnixNanos(t); }

nlohmann::json AttributeJson(const std::string& key, const AttributeValue& value) {
  nlohmann::json v;
  if (const auto* s = std::get_if<std::string>(&value)) {
    v["stringValue"] = *s;
  } else if (const auto* i = std::get_if<int64_t>(&value)) {
    v["intValue"] = std::to_string(*i);  // OTLP/JSON: 64-bit integers are strings
  } else if (const auto* d = std::get_if<double>(&value)) {
    // JSON has no NaN or Infinity (nlohmann writes null, read as "no value"): protobuf's JSON
    // mapping spells them as strings.
    if (std::isnan(*d)) {
      v["doubleValue"] = "NaN";
    } else if (std::isinf(*d)) {
      v["doubleValue"] = *d > 0 ? "Infinity" : "-Infinity";
    } else {
      v["doubleValue"] = *d;
    }
  } else {
    v["boolValue"] = std::get<bool>(value);
  }
  return {{"key", key}, {"value", v}};
}

class OtlpHttpExporter final : public SpanExporter {
 public:
  OtlpHttpExporter(TracingOptions options, HttpPost post)
      : options_(std::move(options)), post_(std::move(post)) {}

  absl::Status Export(const std::vector<SpanData>& spans) override {
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Content-Type", "application/json"}};
    headers.insert(headers.end(), options_.headers.begin(), options_.headers.end());
    const absl::StatusOr<int> status =
        post_(options_.traces_url, OtlpJson(options_, spans), headers, options_.export_timeout);
    if (!status.ok()) {
      return errors::Make(errors::Reason::kExportFailed,
                          absl::StrCat(options_.traces_url, ": ", status.status().message()));
    }
    if (*status < 200 || *status >= 300) {
      return errors::Make(errors::Reason::kExportFailed,
                          absl::StrCat(options_.traces_url, " answered ", *status));
    }
    return absl::OkStatus();
  }

 private:
  TracingOptions options_;
  HttpPost post_;
};

}  // namespace

std::string OtlpJson(const TracingOptions& options, const std::vector<SpanData>& spans) {
  nlohmann::json resource_attributes = nlohmann::json::array();
  resource_attributes.push_back(AttributeJson("service.name", options.service_name));
  for (const auto& [key, value] : options.resource_attributes) {
    resource_attributes.push_back(AttributeJson(key, value));
  }
  nlohmann::json out_spans = nlohmann::json::array();
  for (const SpanData& s : spans) {
    nlohmann::json span = {{"traceId", s.context.TraceIdHex()},
                           {"spanId", s.context.SpanIdHex()},
                           {"name", s.name},
                           {"kind", static_cast<int>(s.kind)},
                           {"startTimeUnixNano", std::to_string(UnixNanos(s.start))},
                           {"endTimeUnixNano", std::to_string(UnixNanos(s.end))},
                           {"attributes", nlohmann::json::array()},
                           {"status", {{"code", s.error ? 2 : 0}}}};
    if (!IsZeroId(s.parent_span_id)) span["parentSpanId"] = encoding::LowerHex(s.parent_span_id);
    if (s.error && !s.status_message.empty()) span["status"]["message"] = s.status_message;
    for (const auto& [key, value] : s.attributes) {
      span["attributes"].push_back(AttributeJson(key, value));
    }
    out_spans.push_back(std::move(span));
  }
  const nlohmann::json request = {
      {"resourceSpans",
       {{{"resource", {{"attributes", resource_attributes}}},
         {"scopeSpans", {{{"scope", {{"name", "pixq"}}}, {"spans", out_spans}}}}}}}};
  return request.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::unique_ptr<SpanExporter> MakeOtlpHttpExporter(const TracingOptions& options, HttpPost post) {
  return std::make_unique<OtlpHttpExporter>(options, std::move(post));
}

}  // namespace pixq::observability
