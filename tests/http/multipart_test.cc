#include "pkg/http/multipart.h"

#include <gtest/gtest.h>

#include "pkg/errors/errors.h"

namespace pixq::http {
namespace {

const std::string kType = "multipart/form-data; boundary=XyZ";

std::string Body(const std::string& eol = "\r\n") {
  return "preamble" + eol + "--XyZ" + eol + "Content-Disposition: form-data; name=\"title\"" + eol +
         eol + "Sea" + eol + "--XyZ" + eol +
         "Content-Disposition: form-data; name=\"image\"; filename=\"a;b.jpg\"" + eol +
         "Content-Type: image/jpeg" + eol + eol +
         std::string("\xff\xd8\r\n--XyZnot\r\n\x00--", 16) + eol + "--XyZ--" + eol + "epilogue";
}

TEST(MultipartTest, SplitsFieldsAndFilesWithoutCopyingBodies) {
  const std::string body = Body();
  absl::StatusOr<std::vector<MultipartPart>> parts = ParseMultipart(kType, body);
  ASSERT_TRUE(parts.ok()) << parts.status();
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].name, "title");
  EXPECT_EQ((*parts)[0].body, "Sea");
  EXPECT_EQ((*parts)[0].filename, "");
  EXPECT_EQ((*parts)[1].name, "image");
  EXPECT_EQ((*parts)[1].filename, "a;b.jpg");
  EXPECT_EQ((*parts)[1].content_type, "image/jpeg");
  // Binary data with CR, LF, "--" and a boundary-like string inside survives as is.
  EXPECT_EQ((*parts)[1].body, std::string("\xff\xd8\r\n--XyZnot\r\n\x00--", 16));
  EXPECT_GE((*parts)[1].body.data(), body.data());
  EXPECT_LE((*parts)[1].body.data() + (*parts)[1].body.size(), body.data() + body.size());
}

TEST(MultipartTest, AcceptsBareLineFeedsAndQuotedBoundaries) {
  const std::string body = Body("\n");  // parts are views into it: it must outlive them
  absl::StatusOr<std::vector<MultipartPart>> parts =
      ParseMultipart("multipart/form-data; boundary=\"XyZ\"", body);
  ASSERT_TRUE(parts.ok()) << parts.status();
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].body, "Sea");
}

TEST(MultipartTest, AcceptsAnEmptyPart) {
  absl::StatusOr<std::vector<MultipartPart>> parts = ParseMultipart(
      kType, "--XyZ\r\nContent-Disposition: form-data; name=e\r\n\r\n\r\n--XyZ--\r\n");
  ASSERT_TRUE(parts.ok()) << parts.status();
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].name, "e");
  EXPECT_EQ((*parts)[0].body, "");
}

TEST(MultipartTest, RefusesMalformedBodies) {
  auto reason = [](std::string_view type, std::string_view body) {
    return errors::ReasonOf(ParseMultipart(type, body).status());
  };
  EXPECT_EQ(reason("multipart/form-data", Body()), "InvalidMultipart");
  EXPECT_EQ(reason(kType, "no delimiter at all"), "InvalidMultipart");
  EXPECT_EQ(reason(kType, "--XyZ\r\nno colon here\r\n\r\nx\r\n--XyZ--"), "InvalidMultipart");
  EXPECT_EQ(reason(kType, "--XyZ\r\nContent-Type: text/plain\r\n\r\nx\r\n--XyZ--"),
            "InvalidMultipart");
  EXPECT_EQ(reason(kType, "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nx"),
            "InvalidMultipart");
  EXPECT_EQ(errors::HttpStatusOf(ParseMultipart(kType, "").status()), 400);
}

TEST(MultipartTest, NeverCrashesOnAnyPrefix) {
  const std::string body = Body();
  for (size_t n = 0; n <= body.size(); ++n) {
    (void)ParseMultipart(kType, std::string_view(body).substr(0, n));
  }
}

}  // namespace
}  // namespace pixq::http
