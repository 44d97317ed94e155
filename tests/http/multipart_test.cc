#include "pkg/multipart/multipart.h"

#include <gtest/gtest.h>

#include "pkg/errors/errors.h"

namespace pixq::multipart {
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

// Feeds `body` to a MultipartImageStream in pieces of `piece` bytes (the last call with the whole
// body) and returns what it handed out, concatenated, and its Range.
std::pair<std::string, std::optional<std::pair<size_t, size_t>>> Stream(
    const std::string& content_type, const std::string& body, size_t piece) {
  MultipartImageStream stream(content_type);
  std::string out;
  for (size_t have = std::min(piece, body.size());; have = std::min(have + piece, body.size())) {
    out += stream.Feed(std::string_view(body).substr(0, have));
    if (have == body.size()) break;
  }
  return {out, stream.Range()};
}

TEST(MultipartImageStreamTest, HandsOutTheImagePartAsParseMultipartFindsItHoweverTheBodyArrives) {
  // The image part holds CR, LF, "--" and a boundary-like string; a field comes before it.
  for (const std::string& eol : {std::string("\r\n"), std::string("\n")}) {
    const std::string body = Body(eol);
    absl::StatusOr<std::vector<MultipartPart>> parts = ParseMultipart(kType, body);
    ASSERT_TRUE(parts.ok()) << parts.status();
    const std::string_view image = (*parts)[1].body;
    for (size_t piece :
         {size_t{1}, size_t{2}, size_t{3}, size_t{5}, size_t{7}, size_t{64}, body.size()}) {
      const auto [out, range] = Stream(kType, body, piece);
      EXPECT_EQ(out, image) << "pieces of " << piece;
      ASSERT_TRUE(range.has_value()) << "pieces of " << piece;
      EXPECT_EQ(range->first, static_cast<size_t>(image.data() - body.data()));
      EXPECT_EQ(range->second, image.size());
    }
  }
}

TEST(MultipartImageStreamTest, TakesAFilePartAndAnEmptyImage) {
  const std::pair<std::string, std::string> cases[] = {
      {"--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc\r\n--XyZ--", "abc"},
      {"--XyZ\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\n\r\n--XyZ--", ""}};
  for (const auto& [body, part] : cases) {
    const auto [out, range] = Stream(kType, body, 1);
    EXPECT_EQ(out, part);
    ASSERT_TRUE(range.has_value()) << body;
    EXPECT_EQ(range->second, part.size());
  }
}

TEST(MultipartImageStreamTest, GivesNothingWithoutAnImagePartOrAnEnd) {
  // No part named image or file; no boundary; a body cut inside the image; headers that never end.
  const std::string fields =
      "--XyZ\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nSea\r\n--XyZ--";
  EXPECT_FALSE(Stream(kType, fields, 1).second.has_value());
  EXPECT_FALSE(Stream("multipart/form-data", Body(), 3).second.has_value());
  const std::string body = Body();
  const std::string cut = body.substr(0, body.find("--XyZ--"));
  EXPECT_FALSE(Stream(kType, cut, 4).second.has_value());
  EXPECT_FALSE(Stream(kType, "--XyZ\r\n" + std::string(70000, 'h'), 1000).second.has_value());
}

TEST(MultipartImageStreamTest, GivesUpOnEndlessBlanksOrHeadersWhateverTheChunks) {
  // Blanks after a delimiter, or part headers, that go on: the stream gives up (the upload is
  // then hashed once it is in) instead of looking through them again with each chunk.
  const std::string blanks = "--XyZ" + std::string(5000, ' ');
  EXPECT_FALSE(Stream(kType, blanks, 1).second.has_value());
  const std::string image_then_blanks =
      "--XyZ\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\nabc\r\n--XyZ" +
      std::string(5000, '\t');
  const auto [out, range] = Stream(kType, image_then_blanks, 1);
  EXPECT_FALSE(range.has_value());
  EXPECT_LE(out.size(), 3u);  // at most the part's bytes, never a delimiter's
  // Headers read a byte at a time still give the part (each line is looked through once).
  const std::string body = Body();
  const auto [image, image_range] = Stream(kType, body, 1);
  EXPECT_TRUE(image_range.has_value());
  EXPECT_EQ(image, std::string("\xff\xd8\r\n--XyZnot\r\n\x00--", 16));
}

}  // namespace
}  // namespace pixq::multipart
