// Page sizes, phase filters, page tokens (pkg/api/listing.h), variants (variants.h) and the seed
// contracts' translations (seed.h): pure functions.

#include "pkg/api/listing.h"

#include "absl/strings/escaping.h"
#include <gtest/gtest.h>

#include "pkg/api/seed.h"
#include "pkg/api/variants.h"
#include "pkg/errors/errors.h"
#include "pkg/job/json.h"

namespace pixq::api {
namespace {

TEST(ListingTest, ReadsLimitsWithADefaultAndACeiling) {
  EXPECT_EQ(*ParseLimit(std::nullopt), kDefaultPageSize);
  EXPECT_EQ(*ParseLimit("1"), 1);
  EXPECT_EQ(*ParseLimit("250"), 250);
  EXPECT_EQ(*ParseLimit("1000000"), kMaxPageSize);
  for (const char* bad : {"0", "-3", "ten", "", "2.5", "99999999999999999999"}) {
    absl::StatusOr<int> limit = ParseLimit(std::string(bad));
    ASSERT_FALSE(limit.ok()) << bad;
    EXPECT_EQ(errors::ReasonOf(limit.status()), "InvalidArgument");
    EXPECT_EQ(errors::HttpStatusOf(limit.status()), 400);
  }
}

TEST(ListingTest, ReadsPhaseListsInAnyCaseAndRefusesUnknownPhases) {
  EXPECT_TRUE(ParsePhases(std::nullopt)->empty());
  EXPECT_TRUE(ParsePhases("")->empty());
  EXPECT_EQ(*ParsePhases("Running,pending, RUNNING"),
            (std::vector<job::Phase>{job::Phase::kPending, job::Phase::kRunning}));
  EXPECT_EQ(*ParsePhases("Succeeded,Failed"),
            (std::vector<job::Phase>{job::Phase::kSucceeded, job::Phase::kFailed}));
  absl::StatusOr<std::vector<job::Phase>> bad = ParsePhases("Pending,Done");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(errors::ReasonOf(bad.status()), "InvalidArgument");
  EXPECT_NE(bad.status().message().find("\"Done\""), absl::string_view::npos);
}

TEST(ListingTest, PageTokensRoundTripOnlyForTheirListingAndFilter) {
  const PageCursor cursor{.created_ms = 1795443313375, .id = std::string(64, 'c')};
  const std::string token = EncodePageToken("images", "cat", cursor);
  EXPECT_EQ(
      token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
      std::string::npos)
      << "safe in a URL as it is: " << token;
  absl::StatusOr<PageCursor> back = DecodePageToken(token, "images", "cat");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->created_ms, cursor.created_ms);
  EXPECT_EQ(back->id, cursor.id);
  EXPECT_EQ(errors::ReasonOf(DecodePageToken(token, "images", "dog").status()), "InvalidPageToken");
  EXPECT_EQ(errors::ReasonOf(DecodePageToken(token, "jobs", "cat").status()), "InvalidPageToken");
  EXPECT_EQ(errors::ReasonOf(DecodePageToken(token + "x", "images", "cat").status()),
            "InvalidPageToken");
  EXPECT_EQ(errors::HttpStatusOf(DecodePageToken("", "images", "").status()), 400);
}

TEST(ListingTest, ReadsAnOrderInAnyCaseAndRefusesOthers) {
  EXPECT_FALSE(ParseOrder(std::nullopt)->has_value());
  EXPECT_EQ(**ParseOrder("asc"), state::Order::kAscending);
  EXPECT_EQ(**ParseOrder("DESC"), state::Order::kDescending);
  for (const char* bad : {"", "newest", "descending", "-1"}) {
    absl::StatusOr<std::optional<state::Order>> order = ParseOrder(std::string(bad));
    ASSERT_FALSE(order.ok()) << bad;
    EXPECT_EQ(errors::ReasonOf(order.status()), "InvalidArgument");
    EXPECT_EQ(errors::HttpStatusOf(order.status()), 400);
    EXPECT_NE(order.status().message().find("asc"), absl::string_view::npos);
  }
}

TEST(ListingTest, ReadsAnImageFilterOnlyAsAnImageId) {
  EXPECT_EQ(*ParseImageFilter(std::nullopt), "");
  EXPECT_EQ(*ParseImageFilter(""), "");
  const std::string id(64, 'e');
  EXPECT_EQ(*ParseImageFilter(id), id);
  for (const std::string& bad :
       {std::string("cat"), std::string(64, 'E'), std::string(63, 'e'), std::string(64, 'g')}) {
    absl::StatusOr<std::string> image = ParseImageFilter(bad);
    ASSERT_FALSE(image.ok()) << bad;
    EXPECT_EQ(errors::ReasonOf(image.status()), "InvalidArgument");
    EXPECT_EQ(errors::HttpStatusOf(image.status()), 400);
  }
}

TEST(ListingTest, PageTokensCarryTheOrderAndAscendingOnesReadAsBefore) {
  const std::string desc = EncodePageToken(
      "jobs", "", {.id = "j_01HV3K9Q6Y0S4W7T1F2D5G0001", .order = state::Order::kDescending});
  absl::StatusOr<PageCursor> back = DecodePageToken(desc, "jobs", "");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->order, state::Order::kDescending);
  EXPECT_EQ(back->id, "j_01HV3K9Q6Y0S4W7T1F2D5G0001");
  // A token written before the order existed, as EncodePageToken wrote it then.
  const std::string asc = EncodePageToken("jobs", "", {.id = "j_01HV3K9Q6Y0S4W7T1F2D5G0001"});
  std::string text;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(asc, &text));
  EXPECT_EQ(text.find("\"o\""), std::string::npos) << text;
  EXPECT_EQ(DecodePageToken(asc, "jobs", "")->order, state::Order::kAscending);
}

