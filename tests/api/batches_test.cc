// Batches and Idempotency-Keys as plain functions (api/batches.h, api/idempotency.h), no HTTP.

#include "pkg/api/batches.h"

#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include <gtest/gtest.h>

#include "pkg/api/idempotency.h"
#include "pkg/errors/errors.h"

namespace pixq::api {
namespace {

using nlohmann::json;

const std::string kImage(64, 'a');

TEST(BatchSpecsTest, MakesOneJobPerImageWithTheSharedRest) {
  const json doc = {{"images", {kImage, std::string(64, 'b')}},
                    {"steps", {{{"op", "grayscale"}}}},
                    {"output", {{"format", "png"}}}};
  absl::StatusOr<std::vector<job::JobSpec>> specs = BatchSpecs(doc, {});
  ASSERT_TRUE(specs.ok()) << specs.status();
  ASSERT_EQ(specs->size(), 2u);
  EXPECT_EQ((*specs)[0].source.image_id, kImage);
  EXPECT_EQ((*specs)[1].source.image_id, std::string(64, 'b'));
  EXPECT_EQ((*specs)[1].steps.size(), 1u);
}

TEST(BatchSpecsTest, NamesTheJobThatIsWrong) {
  const json doc = {{"jobs",
                     {{{"source", {{"imageId", kImage}}}},
                      {{"source", {{"imageId", kImage}}}, {"steps", {{{"op", "sepia"}}}}}}}};
  absl::StatusOr<std::vector<job::JobSpec>> specs = BatchSpecs(doc, {});
  ASSERT_FALSE(specs.ok());
  EXPECT_EQ(std::string(specs.status().message()).rfind("jobs[1]: ", 0), 0u)
      << specs.status().message();
}

TEST(BatchSpecsTest, RefusesWhatIsNoBatch) {
  EXPECT_EQ(errors::ReasonOf(BatchSpecs(json::array(), {}).status()), "InvalidSpec");
  EXPECT_EQ(errors::ReasonOf(BatchSpecs(json::object(), {}).status()), "InvalidSpec");
  EXPECT_EQ(errors::ReasonOf(BatchSpecs({{"jobs", json::array()}}, {}).status()), "InvalidSpec");
  EXPECT_EQ(errors::ReasonOf(BatchSpecs({{"jobs", json::array()}, {"steps", 1}}, {}).status()),
            "InvalidSpec");
  EXPECT_EQ(errors::ReasonOf(
                BatchSpecs({{"images", std::vector<std::string>(kMaxBatchJobs + 1, kImage)}}, {})
                    .status()),
            "TooManyJobs");
}

TEST(BatchJsonTest, CountsItsJobsByPhase) {
  std::vector<job::JobRecord> jobs(3);
  jobs[0].id = "j_1";
  jobs[0].created_at = "2026-11-22T10:00:02.000Z";
  jobs[1].id = "j_2";
  jobs[1].created_at = "2026-11-22T10:00:01.000Z";
  jobs[1].status.phase = job::Phase::kSucceeded;
  jobs[2].id = "j_3";
  jobs[2].created_at = "2026-11-22T10:00:03.000Z";
  const json batch = BatchJson("b_1", jobs);
  EXPECT_EQ(batch["metadata"]["createdAt"], "2026-11-22T10:00:01.000Z");
  EXPECT_EQ(batch["status"]["counts"]["Pending"], 2);
  EXPECT_EQ(batch["status"]["counts"]["Succeeded"], 1);
  EXPECT_EQ(batch["status"]["done"], false);
  EXPECT_EQ(batch["status"]["jobIds"], json({"j_1", "j_2", "j_3"}));
}

TEST(IdempotencyTest, ScopesTheKeyToTheCallerAndTheKind) {
  const KeyedRequest request{.idempotency_key = "k-1", .authorization = "Bearer one", .body = "{}"};
  absl::StatusOr<Idempotency> job = IdempotencyOf("job", request);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->key.rfind("job:", 0), 0u);
  EXPECT_EQ(job->key.substr(job->key.size() - 4), ":k-1");
  EXPECT_NE(IdempotencyOf("batch", request)->key, job->key);
  KeyedRequest other = request;
  other.authorization = "Bearer two";
  EXPECT_NE(IdempotencyOf("job", other)->key, job->key);
  // The same caller with another body: the same key, another hash.
  other = request;
  other.body = "{ }";
  EXPECT_EQ(IdempotencyOf("job", other)->key, job->key);
  EXPECT_NE(IdempotencyOf("job", other)->request_hash, job->request_hash);
}

TEST(IdempotencyTest, IsNothingWithoutAKeyAndRefusesBadKeys) {
  absl::StatusOr<Idempotency> none = IdempotencyOf("job", {.body = "{}"});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->key.empty());
  EXPECT_TRUE(none->request_hash.empty());
  for (const std::string& bad : {std::string(), std::string(256, 'k'), std::string("a b")}) {
    EXPECT_EQ(errors::ReasonOf(IdempotencyOf("job", {.idempotency_key = bad}).status()),
              "InvalidIdempotencyKey")
        << bad;
  }
}

}  // namespace
}  // namespace pixq::api
