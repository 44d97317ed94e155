#include "pkg/errors/reason.h"

#include <array>

namespace pixq::errors {
namespace {

using Code = absl::StatusCode;

// HTTP statuses are written out per row rather than derived from the code: a few reasons answer
// with a status their code does not imply (PayloadTooLarge 413 and InvalidSpec 422 are
// kInvalidArgument, MethodNotAllowed 405 is kUnimplemented), and a reader looking for "what does a
// client get" finds it on the row.
constexpr std::array kRows = {
    ReasonRow{Reason::kMalformedJson, "MalformedJson", Code::kInvalidArgument, 400, false},
    ReasonRow{Reason::kMalformedYaml, "MalformedYaml", Code::kInvalidArgument, 400, false},
    ReasonRow{Reason::kMalformedRequest, "MalformedRequest", Code::kInvalidArgument, 400, false},
    ReasonRow{Reason::kEmptyBody, "EmptyBody", Code::kInvalidArgument, 400, false},
    ReasonRow{Reason::kMissingImage, "MissingImage", Code::kInvalidArgument, 400, false},
    ReasonRow{Reason::kInvalidMultipart, "InvalidMultipart", Code::kInvalidArgument, 400, false},
    ReasonRow{Reason::kInvalidIdempotencyKey, "InvalidIdempotencyKey", Code::kInvalidArgument, 400,
              false},
    ReasonRow{Reason::kInvalidArgument, "InvalidArgument", Code::kInvalidArgument, 400, false},
    ReasonRow{Reason::kInvalidPageToken, "InvalidPageToken", Code::kInvalidArgument, 400, false},
    ReasonRow{Reason::kInvalidId, "InvalidId", Code::kInvalidArgument, 400, false},
    ReasonRow{Reason::kCorruptImage, "CorruptImage", Code::kInvalidArgument, 400, false},
    ReasonRow{Reason::kInvalidConfig, "InvalidConfig", Code::kInvalidArgument, 400, false},
    ReasonRow{Reason::kInvalidAddress, "InvalidAddress", Code::kInvalidArgument, 400, false},
    ReasonRow{Reason::kInvalidRecord, "InvalidRecord", Code::kInvalidArgument, 400, false},
    ReasonRow{Reason::kInvalidTopic, "InvalidTopic", Code::kInvalidArgument, 400, false},
    ReasonRow{Reason::kInvalidCrop, "InvalidCrop", Code::kInvalidArgument, 400, false},
    ReasonRow{Reason::kOutputTooLarge, "OutputTooLarge", Code::kInvalidArgument, 400, false},
    ReasonRow{Reason::kTimeLimitExceeded, "TimeLimitExceeded", Code::kInvalidArgument, 400, false},
    ReasonRow{Reason::kApiKeyMissing, "ApiKeyMissing", Code::kUnauthenticated, 401, false},
    ReasonRow{Reason::kApiKeyInvalid, "ApiKeyInvalid", Code::kUnauthenticated, 401, false},
    ReasonRow{Reason::kSignatureInvalid, "SignatureInvalid", Code::kPermissionDenied, 403, false},
    ReasonRow{Reason::kSignatureExpired, "SignatureExpired", Code::kPermissionDenied, 403, false},
    ReasonRow{Reason::kSignatureUnsupported, "SignatureUnsupported", Code::kPermissionDenied, 403,
              false},
    ReasonRow{Reason::kNotFound, "NotFound", Code::kNotFound, 404, false},
    ReasonRow{Reason::kRouteNotFound, "RouteNotFound", Code::kNotFound, 404, false},
    ReasonRow{Reason::kJobNotFound, "JobNotFound", Code::kNotFound, 404, false},
    ReasonRow{Reason::kBatchNotFound, "BatchNotFound", Code::kNotFound, 404, false},
    ReasonRow{Reason::kImageNotFound, "ImageNotFound", Code::kNotFound, 404, false},
    ReasonRow{Reason::kContentGone, "ContentGone", Code::kNotFound, 404, false},
    ReasonRow{Reason::kUnknownVariant, "UnknownVariant", Code::kNotFound, 404, false},
    ReasonRow{Reason::kMethodNotAllowed, "MethodNotAllowed", Code::kUnimplemented, 405, false},
    ReasonRow{Reason::kPayloadTooLarge, "PayloadTooLarge", Code::kInvalidArgument, 413, false},
    ReasonRow{Reason::kUnsupportedMediaType, "UnsupportedMediaType", Code::kInvalidArgument, 415,
              false},
    ReasonRow{Reason::kOutputNotReady, "OutputNotReady", Code::kAborted, 409, true},
    ReasonRow{Reason::kIdempotencyKeyInUse, "IdempotencyKeyInUse", Code::kAborted, 409, true},
    ReasonRow{Reason::kJobNotFinished, "JobNotFinished", Code::kAborted, 409, true},
    ReasonRow{Reason::kJobNotFailed, "JobNotFailed", Code::kAborted, 409, true},
    ReasonRow{Reason::kCodecCrashed, "CodecCrashed", Code::kAborted, 409, true},
    ReasonRow{Reason::kInvalidSpec, "InvalidSpec", Code::kInvalidArgument, 422, false},
    ReasonRow{Reason::kTooManySteps, "TooManySteps", Code::kInvalidArgument, 422, false},
    ReasonRow{Reason::kTooManyJobs, "TooManyJobs", Code::kFailedPrecondition, 422, false},
    ReasonRow{Reason::kImageTooLarge, "ImageTooLarge", Code::kInvalidArgument, 422, false},
    ReasonRow{Reason::kImageNotFoundInSpec, "ImageNotFound", Code::kFailedPrecondition, 422, false},
    ReasonRow{Reason::kJobFailed, "JobFailed", Code::kFailedPrecondition, 422, false},
    ReasonRow{Reason::kIdempotencyKeyReused, "IdempotencyKeyReused", Code::kFailedPrecondition, 422,
              false},
    ReasonRow{Reason::kOffsetNotStored, "OffsetNotStored", Code::kFailedPrecondition, 422, false},
    ReasonRow{Reason::kInvalidSourceUrl, "InvalidSourceUrl", Code::kFailedPrecondition, 422, false},
    ReasonRow{Reason::kSourceForbidden, "SourceForbidden", Code::kFailedPrecondition, 422, false},
    ReasonRow{Reason::kSourceTooLarge, "SourceTooLarge", Code::kFailedPrecondition, 422, false},
    ReasonRow{Reason::kTooManyRedirects, "TooManyRedirects", Code::kFailedPrecondition, 422, false},
    ReasonRow{Reason::kSourceNotFound, "SourceNotFound", Code::kFailedPrecondition, 422, false},
    ReasonRow{Reason::kSourceRefused, "SourceRefused", Code::kFailedPrecondition, 422, false},
    ReasonRow{Reason::kSourceTlsFailed, "SourceTlsFailed", Code::kFailedPrecondition, 422, false},
    ReasonRow{Reason::kQueueFull, "QueueFull", Code::kResourceExhausted, 429, true},
    ReasonRow{Reason::kOutOfMemory, "OutOfMemory", Code::kResourceExhausted, 429, true},
    ReasonRow{Reason::kInternal, "Internal", Code::kInternal, 500, false},
    ReasonRow{Reason::kInternalError, "InternalError", Code::kInternal, 500, false},
    ReasonRow{Reason::kKafkaClient, "KafkaClient", Code::kInternal, 500, false},
    ReasonRow{Reason::kStorageError, "StorageError", Code::kInternal, 500, false},
    ReasonRow{Reason::kFetchFailed, "FetchFailed", Code::kInternal, 500, false},
    ReasonRow{Reason::kProcessingFailed, "ProcessingFailed", Code::kInternal, 500, false},
    ReasonRow{Reason::kBrokerUnavailable, "BrokerUnavailable", Code::kUnavailable, 503, true},
    ReasonRow{Reason::kProduceTimeout, "ProduceTimeout", Code::kDeadlineExceeded, 503, true},
    ReasonRow{Reason::kCatchUpTimeout, "CatchUpTimeout", Code::kDeadlineExceeded, 503, true},
    ReasonRow{Reason::kNotReady, "NotReady", Code::kUnavailable, 503, true},
    ReasonRow{Reason::kShuttingDown, "ShuttingDown", Code::kUnavailable, 503, true},
    ReasonRow{Reason::kStopping, "Stopping", Code::kUnavailable, 503, true},
    ReasonRow{Reason::kUnknownTopic, "UnknownTopic", Code::kUnavailable, 503, true},
    ReasonRow{Reason::kVolumeFull, "VolumeFull", Code::kUnavailable, 503, true},
    ReasonRow{Reason::kBindFailed, "BindFailed", Code::kUnavailable, 503, true},
    ReasonRow{Reason::kCodecUnavailable, "CodecUnavailable", Code::kUnavailable, 503, true},
    ReasonRow{Reason::kExportFailed, "ExportFailed", Code::kUnavailable, 503, true},
    ReasonRow{Reason::kEndpointUnreachable, "EndpointUnreachable", Code::kUnavailable, 503, true},
    ReasonRow{Reason::kImageNotPublished, "ImageNotPublished", Code::kUnavailable, 503, true},
    ReasonRow{Reason::kStatusNotPublished, "StatusNotPublished", Code::kUnavailable, 503, true},
    ReasonRow{Reason::kSourceUnavailable, "SourceUnavailable", Code::kUnavailable, 503, true},
    ReasonRow{Reason::kBacklogFull, "BacklogFull", Code::kUnavailable, 503, true},
    ReasonRow{Reason::kStateStoreFull, "StateStoreFull", Code::kUnavailable, 503, true},
    ReasonRow{Reason::kNotAccepted, "NotAccepted", Code::kUnavailable, 503, true},
};

constexpr bool InEnumOrder() {
  for (size_t i = 0; i < kRows.size(); ++i) {
    if (static_cast<size_t>(kRows[i].reason) != i) return false;
  }
  return static_cast<size_t>(Reason::kNotAccepted) + 1 == kRows.size();
}
static_assert(InEnumOrder(), "kRows must list every Reason once, in the enum's order");

}  // namespace

std::span<const ReasonRow> ReasonTable() { return kRows; }

const ReasonRow& RowOf(Reason reason) { return kRows[static_cast<size_t>(reason)]; }

std::string_view NameOf(Reason reason) { return RowOf(reason).name; }

const ReasonRow* FindRow(std::string_view name, absl::StatusCode code) {
  // 75 rows, looked up once per failed request: a scan is cheaper to read than an index.
  for (const ReasonRow& row : kRows) {
    if (row.code == code && row.name == name) return &row;
  }
  return nullptr;
}

}  // namespace pixq::errors
