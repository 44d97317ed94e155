#pragma once

// Spans to an OpenTelemetry collector over OTLP/HTTP with the JSON encoding
// (ExportTraceServiceRequest, one resource, scope "pixq"). opentelemetry-cpp is not in Debian;
// this is the small part of it pixq needs. The HTTP POST itself is handed in (HttpPost), so this
// library holds no HTTP client: main wires pkg/fetch's PostToEndpoint.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "pkg/observability/span_exporter.h"
#include "pkg/observability/tracing_options.h"

namespace pixq::observability {

// One HTTP POST of `body` with `headers` to `url`, given up after `timeout`: the answer's status
// code, or an error when none came (its message says why, e.g. "Couldn't connect to server").
using HttpPost = std::function<absl::StatusOr<int>(
    std::string_view url, std::string_view body,
    const std::vector<std::pair<std::string, std::string>>& headers, absl::Duration timeout)>;

// The OTLP/HTTP JSON body for `spans`, the resource described by `options` (service.name and
// resource_attributes).
[[nodiscard]] std::string OtlpJson(const TracingOptions& options,
                                   const std::vector<SpanData>& spans);

// POSTs OtlpJson to options.traces_url as application/json with options.headers, within
// options.export_timeout. Errors: "ExportFailed" (Unavailable) when no answer came or the answer
// was not 2xx.
[[nodiscard]] std::unique_ptr<SpanExporter> MakeOtlpHttpExporter(const TracingOptions& options,
                                                                 HttpPost post);

}  // namespace pixq::observability
