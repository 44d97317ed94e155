#include "pkg/errors/errors.h"

#include <set>
#include <string>
#include <utility>

#include <gtest/gtest.h>

namespace pixq::errors {
namespace {

using Code = absl::StatusCode;

// What pkg/errors/errors.cc answered before the table (at 2acd794), kept here as the oracle the
// table must agree with: reasons compared as strings first, then the code.
int HttpStatusBeforeTheTable(const absl::Status& status) {
  const std::string reason = ReasonOf(status);
  if (reason == "PayloadTooLarge") return 413;
  if (reason == "MethodNotAllowed") return 405;
  if (reason == "UnsupportedMediaType" || reason == "UnsupportedFormat") return 415;
  if (reason == "ImageTooLarge" || reason == "TooManySteps" || reason == "InvalidSpec") return 422;
  switch (status.code()) {
    case Code::kOk:
      return 200;
    case Code::kInvalidArgument:
    case Code::kOutOfRange:
      return 400;
    case Code::kNotFound:
      return 404;
    case Code::kAlreadyExists:
    case Code::kAborted:
      return 409;
    case Code::kFailedPrecondition:
      return 422;
    case Code::kResourceExhausted:
      return 429;
    case Code::kUnauthenticated:
      return 401;
    case Code::kPermissionDenied:
      return 403;
    case Code::kUnimplemented:
      return 501;
    case Code::kUnavailable:
    case Code::kDeadlineExceeded:
      return 503;
    default:
      return 500;
  }
}

bool RetriableBeforeTheTable(const absl::Status& status) {
  switch (status.code()) {
    case Code::kUnavailable:
    case Code::kDeadlineExceeded:
    case Code::kResourceExhausted:
    case Code::kAborted:
      return true;
    default:
      return false;
  }
}

std::string ReasonBeforeTheTable(Code code) {
  switch (code) {
    case Code::kOk:
      return "";
    case Code::kInvalidArgument:
      return "InvalidArgument";
    case Code::kNotFound:
      return "NotFound";
    case Code::kAlreadyExists:
      return "AlreadyExists";
    case Code::kFailedPrecondition:
      return "FailedPrecondition";
    case Code::kResourceExhausted:
      return "ResourceExhausted";
    case Code::kDeadlineExceeded:
      return "Timeout";
    case Code::kUnavailable:
      return "Unavailable";
    case Code::kUnimplemented:
      return "Unimplemented";
    case Code::kPermissionDenied:
      return "Forbidden";
    case Code::kUnauthenticated:
      return "Unauthorized";
    default:
      return "Internal";
  }
}

TEST(ReasonTableTest, ListsEveryReasonInTheEnumsOrder) {
  const auto table = ReasonTable();
  ASSERT_FALSE(table.empty());
  for (size_t i = 0; i < table.size(); ++i) {
    EXPECT_EQ(static_cast<size_t>(table[i].reason), i) << table[i].name;
    EXPECT_EQ(&RowOf(table[i].reason), &table[i]) << table[i].name;
  }
}

TEST(ReasonTableTest, NoTwoRowsShareANameAndAStatus) {
  std::set<std::pair<std::string_view, int>> by_status;
  std::set<std::pair<std::string_view, Code>> by_code;
  for (const ReasonRow& row : ReasonTable()) {
    EXPECT_TRUE(by_status.emplace(row.name, row.http_status).second) << row.name;
    EXPECT_TRUE(by_code.emplace(row.name, row.code).second) << row.name;
  }
}

TEST(ReasonTableTest, NamesAreWhatTheProblemTypePatternAccepts) {
  // pkg/http/openapi.json: "reason" is ^[A-Za-z]+$.
  for (const ReasonRow& row : ReasonTable()) {
    ASSERT_FALSE(row.name.empty());
    for (char c : row.name) {
      EXPECT_TRUE((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) << row.name;
    }
  }
}

TEST(ReasonTableTest, AgreesWithWhatErrorsAnsweredBeforeForEveryReason) {
  for (const ReasonRow& row : ReasonTable()) {
    const absl::Status before = FromParts(row.code, row.name, "m");
    EXPECT_EQ(row.http_status, HttpStatusBeforeTheTable(before)) << row.name;
    EXPECT_EQ(row.retriable, RetriableBeforeTheTable(before)) << row.name;
  }
}

TEST(ReasonTableTest, ImageNotFoundIsTwoRowsTheCallerChoosesBetween) {
  EXPECT_EQ(NameOf(Reason::kImageNotFound), "ImageNotFound");
  EXPECT_EQ(NameOf(Reason::kImageNotFoundInSpec), "ImageNotFound");
  EXPECT_EQ(HttpStatusOf(Make(Reason::kImageNotFound, "no image")), 404);
  EXPECT_EQ(HttpStatusOf(Make(Reason::kImageNotFoundInSpec, "spec.source.imageId: no image")), 422);
}

TEST(MakeTest, CarriesTheRowsNameCodeAndMessage) {
  const absl::Status s = Make(Reason::kPayloadTooLarge, "uploads are limited to 10 bytes");
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.message(), "uploads are limited to 10 bytes");
  EXPECT_EQ(ReasonOf(s), "PayloadTooLarge");
  EXPECT_EQ(HttpStatusOf(s), 413);
  EXPECT_FALSE(IsRetriable(s));
  EXPECT_TRUE(Is(s, Reason::kPayloadTooLarge));
  EXPECT_FALSE(Is(s, Reason::kInvalidSpec));
}

TEST(MakeTest, AnswersForEveryRowAsTheRowSays) {
  for (const ReasonRow& row : ReasonTable()) {
    const absl::Status s = Make(row.reason, "m");
    EXPECT_EQ(s.code(), row.code) << row.name;
    EXPECT_EQ(ReasonOf(s), row.name);
    EXPECT_EQ(HttpStatusOf(s), row.http_status) << row.name;
    EXPECT_EQ(IsRetriable(s), row.retriable) << row.name;
    EXPECT_TRUE(Is(s, row.reason)) << row.name;
  }
}

TEST(MakeTest, WithMessageKeepsTheReasonAndCode) {
  const absl::Status s =
      WithMessage(Make(Reason::kImageNotFoundInSpec, "no image"), "jobs[2]: no image");
  EXPECT_EQ(s.message(), "jobs[2]: no image");
  EXPECT_TRUE(Is(s, Reason::kImageNotFoundInSpec));
  EXPECT_EQ(HttpStatusOf(s), 422);
}

TEST(MakeTest, FromPartsRebuildsWhatCrossedAProcessBoundary) {
  const absl::Status sent = Make(Reason::kCodecCrashed, "the child died");
  const absl::Status back = FromParts(sent.code(), ReasonOf(sent), std::string(sent.message()));
  EXPECT_EQ(back, sent);
  EXPECT_TRUE(Is(back, Reason::kCodecCrashed));
  EXPECT_TRUE(IsRetriable(back));
}

TEST(FallbackTest, AStatusNotBuiltFromTheTableAnswersAsItsCodeDidBefore) {
  for (int c = 0; c <= 16; ++c) {
    const Code code = static_cast<Code>(c);
    const absl::Status plain(code, c == 0 ? "" : "m");
    EXPECT_EQ(ReasonOf(plain), ReasonBeforeTheTable(code)) << c;
    EXPECT_EQ(HttpStatusOf(plain), HttpStatusBeforeTheTable(plain)) << c;
    EXPECT_EQ(IsRetriable(plain), RetriableBeforeTheTable(plain)) << c;
    const absl::Status made_up = FromParts(code, "SomethingElse", "m");
    if (c != 0) {
      EXPECT_EQ(ReasonOf(made_up), "SomethingElse");
      EXPECT_EQ(HttpStatusOf(made_up), HttpStatusBeforeTheTable(made_up)) << c;
      EXPECT_EQ(IsRetriable(made_up), RetriableBeforeTheTable(made_up)) << c;
    }
  }
  EXPECT_EQ(FindRow("ImageNotFound", Code::kInternal), nullptr);
  EXPECT_EQ(FindRow("ImageNotFound", Code::kNotFound), &RowOf(Reason::kImageNotFound));
}

}  // namespace
}  // namespace pixq::errors
