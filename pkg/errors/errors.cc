#include "pkg/errors/errors.h"

#include <array>

#include "absl/strings/cord.h"

namespace pixq::errors {
namespace {

constexpr std::string_view kReasonPayload = "type.pixq.dev/reason";

// What a status that no row describes answers with: absl's own errors (absl::InternalError()
// from a library), and reasons made up outside the table.
struct CodeDefault {
  absl::StatusCode code;
  std::string_view name;
  int http_status;
  bool retriable;
};

using Code = absl::StatusCode;

constexpr std::array kCodeDefaults = {
    CodeDefault{Code::kOk, "", 200, false},
    CodeDefault{Code::kInvalidArgument, "InvalidArgument", 400, false},
    CodeDefault{Code::kOutOfRange, "Internal", 400, false},
    CodeDefault{Code::kNotFound, "NotFound", 404, false},
    CodeDefault{Code::kAlreadyExists, "AlreadyExists", 409, false},
    CodeDefault{Code::kAborted, "Internal", 409, true},
    CodeDefault{Code::kFailedPrecondition, "FailedPrecondition", 422, false},
    CodeDefault{Code::kResourceExhausted, "ResourceExhausted", 429, true},
    CodeDefault{Code::kUnauthenticated, "Unauthorized", 401, false},
    CodeDefault{Code::kPermissionDenied, "Forbidden", 403, false},
    CodeDefault{Code::kUnimplemented, "Unimplemented", 501, false},
    CodeDefault{Code::kUnavailable, "Unavailable", 503, true},
    CodeDefault{Code::kDeadlineExceeded, "Timeout", 503, true},
};
// kCancelled, kUnknown, kInternal, kDataLoss and anything newer.
constexpr CodeDefault kOtherCodes{Code::kInternal, "Internal", 500, false};

const CodeDefault& DefaultOf(absl::StatusCode code) {
  for (const CodeDefault& d : kCodeDefaults) {
    if (d.code == code) return d;
  }
  return kOtherCodes;
}

const ReasonRow* RowOfStatus(const absl::Status& status) {
  if (status.ok()) return nullptr;
  return FindRow(ReasonOf(status), status.code());
}

}  // namespace

absl::Status Make(Reason reason, std::string_view message) {
  const ReasonRow& row = RowOf(reason);
  return FromParts(row.code, row.name, message);
}

absl::Status WithMessage(const absl::Status& status, std::string_view message) {
  absl::Status out = FromParts(status.code(), ReasonOf(status), message);
  // The same failure keeps what else it carries (a Retry-After hint, retry_after.h).
  status.ForEachPayload([&out](absl::string_view url, const absl::Cord& payload) {
    if (url != Sv(kReasonPayload)) out.SetPayload(url, payload);
  });
  return out;
}

absl::Status FromParts(absl::StatusCode code, std::string_view reason, std::string_view message) {
  absl::Status status(code, Sv(message));
  status.SetPayload(Sv(kReasonPayload), absl::Cord(Sv(reason)));
  return status;
}

bool Is(const absl::Status& status, Reason reason) { return RowOfStatus(status) == &RowOf(reason); }

std::string ReasonOf(const absl::Status& status) {
  if (auto reason = status.GetPayload(Sv(kReasonPayload))) {
    return std::string(*reason);
  }
  return std::string(DefaultOf(status.code()).name);
}

int HttpStatusOf(const absl::Status& status) {
  if (const ReasonRow* row = RowOfStatus(status)) return row->http_status;
  return DefaultOf(status.code()).http_status;
}

bool IsRetriable(const absl::Status& status) {
  if (const ReasonRow* row = RowOfStatus(status)) return row->retriable;
  return DefaultOf(status.code()).retriable;
}

}  // namespace pixq::errors
