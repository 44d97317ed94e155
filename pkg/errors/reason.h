#pragma once

// Every failure reason pixq gives, as one table. A reason is the stable, machine-readable name a
// client branches on: it is the `reason` of a problem+json answer and of a failed job's status.
// Its row fixes everything else about it: the absl::StatusCode the status carries, the HTTP status
// an API answers with, and whether trying the same thing again later may succeed.
//
// One name, two rows: "ImageNotFound" is 404 when the image in the path does not exist
// (GET /v1/images/{id}) and 422 when a job's spec names an image nobody uploaded (the request is
// well-formed but cannot be carried out). The name stays one on the wire, as clients and the
// OpenAPI document know it; the two situations are two enumerators (kImageNotFound,
// kImageNotFoundInSpec), so the caller picks the situation and never an HTTP number, and
// HttpStatusOf stays a lookup. Rows are told apart by (name, code); no two rows share both.
//
// Adding a reason: add the enumerator and its row in reason.cc (same order; a static_assert
// checks), document it in README.md's error table and pkg/http/openapi.json where an API answers
// with it.

#include <cstddef>
#include <span>
#include <string_view>

#include "absl/status/status.h"

namespace pixq::errors {

enum class Reason {
  // 400: the request cannot be read as sent.
  kMalformedJson,
  kMalformedYaml,
  kMalformedRequest,
  kEmptyBody,
  kMissingImage,
  kInvalidMultipart,
  kInvalidIdempotencyKey,
  kInvalidArgument,  // a query or path parameter; the message names it
  kInvalidPageToken,
  kInvalidId,
  kCorruptImage,
  // 400, though no API answers with them: configuration, records and jobs' own failures.
  kInvalidConfig,
  kInvalidAddress,
  kInvalidRecord,
  kInvalidTopic,
  kInvalidCrop,
  kOutputTooLarge,
  kTimeLimitExceeded,
  // 401, 403
  kApiKeyMissing,
  kApiKeyInvalid,
  kSignatureInvalid,
  kSignatureExpired,
  kSignatureUnsupported,
  // 404
  kNotFound,
  kRouteNotFound,
  kJobNotFound,
  kBatchNotFound,
  kImageNotFound,  // the image in the path
  kContentGone,
  kUnknownVariant,
  // 405, 413, 415
  kMethodNotAllowed,
  kPayloadTooLarge,
  kUnsupportedMediaType,
  // 409: not now; retriable
  kOutputNotReady,
  kIdempotencyKeyInUse,
  kJobNotFinished,
  kJobNotFailed,  // POST /v1/jobs/{id}/retry on a job that has not failed
  kCodecCrashed,
  // 422: understood, but cannot be carried out.
  kInvalidSpec,
  kTooManySteps,
  kTooManyJobs,
  kImageTooLarge,
  kImageNotFoundInSpec,  // "ImageNotFound": a job's spec names an image nobody uploaded
  kJobFailed,
  kIdempotencyKeyReused,
  kOffsetNotStored,
  kInvalidSourceUrl,
  kSourceForbidden,
  kSourceTooLarge,
  kTooManyRedirects,
  kSourceNotFound,
  kSourceRefused,
  kSourceTlsFailed,
  // 429: retriable
  kQueueFull,
  kOutOfMemory,
  // 500
  kInternal,
  kInternalError,
  kKafkaClient,
  kStorageError,
  kFetchFailed,
  kProcessingFailed,
  // 503: retriable
  kBrokerUnavailable,
  kProduceTimeout,
  kCatchUpTimeout,
  kNotReady,
  kShuttingDown,
  kStopping,
  kUnknownTopic,
  kVolumeFull,
  kBindFailed,
  kCodecUnavailable,
  kExportFailed,
  kEndpointUnreachable,  // an HTTP endpoint pixq sends to (the OTLP collector) did not answer
  kImageNotPublished,
  kStatusNotPublished,
  kSourceUnavailable,
  kBacklogFull,  // the work topics' backlog is near what they can hold: new jobs wait (admission)
  kStateStoreFull,  // an API replica's state store reached state.max_bytes (or its disk is full)
  // Only ever a job record's status.reason: the API answered the request with Kafka's failure and
  // wrote the record Failed so that it says the job was never accepted.
  kNotAccepted,  // stays last: reason.cc's static_assert counts the rows up to it
};

struct ReasonRow {
  Reason reason;
  std::string_view name;  // on the wire
  absl::StatusCode code;  // what a status built from this row carries
  int http_status;        // what an API answers with
  bool retriable;         // whether the same thing may succeed later
};

// The whole table, in the order of the enum.
[[nodiscard]] std::span<const ReasonRow> ReasonTable();

[[nodiscard]] const ReasonRow& RowOf(Reason reason);
[[nodiscard]] std::string_view NameOf(Reason reason);

// The row with this name and code; nullptr for a pair that is no row (a status not built from the
// table, e.g. absl::InternalError(), or a reason some other code made up).
[[nodiscard]] const ReasonRow* FindRow(std::string_view name, absl::StatusCode code);

}  // namespace pixq::errors
