#include "pkg/api/admission.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"

#include "pkg/errors/errors.h"
#include "pkg/errors/retry_after.h"
#include "pkg/observability/log.h"

namespace pixq::api {

Admission::Admission(queue::BacklogSource& source, const queue::RecordSizes* sent,
                     AdmissionOptions options, observability::Metrics& metrics, clock::Clock& clock)
    : source_(source), sent_(sent), options_(options), metrics_(metrics), clock_(clock) {}

Admission::~Admission() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void Admission::Start() {
  thread_ = std::thread([this] {
    const auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        if (stopping_) return;
      }
      CheckNow();
      absl::MutexLock lock(&mu_);
      if (clock_.AwaitWithDeadline(mu_, absl::Condition(&stopping),
                                   clock_.Now() + options_.interval)) {
        return;
      }
    }
  });
}

void Admission::CheckNow() {
  // Taken before the read: a record sent in between is counted twice, never not at all.
  std::map<std::string, queue::RecordSizes::Totals> sent_before;
  {
    absl::MutexLock lock(&mu_);
    if (sent_ != nullptr) {
      for (const auto& [topic, seen] : topics_) sent_before[topic] = sent_->SentTo(topic);
    }
  }
  absl::StatusOr<std::vector<queue::PartitionBacklog>> backlogs = source_.Read();
  if (!backlogs.ok()) {
    // Readiness turns the broker's absence into BrokerUnavailable; the last decision stands.
    // Said once as a warning (then at debug level), so that an admission that cannot see the
    // backlog is not silent about it.
    observability::Log(read_failing_ ? observability::Level::kDebug : observability::Level::kWarn,
                       "backlog not read; the last admission decision stands",
                       {{"error", std::string(backlogs.status().message())}});
    read_failing_ = true;
    return;
  }
  read_failing_ = false;
  const absl::Time now = clock_.Now();
  std::map<std::string, double> by_topic;
  const queue::PartitionBacklog* fullest = nullptr;
  double fullest_fraction = -1;
  // The longest any partition at or above the low-water mark takes to drain to it.
  absl::Duration drain = absl::ZeroDuration();
  std::map<PartitionKey, Seen> seen;
  std::map<std::string, TopicSeen> topics;
  for (const queue::PartitionBacklog& backlog : *backlogs) {
    const double fraction = queue::FractionOfRoom(backlog);
    TopicSeen& topic = topics[backlog.topic];
    if (topic.partitions++ == 0 || fraction > by_topic[backlog.topic]) topic.fullest = backlog;
    double& topic_fraction = by_topic[backlog.topic];
    topic_fraction = std::max(topic_fraction, fraction);
    if (fraction > fullest_fraction) {
      fullest_fraction = fraction;
      fullest = &backlog;
    }
    const PartitionKey key{backlog.topic, backlog.partition};
    seen[key] = {.records = backlog.records, .at = now};
    if (fraction < options_.low_water || fraction <= 0) continue;
    // The records to go before the partition is at the mark (the fraction taken as proportional
    // to the records, as it is for bytes and records), at the pace it went down since last time.
    const double excess = backlog.records * (1 - options_.low_water / fraction);
    auto before = seen_.find(key);
    const double elapsed =
        before == seen_.end() ? 0 : absl::ToDoubleSeconds(now - before->second.at);
    const double rate =
        elapsed > 0 ? static_cast<double>(before->second.records - backlog.records) / elapsed : 0;
    drain = std::max(drain, rate > 0 ? absl::Seconds(excess / rate) : absl::InfiniteDuration());
  }
  seen_ = std::move(seen);
  for (const auto& [topic, fraction] : by_topic) metrics_.SetBacklogFraction(topic, fraction);

  for (auto& [name, topic] : topics) {
    if (sent_ == nullptr) break;
    auto before = sent_before.find(name);
    topic.sent = before != sent_before.end() ? before->second : sent_->SentTo(name);
  }

  absl::MutexLock lock(&mu_);
  topics_ = std::move(topics);
  const bool was_refusing = !refusal_.ok();
  const bool refusing =
      fullest != nullptr && (was_refusing ? fullest_fraction >= options_.low_water
                                          : fullest_fraction >= options_.high_water);
  metrics_.SetAdmissionRefusing(refusing);
  if (!refusing) {
    if (was_refusing) {
      observability::LogInfo("admitting new jobs again", {{"backlog_fraction", fullest_fraction}});
    }
    refusal_ = absl::OkStatus();
    return;
  }
  const absl::Duration retry_after =
      std::clamp(drain, options_.min_retry_after, options_.max_retry_after);
  const int percent = static_cast<int>(std::floor(fullest_fraction * 100));
  refusal_ = errors::WithRetryAfter(
      errors::Make(errors::Reason::kBacklogFull,
                   absl::StrCat("the backlog of ", fullest->topic, " partition ",
                                fullest->partition, " takes ", percent,
                                "% of what it keeps before deleting unconsumed jobs; new jobs are "
                                "accepted again when the workers have caught up")),
      // Whole seconds, rounded up, but not for a float's noise (5.0000001 s is 5).
      static_cast<int64_t>(std::ceil(absl::ToDoubleSeconds(retry_after) - 1e-6)));
  if (!was_refusing) {
    observability::LogWarn("refusing new jobs: backlog full",
                           {{"topic", fullest->topic},
                            {"partition", fullest->partition},
                            {"records", fullest->records},
                            {"bytes", fullest->bytes},
                            {"backlog_fraction", fullest_fraction}});
  }
}

absl::Status Admission::Admit() const {
  absl::MutexLock lock(&mu_);
  if (!refusal_.ok() || sent_ == nullptr) return refusal_;
  for (const auto& [name, topic] : topics_) {
    const queue::RecordSizes::Totals now = sent_->SentTo(name);
    const int64_t records = now.records - topic.sent.records;
    if (records <= 0) continue;
    const double share = std::min(1.0, 2.0 / topic.partitions);
    queue::PartitionBacklog projected = topic.fullest;
    projected.records += static_cast<int64_t>(std::ceil(records * share));
    projected.bytes += static_cast<int64_t>(std::ceil((now.bytes - topic.sent.bytes) * share));
    if (queue::FractionOfRoom(projected) >= options_.high_water) {
      return errors::WithRetryAfter(
          errors::Make(errors::Reason::kBacklogFull,
                       absl::StrCat("the jobs accepted since the backlog of ", name,
                                    " was last read would take it to ",
                                    static_cast<int>(options_.high_water * 100),
                                    "% of what it keeps before deleting unconsumed jobs")),
          static_cast<int64_t>(absl::ToInt64Seconds(options_.min_retry_after)));
    }
  }
  return absl::OkStatus();
}

}  // namespace pixq::api
