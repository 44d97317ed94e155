#include "pkg/queue/consumer_set.h"

#include <gtest/gtest.h>

#include "pkg/errors/errors.h"
#include "tests/fakes/fake_consumer.h"

namespace pixq::queue {
namespace {

constexpr char kJobs[] = "pixq.jobs";
constexpr char kRetry[] = "pixq.jobs.retry";

class ConsumerSetTest : public ::testing::Test {
 protected:
  ConsumerSetTest() {
    jobs_.Assign({{kJobs, 0}});
    retry_.Assign({{kRetry, 0}});
  }

  testing::FakeConsumer jobs_;
  testing::FakeConsumer retry_;
  ConsumerSet set_{
      {{.consumer = &jobs_, .topics = {kJobs}}, {.consumer = &retry_, .topics = {kRetry}}}};
};

TEST_F(ConsumerSetTest, TakesTurnsSoThatNeitherTopicWaitsBehindTheOther) {
  for (int i = 0; i < 3; ++i) {
    jobs_.Append(kJobs, 0);
    retry_.Append(kRetry, 0);
  }
  std::vector<std::string> topics;
  for (int i = 0; i < 6; ++i) {
    std::optional<Message> message = set_.Poll(absl::ZeroDuration());
    ASSERT_TRUE(message.has_value()) << i;
    topics.push_back(message->topic);
  }
  EXPECT_EQ(topics, (std::vector<std::string>{kJobs, kRetry, kJobs, kRetry, kJobs, kRetry}));
  EXPECT_FALSE(set_.Poll(absl::ZeroDuration()).has_value());
}

TEST_F(ConsumerSetTest, ARecordOfTheOtherTopicIsFoundWithoutWaiting) {
  retry_.Append(kRetry, 0);
  std::optional<Message> message = set_.Poll(absl::ZeroDuration());
  ASSERT_TRUE(message.has_value());
  EXPECT_EQ(message->topic, kRetry);
}

TEST_F(ConsumerSetTest, OffsetsPausesAndResumesGoToTheMemberThatReadsTheTopic) {
  jobs_.Append(kJobs, 0);
  const int64_t retried = retry_.Append(kRetry, 0);
  ASSERT_TRUE(set_.StoreOffset(kJobs, 0, 1).ok());
  ASSERT_TRUE(set_.StoreOffset(kRetry, 0, 1).ok());
  EXPECT_EQ(jobs_.Committed({kJobs, 0}), 1);
  EXPECT_EQ(retry_.Committed({kRetry, 0}), 1);
  EXPECT_FALSE(jobs_.Committed({kRetry, 0}).has_value());

  ASSERT_TRUE(set_.Defer({.topic = kRetry, .partition = 0, .offset = retried}).ok());
  EXPECT_TRUE(retry_.Paused({kRetry, 0}));
  EXPECT_FALSE(jobs_.Paused({kRetry, 0}));
  set_.Resume(kRetry, 0);
  EXPECT_FALSE(retry_.Paused({kRetry, 0}));
}

TEST_F(ConsumerSetTest, ATopicNoMemberReadsIsRefused) {
  const absl::Status stored = set_.StoreOffset("pixq.elsewhere", 0, 1);
  EXPECT_TRUE(errors::Is(stored, errors::Reason::kOffsetNotStored)) << stored;
  EXPECT_FALSE(set_.Defer({.topic = "pixq.elsewhere", .partition = 0, .offset = 0}).ok());
}

}  // namespace
}  // namespace pixq::queue
