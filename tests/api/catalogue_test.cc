// The catalogue (listing, deleting), job listings and variants in api::Service, on fakes.

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "pkg/api/listing.h"
#include "pkg/api/service.h"
#include "pkg/crypto/sha256.h"
#include "pkg/errors/errors.h"
#include "pkg/job/json.h"
#include "tests/api/service_fixture.h"

namespace pixq::api {
namespace {

class CatalogueTest : public ServiceFixture {
 protected:
  // An image in the catalogue, created at the given second (so that the order is known).
  job::ImageMeta AddImage(int width, const std::string& title, int second) {
    const std::string png = Png(width, 10);
    job::ImageMeta meta{.id = crypto::Sha256Hex(png),
                        .title = title,
                        .filename = "f.png",
                        .format = job::Format::kPng,
                        .width = width,
                        .height = 10,
                        .bytes = static_cast<int64_t>(png.size()),
                        .created_at = absl::StrFormat("2026-11-22T10:00:%02d.000Z", second)};
    EXPECT_TRUE(store_.PutOriginal(meta.id, png).ok());
    EXPECT_TRUE(images_.Apply(meta.id, job::ToJson(meta).dump()).ok());
    return meta;
  }

  // A job record in the table, as a worker would leave it; with an output file when Succeeded.
  job::JobRecord AddJob(const std::string& id, const job::JobSpec& spec, job::Phase phase,
                        const std::string& image_id) {
    job::JobRecord record;
    record.id = id;
    record.created_at = "2026-11-22T10:01:00.000Z";
    record.spec = spec;
    record.output_key = job::OutputKey(image_id, spec);
    record.status.phase = phase;
    record.status.image_id = image_id;
    if (phase == job::Phase::kSucceeded) {
      absl::StatusOr<std::string> path = store_.PutOutput(
          record.output_key, job::FormatExtension(spec.output.format), "output bytes");
      EXPECT_TRUE(path.ok());
      record.status.output = job::OutputInfo{.path = *path, .format = spec.output.format};
    }
    EXPECT_TRUE(jobs_.Apply(id, job::ToJson(record).dump()).ok());
    return record;
  }

  job::JobSpec Spec(const std::string& source_json, int width) {
    return *job::ParseJobSpec(
        absl::StrCat(R"({"source":)", source_json, R"(,"steps":[{"op":"resize","width":)", width,
                     R"(}],"output":{"format":"png"}})"),
        {});
  }