TEST(VariantsTest, ParsesNamesAndSizes) {
  const job::ValidationLimits limits{.max_output_dimension = 4000};
  for (std::string_view name : kVariants) {
    absl::StatusOr<VariantRequest> r = ParseVariant(name, std::nullopt, std::nullopt, limits);
    ASSERT_TRUE(r.ok()) << name;
    EXPECT_EQ(r->name, name);
    EXPECT_FALSE(r->width || r->height);
  }
  absl::StatusOr<VariantRequest> sized = ParseVariant("mirror", "300", std::nullopt, limits);
  ASSERT_TRUE(sized.ok());
  EXPECT_EQ(sized->width, 300);
  EXPECT_FALSE(sized->height.has_value());
  absl::StatusOr<VariantRequest> unknown =
      ParseVariant("sepia", std::nullopt, std::nullopt, limits);
  EXPECT_EQ(errors::ReasonOf(unknown.status()), "UnknownVariant");
  EXPECT_EQ(errors::HttpStatusOf(unknown.status()), 404);
  for (const char* bad : {"0", "4001", "wide", "-1"}) {
    absl::StatusOr<VariantRequest> r = ParseVariant("png", std::nullopt, std::string(bad), limits);
    EXPECT_EQ(errors::ReasonOf(r.status()), "InvalidArgument") << bad;
    EXPECT_EQ(errors::HttpStatusOf(r.status()), 400) << bad;
  }
}

TEST(VariantsTest, KeepsTheImagesFormatForGrayscaleAndMirrorAndResizesFirst) {
  const std::string id(64, 'a');
  const job::ImageMeta webp{.id = id, .format = job::Format::kWebp, .width = 300, .height = 200};
  const job::ImageMeta jpeg{.id = id, .format = job::Format::kJpeg, .width = 300, .height = 200};
  const job::ImageMeta png{.id = id, .format = job::Format::kPng, .width = 300, .height = 200};
  job::JobSpec gray = VariantSpec(webp, {.name = "grayscale"});
  EXPECT_EQ(gray.output.format, job::Format::kWebp);
  ASSERT_EQ(gray.steps.size(), 1u);
  EXPECT_EQ(job::OpName(gray.steps[0]), "grayscale");
  EXPECT_EQ(gray.source.image_id, id);

  // A format pixq only reads: the grayscale of a HEIC is a JPEG.
  const job::ImageMeta heic{.id = id, .format = job::Format::kHeic, .width = 300, .height = 200};
  EXPECT_EQ(VariantSpec(heic, {.name = "grayscale"}).output.format, job::Format::kJpeg);
  EXPECT_EQ(VariantSpec(heic, {.name = "webp"}).output.format, job::Format::kWebp);

  job::JobSpec converted = VariantSpec(jpeg, {.name = "png"});
  EXPECT_EQ(converted.output.format, job::Format::kPng);
  EXPECT_TRUE(converted.steps.empty());

  job::JobSpec small = VariantSpec(png, {.name = "mirror", .height = 50});
  ASSERT_EQ(small.steps.size(), 2u);
  const auto* resize = std::get_if<job::Resize>(&small.steps[0]);
  ASSERT_NE(resize, nullptr);
  EXPECT_EQ(resize->height, 50);
  EXPECT_FALSE(resize->width.has_value());
  EXPECT_EQ(resize->fit, job::Fit::kInside);
  EXPECT_FALSE(resize->upscale);
  EXPECT_EQ(job::OpName(small.steps[1]), "mirror");

  // A box the image fits in already: no resize, the same output as no size at all.
  for (const VariantRequest& large :
       {VariantRequest{.name = "mirror", .width = 300},
        VariantRequest{.name = "mirror", .width = 5000, .height = 200},
        VariantRequest{.name = "mirror", .height = 9000}}) {
    EXPECT_EQ(job::OutputKey(id, VariantSpec(png, large)),
              job::OutputKey(id, VariantSpec(png, {.name = "mirror"})));
  }
  EXPECT_EQ(VariantSpec(png, {.name = "mirror", .width = 5000, .height = 199}).steps.size(), 2u);
}

