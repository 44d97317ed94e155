#pragma once

// Several group consumers, one per topic, read as one queue::Consumer.
//
// Why: a group's assignor balances the number of partitions each member owns, summed over every
// topic it subscribes to, not each topic on its own. With pixq.jobs and its retry topic in one
// group, a second worker joining a group of one was handed all of pixq.jobs (cooperative-sticky
// moves partitions in topic order), and the first was left with the retry topic only: idle while
// the other worked (tests/containers/check-running.sh found it by scaling 1 to 2). One group per
// topic balances each topic across the workers, and keeps cooperative rebalancing.
//
// Poll takes turns: each call starts with the next member and looks at each without waiting; when
// none has a record it waits up to the timeout on the first member (the work topic, so fresh jobs
// are not held up; a record of another member waits at most one timeout). StoreOffset, Defer and
// Resume go to the member that reads the record's topic.
//
// Not thread-safe beyond what Consumer promises (StoreOffset from any thread; the rest from the
// polling thread). Does not own the members.

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

#include "pkg/queue/consumer.h"
#include "pkg/queue/message.h"

namespace pixq::queue {

class ConsumerSet final : public Consumer {
 public:
  struct Member {
    Consumer* consumer = nullptr;
    std::vector<std::string> topics;  // the topics it subscribes to
  };

  // `members` non-empty, each topic read by one of them; the first is the one Poll waits on.
  explicit ConsumerSet(std::vector<Member> members);

  [[nodiscard]] std::optional<Message> Poll(absl::Duration timeout) override;
  using Consumer::StoreOffset;
  // Errors: the member's; "OffsetNotStored" for a topic no member reads.
  [[nodiscard]] absl::Status StoreOffset(const std::string& topic, int32_t partition,
                                         int64_t next) override;
  // Errors: the member's; "BrokerUnavailable" for a topic no member reads.
  [[nodiscard]] absl::Status Defer(const Message& message) override;
  void Resume(const std::string& topic, int32_t partition) override;
  void PauseAll() override;

 private:
  // The member that reads `topic`, or nullptr.
  Consumer* MemberOf(const std::string& topic) const;

  std::vector<Member> members_;
  size_t turn_ = 0;  // the member the next Poll looks at first; polling thread only
};

}  // namespace pixq::queue