  std::vector<std::string> Ids(const std::vector<job::ImageMeta>& items) {
    std::vector<std::string> out;
    for (const job::ImageMeta& m : items) out.push_back(m.id);
    return out;
  }
};

// A job id in ULID form whose order follows n.
std::string JobIdNumber(int n) { return absl::StrFormat("j_01HV3K9Q6Y0S4W7T1F2D5G%04d", n); }

TEST_F(CatalogueTest, PagesThroughTheCatalogueOldestFirstWithoutRepeatsOrGaps) {
  // Created out of order, two in the same second: ordered by createdAt, then by id.
  std::vector<std::pair<int, std::string>> order;
  int width = 20;
  for (int second : {3, 1, 4, 1, 5, 9, 2, 6}) {
    order.emplace_back(second, AddImage(width++, "t", second).id);
  }
  std::sort(order.begin(), order.end());
  std::vector<std::string> expected;
  for (const auto& [second, id] : order) expected.push_back(id);

  std::vector<std::string> listed;
  std::string token;
  int pages = 0;
  do {
    absl::StatusOr<ImagePage> page = service_.ListImages({.limit = 3, .page_token = token});
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_LE(page->items.size(), 3u);
    for (const std::string& id : Ids(page->items)) listed.push_back(id);
    token = page->next_page_token;
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(listed, expected);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(catch_ups_, 1) << "only the first page catches up";
}

TEST_F(CatalogueTest, KeepsItsPlaceWhenImagesComeAndGoBetweenPages) {
  const job::ImageMeta a = AddImage(20, "a", 1);
  const job::ImageMeta b = AddImage(21, "b", 2);
  const job::ImageMeta c = AddImage(22, "c", 3);
  absl::StatusOr<ImagePage> first = service_.ListImages({.limit = 2});
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(Ids(first->items), (std::vector<std::string>{a.id, b.id}));
  // b is deleted and a newer image arrives: the next page goes on after b, with c and d.
  ASSERT_TRUE(images_.Apply(b.id, std::nullopt).ok());
  const job::ImageMeta d = AddImage(23, "d", 4);
  absl::StatusOr<ImagePage> second =
      service_.ListImages({.limit = 2, .page_token = first->next_page_token});
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(Ids(second->items), (std::vector<std::string>{c.id, d.id}));
  EXPECT_TRUE(second->next_page_token.empty());
}

TEST_F(CatalogueTest, FiltersByTitleSubstringInAnyCase) {
  const job::ImageMeta cat = AddImage(20, "Big Cat", 1);
  AddImage(21, "dog", 2);
  const job::ImageMeta cats = AddImage(22, "two CATS", 3);
  absl::StatusOr<ImagePage> page = service_.ListImages({.title = "cAt"});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(Ids(page->items), (std::vector<std::string>{cat.id, cats.id}));
  // Paging within the filter; the token belongs to it.
  absl::StatusOr<ImagePage> first = service_.ListImages({.title = "CAT", .limit = 1});
  ASSERT_TRUE(first.ok());
  ASSERT_FALSE(first->next_page_token.empty());
  absl::StatusOr<ImagePage> next =
      service_.ListImages({.title = "cat", .limit = 1, .page_token = first->next_page_token});
  ASSERT_TRUE(next.ok()) << "the same filter in another case";
  EXPECT_EQ(Ids(next->items), (std::vector<std::string>{cats.id}));
  absl::StatusOr<ImagePage> other =
      service_.ListImages({.title = "dog", .limit = 1, .page_token = first->next_page_token});
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(errors::ReasonOf(other.status()), "InvalidPageToken");
  EXPECT_EQ(errors::HttpStatusOf(other.status()), 400);
  EXPECT_TRUE(service_.ListImages({.title = "bird"})->items.empty());
}

TEST_F(CatalogueTest, RefusesAPageTokenItDidNotWrite) {
  for (const std::string& token :
       std::vector<std::string>{"garbage", "e30", "!!!", std::string(2000, 'A')}) {
    absl::StatusOr<ImagePage> page = service_.ListImages({.page_token = token});
    ASSERT_FALSE(page.ok()) << token;
    EXPECT_EQ(errors::ReasonOf(page.status()), "InvalidPageToken") << token;
  }
  // A jobs token is not an images token.
  for (int i = 0; i < 3; ++i) {
    AddJob(JobIdNumber(i), Spec(R"({"imageId":")" + std::string(64, 'a') + "\"}", 10 + i),
           job::Phase::kPending, std::string(64, 'a'));
  }
  absl::StatusOr<JobPage> jobs = service_.ListJobs({.limit = 1});
  ASSERT_TRUE(jobs.ok());
  ASSERT_FALSE(jobs->next_page_token.empty());
  EXPECT_EQ(errors::ReasonOf(service_.ListImages({.page_token = jobs->next_page_token}).status()),
            "InvalidPageToken");
}

TEST_F(CatalogueTest, ListsJobsInCreationOrderFilteredByPhase) {
  const std::string image(64, 'a');
  const std::string source = R"({"imageId":")" + image + "\"}";
  const job::Phase phases[] = {job::Phase::kPending, job::Phase::kRunning, job::Phase::kSucceeded,
                               job::Phase::kFailed,  job::Phase::kPending, job::Phase::kRunning};
  for (int i = 0; i < 6; ++i) AddJob(JobIdNumber(i), Spec(source, 10 + i), phases[i], image);

  absl::StatusOr<JobPage> all = service_.ListJobs({});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->items.size(), 6u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(all->items[i].id, JobIdNumber(i));
  EXPECT_TRUE(all->next_page_token.empty());

