#pragma once

// Tracing, whole: what code that starts spans or carries context includes. Its parts, each a
// header of its own:
//   trace_context.h    W3C trace context: span ids and the `traceparent` header
//   tracing_options.h  the tracer's settings and sampler (pkg/config reads them from OTEL_*)
//   span_exporter.h    a finished span as data, and the exporter interface
//   tracer.h           spans and the tracer with its bounded background batch
//   otlp_exporter.h    export over OTLP/HTTP (JSON), through an HTTP POST handed in

#include "pkg/observability/otlp_exporter.h"
#include "pkg/observability/span_exporter.h"
#include "pkg/observability/trace_context.h"
#include "pkg/observability/tracer.h"
#include "pkg/observability/tracing_options.h"
