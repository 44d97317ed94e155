#pragma once

// Tracing settings from OpenTelemetry's standard variables, with their documented meaning and
// defaults (OTel's SDK environment specification):
//   OTEL_SDK_DISABLED=true            spans are neither recorded nor exported (still propagated)
//   OTEL_SERVICE_NAME                 service.name; else OTEL_RESOURCE_ATTRIBUTES' service.name;
//                                     else empty, meaning the binary's own name
//   OTEL_RESOURCE_ATTRIBUTES          k=v,k=v (values percent-decoded; a key given twice: last)
//   OTEL_TRACES_SAMPLER(_ARG)         always_on, always_off, traceidratio, parentbased_always_on
//                                     (the default), parentbased_always_off,
//                                     parentbased_traceidratio; the ratio 0..1
//   OTEL_EXPORTER_OTLP_TRACES_ENDPOINT  the URL spans are POSTed to, as it is; else
//   OTEL_EXPORTER_OTLP_ENDPOINT       + "/v1/traces"; neither: nothing is exported
//   OTEL_EXPORTER_OTLP_(TRACES_)HEADERS  k=v,k=v sent with each export (values percent-decoded,
//                                     '+' kept)
//   OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT  milliseconds per export (10000)
//   OTEL_BSP_SCHEDULE_DELAY           milliseconds between batches (1000)
//   OTEL_BSP_MAX_QUEUE_SIZE           spans queued at most (2048); more are dropped
//   OTEL_BSP_MAX_EXPORT_BATCH_SIZE    spans per export (512, at most the queue size)
// Part of Load; public for its tests.

#include <map>
#include <string>

#include "absl/status/statusor.h"

#include "pkg/observability/tracing_options.h"

namespace pixq::config {

// Errors: "InvalidConfig" naming the variable, e.g. "OTEL_BSP_MAX_QUEUE_SIZE: must be a positive
// integer".
[[nodiscard]] absl::StatusOr<observability::TracingOptions> TracingFromEnvironment(
    const std::map<std::string, std::string>& env);

}  // namespace pixq::config