  // The outstanding ones, a page at a time.
  std::vector<std::string> outstanding;
  std::string token;
  do {
    absl::StatusOr<JobPage> page = service_.ListJobs(
        {.phases = {job::Phase::kRunning, job::Phase::kPending}, .limit = 3, .page_token = token});
    ASSERT_TRUE(page.ok()) << page.status();
    for (const job::JobRecord& r : page->items) {
      EXPECT_FALSE(job::IsTerminal(r.status.phase));
      outstanding.push_back(r.id);
    }
    token = page->next_page_token;
  } while (!token.empty());
  EXPECT_EQ(outstanding, (std::vector<std::string>{JobIdNumber(0), JobIdNumber(1), JobIdNumber(4),
                                                   JobIdNumber(5)}));
  // The token is the filter's: the phases in another order are the same filter, others are not.
  absl::StatusOr<JobPage> first =
      service_.ListJobs({.phases = {job::Phase::kPending, job::Phase::kRunning}, .limit = 1});
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(service_
                  .ListJobs({.phases = {job::Phase::kRunning, job::Phase::kPending},
                             .page_token = first->next_page_token})
                  .ok());
  EXPECT_EQ(
      errors::ReasonOf(
          service_.ListJobs({.phases = {job::Phase::kFailed}, .page_token = first->next_page_token})
              .status()),
      "InvalidPageToken");
}

TEST_F(CatalogueTest, ListsAnImagesJobsNewestFirstWithTokensThatCarryTheOrder) {
  const std::string a(64, 'a');
  const std::string b(64, 'b');
  const job::Phase phases[] = {job::Phase::kPending, job::Phase::kSucceeded, job::Phase::kFailed};
  for (int i = 0; i < 9; ++i) {
    const std::string& image = i % 3 == 2 ? b : a;
    AddJob(JobIdNumber(i), Spec(R"({"imageId":")" + image + "\"}", 10 + i), phases[i % 3], image);
  }
  // Image a: jobs 0, 1, 3, 4, 6, 7; newest first, two a page; the order comes with the token.
  std::vector<std::string> seen;
  absl::StatusOr<JobPage> page =
      service_.ListJobs({.image_id = a, .order = state::Order::kDescending, .limit = 2});
  ASSERT_TRUE(page.ok()) << page.status();
  const std::string second_token = page->next_page_token;
  for (;;) {
    for (const job::JobRecord& r : page->items) seen.push_back(r.id);
    if (page->next_page_token.empty()) break;
    page = service_.ListJobs({.image_id = a, .limit = 2, .page_token = page->next_page_token});
    ASSERT_TRUE(page.ok()) << page.status();
  }
  EXPECT_EQ(seen, (std::vector<std::string>{JobIdNumber(7), JobIdNumber(6), JobIdNumber(4),
                                            JobIdNumber(3), JobIdNumber(1), JobIdNumber(0)}));
  // The same order named again is fine; the other order, or another image, is refused.
  EXPECT_TRUE(
      service_
          .ListJobs({.image_id = a, .order = state::Order::kDescending, .page_token = second_token})
          .ok());
  EXPECT_EQ(errors::ReasonOf(service_
                                 .ListJobs({.image_id = a,
                                            .order = state::Order::kAscending,
                                            .page_token = second_token})
                                 .status()),
            "InvalidPageToken");
  EXPECT_EQ(
      errors::ReasonOf(service_.ListJobs({.image_id = b, .page_token = second_token}).status()),
      "InvalidPageToken");
  EXPECT_EQ(errors::ReasonOf(service_.ListJobs({.page_token = second_token}).status()),
            "InvalidPageToken");

  // With a phase: image a's succeeded jobs, oldest first.
  absl::StatusOr<JobPage> succeeded =
      service_.ListJobs({.phases = {job::Phase::kSucceeded}, .image_id = a});
  ASSERT_TRUE(succeeded.ok());
  std::vector<std::string> ids;
  for (const job::JobRecord& r : succeeded->items) ids.push_back(r.id);
  EXPECT_EQ(ids, (std::vector<std::string>{JobIdNumber(1), JobIdNumber(4), JobIdNumber(7)}));

  // Every job, newest first.
  absl::StatusOr<JobPage> all = service_.ListJobs({.order = state::Order::kDescending, .limit = 3});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->items.size(), 3u);
  EXPECT_EQ(all->items[0].id, JobIdNumber(8));
  EXPECT_EQ(all->items[2].id, JobIdNumber(6));
}

