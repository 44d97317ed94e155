#include "pkg/queue/consumer_set.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

#include "pkg/errors/errors.h"

namespace pixq::queue {

ConsumerSet::ConsumerSet(std::vector<Member> members) : members_(std::move(members)) {}

std::optional<Message> ConsumerSet::Poll(absl::Duration timeout) {
  const size_t n = members_.size();
  for (size_t k = 0; k < n; ++k) {
    const size_t i = (turn_ + k) % n;
    if (std::optional<Message> message = members_[i].consumer->Poll(absl::ZeroDuration())) {
      turn_ = (i + 1) % n;
      return message;
    }
  }
  turn_ = (turn_ + 1) % n;
  return members_.front().consumer->Poll(timeout);
}

Consumer* ConsumerSet::MemberOf(const std::string& topic) const {
  for (const Member& member : members_) {
    if (std::find(member.topics.begin(), member.topics.end(), topic) != member.topics.end()) {
      return member.consumer;
    }
  }
  return nullptr;
}

absl::Status ConsumerSet::StoreOffset(const std::string& topic, int32_t partition, int64_t next) {
  Consumer* member = MemberOf(topic);
  if (member == nullptr) {
    return errors::Make(errors::Reason::kOffsetNotStored,
                        absl::StrCat("store offset ", topic, "/", partition,
                                     ": no consumer of this set reads the topic"));
  }
  return member->StoreOffset(topic, partition, next);
}

absl::Status ConsumerSet::Defer(const Message& message) {
  Consumer* member = MemberOf(message.topic);
  if (member == nullptr) {
    return errors::Make(errors::Reason::kBrokerUnavailable,
                        absl::StrCat("pause ", message.topic, "/", message.partition,
                                     ": no consumer of this set reads the topic"));
  }
  return member->Defer(message);
}

void ConsumerSet::Resume(const std::string& topic, int32_t partition) {
  if (Consumer* member = MemberOf(topic)) member->Resume(topic, partition);
}

void ConsumerSet::PauseAll() {
  for (const Member& member : members_) member.consumer->PauseAll();
}

}  // namespace pixq::queue
