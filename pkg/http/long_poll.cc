#include "pkg/http/long_poll.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

#include "pkg/errors/errors.h"
#include "pkg/http/responses.h"
#include "pkg/observability/log.h"

namespace pixq::http {

void Reply::Take(RequestContext& request, Pistache::Http::ResponseWriter& w,
                 std::string route_template, std::string request_method) {
  writer = std::make_shared<Pistache::Http::ResponseWriter>(std::move(w));
  ctx = request;
  if (request.span != nullptr) span = std::move(*request.span);
  ctx.span = &span;
  route = std::move(route_template);
  method = std::move(request_method);
}

// A wait in flight: answered exactly once, by a change of the job or by its deadline.
struct LongPolls::Waiter : Reply {
  absl::Mutex mu;
  bool done ABSL_GUARDED_BY(mu) = false;
  uint64_t token ABSL_GUARDED_BY(mu) = 0;
  std::string id;
  absl::Time deadline;
  WakeOn wake = WakeOn::kChange;
  Answer answer;
};

LongPolls::LongPolls(state::JobTable& jobs, clock::Clock& clock, observability::Metrics& metrics)
    : jobs_(jobs), clock_(clock), metrics_(metrics) {}

LongPolls::~LongPolls() { Stop(absl::ZeroDuration()); }

void LongPolls::Start() {
  deadline_thread_ = std::thread([this] { RunDeadlines(); });
}

void LongPolls::Wait(RequestContext& ctx, Pistache::Http::ResponseWriter w,
                     const job::JobRecord& seen, absl::Duration wait, WakeOn wake, Answer answer,
                     std::string route) {
  auto waiter = std::make_shared<Waiter>();
  waiter->Take(ctx, w, std::move(route), "GET");
  waiter->answer = std::move(answer);
  waiter->wake = wake;
  waiter->id = seen.id;
  waiter->deadline = clock_.Now() + wait;
  bool stopping;
  {
    absl::MutexLock lock(&mu_);
    stopping = stopping_;
    if (!stopping) waiters_.emplace(waiter->deadline, waiter);
  }
  if (stopping) {
    Finish(*waiter, seen);
    return;
  }
  std::weak_ptr<Waiter> weak = waiter;
  uint64_t token;
  {
    absl::MutexLock lock(&waiter->mu);
    waiter->token = jobs_.Watch(
        seen.id, [this, weak](const job::JobRecord& record) { OnChange(weak, record); });
    token = waiter->token;
  }
  // The record may have changed between the handler's read and the watch.
  if (auto now = jobs_.Get(seen.id);
      now && (wake == WakeOn::kEnd ? job::IsTerminal(now->status.phase)
                                   : now->status.phase != seen.status.phase)) {
    if (jobs_.Unwatch(token)) Finish(*waiter, *now);
  }
}

// A watched record changed. Runs on the table reader's thread, which applies nothing else until
// this returns: watching again here misses no change.
void LongPolls::OnChange(const std::weak_ptr<Waiter>& weak, const job::JobRecord& record) {
  std::shared_ptr<Waiter> waiter = weak.lock();
  if (!waiter) return;
  if (waiter->wake == WakeOn::kEnd && !record.id.empty() && !job::IsTerminal(record.status.phase)) {
    absl::MutexLock lock(&waiter->mu);
    if (!waiter->done) {
      waiter->token = jobs_.Watch(
          waiter->id, [this, weak](const job::JobRecord& next) { OnChange(weak, next); });
    }
    return;
  }
  Finish(*waiter, record);
}

void LongPolls::Finish(Waiter& waiter, const job::JobRecord& record) {
  {
    absl::MutexLock lock(&waiter.mu);
    if (waiter.done) return;
    waiter.done = true;
    // A wait for the job's end may have watched again since the deadline thread read the token.
    jobs_.Unwatch(waiter.token);
  }
  {
    // Off the deadline thread's list (it took the wait off itself if it is the one finishing).
    absl::MutexLock lock(&mu_);
    auto [first, last] = waiters_.equal_range(waiter.deadline);
    for (auto it = first; it != last; ++it) {
      if (it->second.get() == &waiter) {
        waiters_.erase(it);
        break;
      }
    }
  }
  waiter.answer(waiter.ctx, *waiter.writer, record);
  ObserveLate(waiter);
}

void LongPolls::ObserveLate(Reply& reply) {
  const int answered = reply.ctx.answered;
  metrics_.ObserveHttpRequest(reply.route, reply.method, answered,
                              absl::ToDoubleSeconds(absl::Now() - reply.ctx.started));
  reply.span.SetAttribute("http.response.status_code", int64_t{answered});
  if (answered >= 500) reply.span.SetError(absl::StrCat("answered ", answered));
  reply.span.End();
}

std::shared_ptr<Reply> LongPolls::AnswerLater(RequestContext& ctx,
                                              Pistache::Http::ResponseWriter& w, std::string route,
                                              std::string method) {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      SendProblem(ctx, w,
                  errors::Make(errors::Reason::kShuttingDown, "this replica is stopping; retry"));
      return nullptr;
    }
    ++later_pending_;
  }
  auto later = std::make_shared<Reply>();
  later->Take(ctx, w, std::move(route), std::move(method));
  return later;
}