TEST_F(CatalogueTest, DeletesAnImageWithItsOutputsAndPublishesATombstone) {
  const job::ImageMeta image = AddImage(30, "doomed", 1);
  const job::ImageMeta other = AddImage(31, "kept", 2);
  const std::string source = R"({"imageId":")" + image.id + "\"}";
  const job::JobRecord done =
      AddJob(JobIdNumber(1), Spec(source, 10), job::Phase::kSucceeded, image.id);
  const job::JobRecord failed =
      AddJob(JobIdNumber(2), Spec(source, 11), job::Phase::kFailed, image.id);
  // A URL job whose download turned out to be this image.
  const job::JobRecord imported =
      AddJob(JobIdNumber(3), Spec(R"({"url":"https://example.com/a.png"})", 12),
             job::Phase::kSucceeded, image.id);
  const job::JobRecord kept = AddJob(JobIdNumber(4), Spec(R"({"imageId":")" + other.id + "\"}", 10),
                                     job::Phase::kSucceeded, other.id);
  ASSERT_TRUE(store_.Exists(done.status.output->path));
  ASSERT_TRUE(store_.Exists(imported.status.output->path));

  absl::StatusOr<DeleteImageResult> deleted = service_.DeleteImage(image.id);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(deleted->outputs_removed, 2);
  EXPECT_FALSE(store_.HasOriginal(image.id));
  EXPECT_FALSE(store_.Exists(done.status.output->path));
  EXPECT_FALSE(store_.Exists(imported.status.output->path));
  // Another image's original and outputs stay.
  EXPECT_TRUE(store_.HasOriginal(other.id));
  EXPECT_TRUE(store_.Exists(kept.status.output->path));
  const std::vector<queue::OutgoingMessage> tombstones = producer_.SentTo("pixq.images");
  ASSERT_EQ(tombstones.size(), 1u);
  EXPECT_TRUE(tombstones[0].tombstone);
  EXPECT_EQ(tombstones[0].key, image.id);
  // This replica caught up: it no longer knows the image; the job records stay.
  EXPECT_FALSE(images_.Get(image.id).has_value());
  EXPECT_EQ(errors::HttpStatusOf(service_.GetImage(image.id).status()), 404);
  EXPECT_TRUE(jobs_.Get(done.id).has_value());
  EXPECT_TRUE(jobs_.Get(failed.id).has_value());
  EXPECT_EQ(Ids(service_.ListImages({})->items), (std::vector<std::string>{other.id}));
  // A job on it now is refused; deleting it again is 404.
  EXPECT_EQ(errors::ReasonOf(service_.CreateJob(Spec(source, 10)).status()), "ImageNotFound");
  EXPECT_EQ(errors::HttpStatusOf(service_.DeleteImage(image.id).status()), 404);
  EXPECT_EQ(errors::HttpStatusOf(service_.DeleteImage("not-an-id").status()), 404);
}

TEST_F(CatalogueTest, KeepsTheImageListedWhenItsTombstoneIsNotAcknowledged) {
  const job::ImageMeta image = AddImage(30, "t", 1);
  producer_.FailTopic("pixq.images");
  absl::StatusOr<DeleteImageResult> deleted = service_.DeleteImage(image.id);
  ASSERT_FALSE(deleted.ok());
  EXPECT_EQ(errors::HttpStatusOf(deleted.status()), 503);
  EXPECT_TRUE(images_.Get(image.id).has_value()) << "still listed: deleting again finishes it";
  producer_.FailTopic("");
  EXPECT_TRUE(service_.DeleteImage(image.id).ok());
  EXPECT_FALSE(images_.Get(image.id).has_value());
}

TEST_F(CatalogueTest, TakesTheSameBytesAgainAfterADelete) {
  const std::string png = Png(33, 10);
  absl::StatusOr<UploadResult> first = service_.UploadImage(png, "one", "");
  ASSERT_TRUE(first.ok());
  ApplyPublished();
  ASSERT_TRUE(service_.DeleteImage(first->meta.id).ok());
  // Even on a replica that has not read the tombstone yet (the record is still in its table).
  ASSERT_TRUE(images_.Apply(first->meta.id, job::ToJson(first->meta).dump()).ok());
  absl::StatusOr<UploadResult> again = service_.UploadImage(png, "two", "");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->created);
  EXPECT_TRUE(store_.HasOriginal(first->meta.id));
}