TEST(SeedTest, TurnsADownloadRequestIntoAUrlJobWhoseFileNameIsOnlyALabel) {
  absl::StatusOr<job::JobSpec> spec = DownloadSpec(
      R"({"file_name":"../../etc/cat.PNG","image_url":"https://example.com/a/cat.jpg","extra":1})",
      {});
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->source.url, "https://example.com/a/cat.jpg");
  EXPECT_TRUE(spec->source.image_id.empty());
  EXPECT_TRUE(spec->steps.empty());
  EXPECT_EQ(spec->output.format, job::Format::kPng);
  EXPECT_EQ(spec->labels.at(kFileNameLabel), "../../etc/cat.PNG");
  EXPECT_EQ(spec->labels.at(kSeedLabel), "download");

  EXPECT_EQ(FormatForFileName("a.jpg"), job::Format::kJpeg);
  EXPECT_EQ(FormatForFileName("a.JPEG"), job::Format::kJpeg);
  EXPECT_EQ(FormatForFileName("a.webp"), job::Format::kWebp);
  EXPECT_EQ(FormatForFileName("a.gif"), job::Format::kJpeg);
  EXPECT_EQ(FormatForFileName("noext"), job::Format::kJpeg);
  EXPECT_EQ(FormatForFileName(""), job::Format::kJpeg);

  // A long name is cut, never inside a character.
  std::string long_name;
  for (int i = 0; i < 200; ++i) long_name += "\xc3\xa9";  // é
  absl::StatusOr<job::JobSpec> cut = DownloadSpec(
      nlohmann::json{{"file_name", long_name}, {"image_url", "http://x.example/a"}}.dump(), {});
  ASSERT_TRUE(cut.ok());
  EXPECT_LE(cut->labels.at(kFileNameLabel).size(), kMaxFileNameLabel);
  EXPECT_EQ(cut->labels.at(kFileNameLabel).size() % 2, 0u);
  EXPECT_FALSE(nlohmann::json(cut->labels.at(kFileNameLabel)).dump().empty());
}

TEST(SeedTest, RefusesDownloadRequestsNamingTheField) {
  struct Case {
    const char* body;
    const char* reason;
    const char* field;
  };
  for (const Case& c :
       {Case{"{", "MalformedJson", ""}, Case{"[]", "InvalidSpec", "body"},
        Case{R"({"file_name":"a.jpg"})", "InvalidSpec", "image_url: is required"},
        Case{R"({"image_url":7})", "InvalidSpec", "image_url: must be a string"},
        Case{R"({"image_url":"file:///etc/passwd"})", "InvalidSpec", "image_url: must be an http"},
        Case{R"({"image_url":"http://a.example/","file_name":3})", "InvalidSpec", "file_name"}}) {
    absl::StatusOr<job::JobSpec> spec = DownloadSpec(c.body, {});
    ASSERT_FALSE(spec.ok()) << c.body;
    EXPECT_EQ(errors::ReasonOf(spec.status()), c.reason) << c.body;
    EXPECT_NE(spec.status().message().find(c.field), absl::string_view::npos)
        << c.body << ": " << spec.status().message();
  }
}

TEST(SeedTest, AnswersChecksAsCeleryDoes) {
  job::JobRecord record;
  record.id = "j_01HV3K9Q6Y0S4W7T1F2D5G8B9C";
  record.spec.labels[kFileNameLabel] = "cat.png";
  const std::pair<job::Phase, const char*> states[] = {{job::Phase::kPending, "PENDING"},
                                                       {job::Phase::kRunning, "STARTED"},
                                                       {job::Phase::kSucceeded, "SUCCESS"},
                                                       {job::Phase::kFailed, "FAILURE"}};
  for (const auto& [phase, state] : states) {
    record.status.phase = phase;
    const nlohmann::json check = CeleryTaskJson(record);
    EXPECT_EQ(check["task_id"], record.id);
    EXPECT_EQ(check["state"], state);
    EXPECT_EQ(check["status"], state);
    EXPECT_TRUE(check.contains("result"));
  }
  record.status.phase = job::Phase::kPending;
  EXPECT_TRUE(CeleryTaskJson(record)["result"].is_null());

  record.status.phase = job::Phase::kSucceeded;
  record.status.image_id = std::string(64, 'd');
  record.status.output =
      job::OutputInfo{.format = job::Format::kPng, .width = 4, .height = 3, .bytes = 99};
  const nlohmann::json success = CeleryTaskJson(record);
  EXPECT_EQ(success["result"]["url"], "/v1/jobs/j_01HV3K9Q6Y0S4W7T1F2D5G8B9C/output");
  EXPECT_EQ(success["result"]["file_name"], "cat.png");
  EXPECT_EQ(success["result"]["image_id"], std::string(64, 'd'));
  EXPECT_EQ(success["result"]["format"], "png");

  record.status.phase = job::Phase::kFailed;
  record.status.output.reset();
  record.status.reason = "SourceNotFound";
  record.status.message = "the origin answered 404";
  const nlohmann::json failure = CeleryTaskJson(record);
  EXPECT_EQ(failure["result"], "SourceNotFound: the origin answered 404");
  EXPECT_EQ(failure["error"]["reason"], "SourceNotFound");
}

}  // namespace
}  // namespace pixq::api
