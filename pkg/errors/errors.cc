#include "pkg/errors/errors.h"

#include "absl/strings/cord.h"

namespace pixq::errors {
namespace {

constexpr std::string_view kReasonPayload = "type.pixq.dev/reason";

}  // namespace

absl::Status Make(absl::StatusCode code, std::string_view reason, std::string_view message) {
  absl::Status status(code, Sv(message));
  status.SetPayload(Sv(kReasonPayload), absl::Cord(Sv(reason)));
  return status;
}

absl::Status Invalid(std::string_view reason, std::string_view message) {
  return Make(absl::StatusCode::kInvalidArgument, reason, message);
}
absl::Status NotFound(std::string_view reason, std::string_view message) {
  return Make(absl::StatusCode::kNotFound, reason, message);
}
absl::Status Unavailable(std::string_view reason, std::string_view message) {
  return Make(absl::StatusCode::kUnavailable, reason, message);
}
absl::Status Internal(std::string_view reason, std::string_view message) {
  return Make(absl::StatusCode::kInternal, reason, message);
}

std::string ReasonOf(const absl::Status& status) {
  if (auto reason = status.GetPayload(Sv(kReasonPayload))) {
    return std::string(*reason);
  }
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return "";
    case absl::StatusCode::kInvalidArgument:
      return "InvalidArgument";
    case absl::StatusCode::kNotFound:
      return "NotFound";
    case absl::StatusCode::kAlreadyExists:
      return "AlreadyExists";
    case absl::StatusCode::kFailedPrecondition:
      return "FailedPrecondition";
    case absl::StatusCode::kResourceExhausted:
      return "ResourceExhausted";
    case absl::StatusCode::kDeadlineExceeded:
      return "Timeout";
    case absl::StatusCode::kUnavailable:
      return "Unavailable";
    case absl::StatusCode::kUnimplemented:
      return "Unimplemented";
    case absl::StatusCode::kPermissionDenied:
      return "Forbidden";
    case absl::StatusCode::kUnauthenticated:
      return "Unauthorized";
    default:
      return "Internal";
  }
}

int HttpStatusOf(const absl::Status& status) {
  const std::string reason = ReasonOf(status);
  if (reason == "PayloadTooLarge") return 413;
  if (reason == "MethodNotAllowed") return 405;
  if (reason == "UnsupportedMediaType" || reason == "UnsupportedFormat") return 415;
  if (reason == "ImageTooLarge" || reason == "TooManySteps" || reason == "InvalidSpec") return 422;
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kFailedPrecondition:
      return 422;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return 503;
    default:
      return 500;
  }
}

bool IsRetriable(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kAborted:
      return true;
    default:
      return false;
  }
}

}  // namespace pixq::errors