TEST_F(CatalogueTest, ForgetsAFinishedJobButNotAnUnfinishedOne) {
  const std::string image(64, 'a');
  const std::string source = R"({"imageId":")" + image + "\"}";
  const job::JobRecord done =
      AddJob(JobIdNumber(1), Spec(source, 10), job::Phase::kSucceeded, image);
  AddJob(JobIdNumber(2), Spec(source, 11), job::Phase::kRunning, image);

  ASSERT_TRUE(service_.DeleteJob(done.id).ok());
  const std::vector<queue::OutgoingMessage> sent = producer_.SentTo("pixq.job-status");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(sent[0].tombstone);
  EXPECT_EQ(sent[0].key, done.id);
  EXPECT_FALSE(jobs_.Get(done.id).has_value());
  EXPECT_TRUE(store_.Exists(done.status.output->path)) << "the output stays";

  absl::Status running = service_.DeleteJob(JobIdNumber(2));
  EXPECT_EQ(errors::ReasonOf(running), "JobNotFinished");
  EXPECT_EQ(errors::HttpStatusOf(running), 409);
  EXPECT_EQ(errors::HttpStatusOf(service_.DeleteJob(done.id)), 404);
  EXPECT_EQ(errors::HttpStatusOf(service_.DeleteJob("j_nope")), 404);
}

TEST_F(CatalogueTest, AVariantIsTheJobAClientWouldPostAndNamesTheSameOutput) {
  const job::ImageMeta image = AddImage(40, "v", 1);
  const std::string source = R"({"source":{"imageId":")" + image.id + "\"}";
  struct Case {
    VariantRequest request;
    std::string equivalent_tail;  // the same job as a client would POST it
  };
  const std::vector<Case> cases = {
      {{.name = "jpeg"}, R"(,"output":{"format":"jpeg"}})"},
      {{.name = "webp"}, R"(,"output":{"format":"webp","quality":80}})"},
      {{.name = "png"}, R"(,"steps":[],"output":{"format":"png"}})"},
      {{.name = "grayscale"}, R"(,"steps":[{"op":"grayscale"}],"output":{"format":"png"}})"},
      {{.name = "mirror", .width = 20},
       R"(,"steps":[{"op":"resize","width":20,"fit":"inside"},{"op":"mirror"}],"output":{"format":"png"}})"},
      {{.name = "jpeg", .width = 20, .height = 20},
       R"(,"steps":[{"op":"resize","width":20,"height":20}],"output":{"format":"jpeg","quality":85}})"},
  };
  std::set<std::string> keys;
  for (const Case& c : cases) {
    absl::StatusOr<Variant> variant = service_.ResolveVariant(image.id, c.request);
    ASSERT_TRUE(variant.ok()) << variant.status();
    absl::StatusOr<job::JobSpec> posted = job::ParseJobSpec(source + c.equivalent_tail, {});
    ASSERT_TRUE(posted.ok()) << posted.status();
    EXPECT_EQ(variant->output_key, job::OutputKey(image.id, *posted)) << c.request.name;
    EXPECT_EQ(variant->output_key, service_.ResolveVariant(image.id, c.request)->output_key)
        << "deterministic";
    EXPECT_FALSE(variant->stored);
    EXPECT_EQ(variant->spec.labels.at("variant"), c.request.name);
    keys.insert(variant->output_key);
  }
  EXPECT_EQ(keys.size(), cases.size()) << "each variant has its own output";

  // Once a job made it, the variant is stored and needs no job.
  absl::StatusOr<Variant> gray = service_.ResolveVariant(image.id, {.name = "grayscale"});
  ASSERT_TRUE(gray.ok());
  absl::StatusOr<job::JobRecord> record = service_.CreateJob(gray->spec);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->output_key, gray->output_key);
  ASSERT_TRUE(store_.PutOutput(gray->output_key, "png", "bytes").ok());
  EXPECT_TRUE(service_.ResolveVariant(image.id, {.name = "grayscale"})->stored);
  EXPECT_EQ(gray->output_path, store_.OutputPath(gray->output_key, "png"));

  EXPECT_EQ(
      errors::ReasonOf(service_.ResolveVariant(std::string(64, 'f'), {.name = "png"}).status()),
      "ImageNotFound");
}

}  // namespace
}  // namespace pixq::api
