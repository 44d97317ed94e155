#include "pkg/worker/runner.h"

#include <algorithm>
#include <thread>

#include "absl/strings/numbers.h"

#include "pkg/observability/log.h"
#include "pkg/worker/processor.h"

namespace pixq::worker {

Runner::Runner(RunnerOptions options, ProcessFn process, observability::Metrics& metrics,
               clock::Clock& clock)
    : options_(std::move(options)), process_(std::move(process)), metrics_(metrics), clock_(clock) {
  options_.concurrency = std::max(1, options_.concurrency);
  options_.ahead = std::max(0, options_.ahead);
}

bool Runner::WaitForJobs(const absl::Condition& done) {
  return clock_.AwaitWithDeadline(mu_, done,
                                  std::min(clock_.Now() + options_.grace, drain_deadline_));
}

int Runner::Run(queue::Consumer& consumer, const std::atomic<bool>& stopping) {
  consumer_ = &consumer;
  std::vector<std::thread> threads;
  const int taken = options_.concurrency + options_.ahead;
  for (int i = 0; i < taken; ++i) threads.emplace_back([this] { Work(); });

  const auto free = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return static_cast<int>(queue_.size()) + busy_ < taken;
  };
  while (!stopping.load()) {
    {
      // Take a job only when a thread is free for it: what is polled is started at once. Real
      // time: this bounds only how late `stopping` is seen while every thread is busy.
      absl::MutexLock lock(&mu_);
      if (!mu_.AwaitWithTimeout(absl::Condition(&free), absl::Milliseconds(250))) continue;
    }
    ResumeDue(consumer);
    std::optional<queue::Message> message = consumer.Poll(absl::Milliseconds(250));
    if (!message) continue;
    if (message->topic == options_.retry_topic && DeferIfEarly(consumer, *message)) continue;
    absl::MutexLock lock(&mu_);
    offsets_.Started({message->topic, message->partition}, message->offset);
    queue_.push_back(*std::move(message));
  }

  // Stopping: nothing more is fetched; the jobs taken finish within the grace, or are abandoned.
  // Meanwhile the consumer is polled every kServeGroupEvery so that it answers its group: a
  // rebalance that begins during the drain (a member joining or leaving) otherwise goes on
  // without this member, which then loses its partitions and has its last commits refused, and
  // every job it finished since its last commit runs again elsewhere.
  constexpr absl::Duration kServeGroupEvery = absl::Milliseconds(100);
  consumer.PauseAll();
  bool drained = false;
  int abandoned = 0;
  int64_t finished_before = 0;
  const auto idle = [this]()
                        ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return queue_.empty() && busy_ == 0; };
  {
    absl::MutexLock lock(&mu_);
    observability::LogInfo("draining", {{"jobs", offsets_.Running()}});
    finished_before = finished_;
    drain_deadline_ = clock_.Now() + options_.grace;
  }
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      drained = clock_.AwaitWithDeadline(
          mu_, absl::Condition(&idle), std::min(clock_.Now() + kServeGroupEvery, drain_deadline_));
      if (drained || clock_.Now() >= drain_deadline_) {
        abandoned = static_cast<int>(offsets_.Running());
        // Counted where the jobs end (after their status was acknowledged, or given up on), not
        // where they log their outcome.
        observability::LogInfo("drained",
                               {{"jobs", finished_ - finished_before}, {"left", abandoned}});
        closed_ = true;
        break;
      }
    }
    // Paused, so nothing new arrives; a record fetched before the pause is dropped unstarted (its
    // offset is never stored: the partition's next owner runs it).
    (void)consumer.Poll(absl::ZeroDuration());
  }
  for (std::thread& t : threads) {
    // A thread still inside a job past the grace is left to the process exit.
    if (drained) {
      t.join();
    } else {
      t.detach();
    }
  }
  return abandoned;
}

