#pragma once

// What a handler knows of the request it serves, beyond the request itself, and tells back: made
// by the route's guard (routes.cc) before the handler runs, read by it after. Passed by reference
// to the handler and to everything that answers; one per request, never shared between threads
// while the handler runs. An answer sent later from another thread (a long-poll, a submission
// Kafka settles) takes the span with it into a Reply of its own (long_poll.h).

#include <optional>
#include <string>

#include "absl/time/time.h"

#include "pkg/observability/trace.h"

namespace pixq::http {

// An upload's image bytes, hashed while they arrived (upload_stream.h): where they lie in the
// body and their SHA-256 (lowercase hex).
struct BodyDigest {
  size_t offset = 0;
  size_t size = 0;
  std::string sha256;
};

struct RequestContext {
  // When the request began (for the request metrics; reported only, so the system's time).
  absl::Time started;
  // The request's server span; null for the open routes, which are not traced. A handler that
  // answers later moves the span out (the pointer then points at a moved-from span).
  observability::Span* span = nullptr;
  // The status of the answer sent for this request on the handler's thread, for the request
  // metrics; 0 while none was (an answer sent later is counted by whoever sends it).
  int answered = 0;
  // Set by a handler that found its route did not apply after all (the seeds'
  // "/:image_id/:variant" on a path that is no image's): the request is counted as "unmatched".
  bool unmatched = false;
  // The digest of an upload's image, if the request is an upload whose image was hashed whole.
  std::optional<BodyDigest> body_digest;

  // The span's context, to continue the trace from (null without a span).
  [[nodiscard]] const observability::SpanContext* parent() const {
    return span != nullptr ? &span->context() : nullptr;
  }
};

}  // namespace pixq::http