void LongPolls::AnswerNow(Reply& later, const absl::StatusOr<nlohmann::json>& body, int status) {
  if (body.ok()) {
    SendJson(later.ctx, *later.writer, status, *body);
  } else {
    SendProblem(later.ctx, *later.writer, body.status());
  }
  ObserveLate(later);
  absl::MutexLock lock(&mu_);
  --later_pending_;
}

void LongPolls::RunDeadlines() {
  absl::MutexLock lock(&mu_);
  while (true) {
    if (stopping_ && waiters_.empty()) return;
    if (waiters_.empty()) {
      // Not on the clock: a test waiting for a poll to wait (FakeClock::AwaitWaiters) sees this
      // thread on the clock only once a poll is waiting.
      const auto stopping_or_waiting = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !waiters_.empty();
      };
      mu_.Await(absl::Condition(&stopping_or_waiting));
      continue;
    }
    const absl::Time next = waiters_.begin()->first;
    if (!stopping_ && clock_.Now() < next) {
      // Until the deadline, or the stop, or another first wait (an earlier one came, or this
      // one was answered).
      const auto changed = [this, next]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || waiters_.empty() || waiters_.begin()->first != next;
      };
      clock_.AwaitWithDeadline(mu_, absl::Condition(&changed), next);
      continue;
    }
    std::shared_ptr<Waiter> waiter = waiters_.begin()->second;
    waiters_.erase(waiters_.begin());
    mu_.Unlock();
    uint64_t token;
    {
      absl::MutexLock wl(&waiter->mu);
      token = waiter->token;
    }
    jobs_.Unwatch(token);
    if (auto record = jobs_.Get(waiter->id)) {
      Finish(*waiter, *record);
    } else {
      Finish(*waiter, job::JobRecord{});
    }
    mu_.Lock();
  }
}

bool LongPolls::Stop(absl::Duration owed_timeout) {
  bool polls = false;  // waits in flight: the deadline thread answers them now
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return false;
    stopping_ = true;
    polls = !waiters_.empty();
  }
  if (deadline_thread_.joinable()) deadline_thread_.join();
  // Submissions Kafka has yet to settle are answered before the connections close (new ones are
  // refused from now on). librdkafka settles each within its message timeout; the bound is a
  // backstop.
  absl::MutexLock lock(&mu_);
  const bool owed = later_pending_ > 0;
  const auto settled = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return later_pending_ == 0; };
  if (owed &&
      !clock_.AwaitWithDeadline(mu_, absl::Condition(&settled), clock_.Now() + owed_timeout)) {
    observability::LogWarn("answers still owed at shutdown", {{"requests", later_pending_}});
  }
  return owed || polls;
}

absl::StatusOr<LongPolls::WakeOn> ParseUntil(std::string_view text) {
  const std::string s = absl::AsciiStrToLower(absl::StripAsciiWhitespace(errors::Sv(text)));
  if (s == "done") return LongPolls::WakeOn::kEnd;
  if (s == "change") return LongPolls::WakeOn::kChange;
  return errors::Make(errors::Reason::kInvalidArgument,
                      "until: must be done (wait for Succeeded or Failed) or change (the next "
                      "change of phase)");
}

absl::StatusOr<absl::Duration> ParseWait(std::string_view text, absl::Duration max) {
  std::string s = absl::AsciiStrToLower(absl::StripAsciiWhitespace(errors::Sv(text)));
  absl::Duration d;
  int64_t seconds = 0;
  if (absl::SimpleAtoi(s, &seconds)) {
    d = absl::Seconds(seconds);
  } else if (!absl::ParseDuration(s, &d)) {
    return errors::Make(errors::Reason::kInvalidArgument,
                        "wait: must be a duration such as 10s, 1500ms or 2m");
  }
  if (d < absl::ZeroDuration()) {
    return errors::Make(errors::Reason::kInvalidArgument, "wait: must not be negative");
  }
  return std::min(d, max);
}

}  // namespace pixq::http