bool Runner::DeferIfEarly(queue::Consumer& consumer, const queue::Message& message) {
  const OffsetTracker::Partition partition{message.topic, message.partition};
  // Fetched before the partition was paused: it comes again, in order, after the resume.
  if (deferred_.count(partition) != 0) return true;
  int64_t not_before_ms = 0;
  const std::optional<std::string> header = message.HeaderValue(kNotBeforeHeader);
  if (!header || !absl::SimpleAtoi(*header, &not_before_ms)) return false;
  const absl::Time now = clock_.Now();
  // The wait is capped from when this message was first put off, not from each return of it.
  const auto first_key = std::make_pair(partition, message.offset);
  const absl::Time first = first_deferred_.try_emplace(first_key, now).first->second;
  const absl::Time not_before =
      std::min(absl::FromUnixMillis(not_before_ms), first + options_.max_defer);
  if (not_before <= now) {
    first_deferred_.erase(first_key);
    return false;
  }
  if (absl::Status deferred = consumer.Defer(message); !deferred.ok()) {
    // Cannot wait for it (the partition is going, most likely): run it early rather than skip it.
    observability::LogWarn("retry not deferred, running it now",
                           {{"error", std::string(deferred.message())}});
    first_deferred_.erase(first_key);
    return false;
  }
  deferred_[partition] = not_before;
  return true;
}

void Runner::ResumeDue(queue::Consumer& consumer) {
  const absl::Time now = clock_.Now();
  for (auto it = deferred_.begin(); it != deferred_.end();) {
    if (it->second > now) {
      ++it;
      continue;
    }
    consumer.Resume(it->first.first, it->first.second);
    it = deferred_.erase(it);
  }
}

void Runner::Work() {
  const auto ready = [this]()
                         ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return closed_ || !queue_.empty(); };
  while (true) {
    queue::Message message;
    {
      absl::MutexLock lock(&mu_, absl::Condition(&ready));
      if (queue_.empty()) return;  // closed
      message = std::move(queue_.front());
      queue_.pop_front();
      ++busy_;
    }
    metrics_.AddJobsInFlight(1);
    const absl::Status done = process_(message);
    metrics_.AddJobsInFlight(-1);
    if (!done.ok()) {
      // Not durable: the offset stays below it, and it comes back after a restart or rebalance.
      observability::LogWarn("job left for redelivery",
                             {{"key", message.key}, {"error", std::string(done.message())}});
    }
    absl::MutexLock lock(&mu_);
    if (done.ok()) {
      if (std::optional<int64_t> next =
              offsets_.Finished({message.topic, message.partition}, message.offset)) {
        if (absl::Status stored = consumer_->StoreOffset(message.topic, message.partition, *next);
            !stored.ok()) {
          observability::LogWarn("offset not stored", {{"error", std::string(stored.message())}});
        }
      }
    } else {
      offsets_.Held({message.topic, message.partition}, message.offset);
    }
    ++finished_;
    --busy_;
  }
}

void Runner::OnRevoke(const std::vector<std::pair<std::string, int32_t>>& partitions) {
  absl::MutexLock lock(&mu_);
  const auto running = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    size_t n = 0;
    for (const auto& p : partitions) n += offsets_.Running(p);
    return n;
  };
  const auto none_running = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return running() == 0; };
  // After Run (leaving the group on shutdown) the grace has been spent already: do not wait twice.
  if (!closed_) WaitForJobs(absl::Condition(&none_running));
  if (const size_t left = running(); left > 0) {
    observability::LogWarn("partitions revoked with jobs still running; they will run again",
                           {{"jobs", left}});
  }
  for (const auto& p : partitions) {
    offsets_.Forget(p);
    // A paused partition is handed back unpaused: whoever owns it next reads it as usual.
    if (deferred_.erase(p) != 0 && consumer_ != nullptr) consumer_->Resume(p.first, p.second);
    std::erase_if(first_deferred_, [&](const auto& entry) { return entry.first.first == p; });
  }
}

}  // namespace pixq::worker
