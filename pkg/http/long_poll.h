#pragma once

// Answers given after their handler returned, from another thread: long-polls (GET
// /v1/jobs/{id}?wait=, a variant's wait), answered once by a change of the job's record or by
// their deadline on the injected clock, and job submissions answered from Kafka's
// acknowledgement. The request's writer and server span move into a Reply; whoever sends its
// answer counts it in the request metrics and ends the span.
//
// Thread-safety: every method may be called from any thread. Wait and AnswerLater from the
// handlers; change callbacks come from the job table's applying thread; deadlines from the
// deadline thread (Start).

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include <pistache/http.h>

#include "pkg/clock/clock.h"
#include "pkg/http/request_context.h"
#include "pkg/job/spec.h"
#include "pkg/observability/metrics.h"
#include "pkg/observability/trace.h"
#include "pkg/state/tables.h"

namespace pixq::http {

// A request answered after its handler returned, from another thread: its writer and server span
// move here from the handler, with what the request metrics need.
struct Reply {
  std::shared_ptr<Pistache::Http::ResponseWriter> writer;
  observability::Span span;  // the request's server span, ended with the answer
  RequestContext ctx;        // the request's; ctx.span points at `span`
  std::string route;         // the route's template
  std::string method = "GET";

  // Takes the request's writer and span from its handler.
  void Take(RequestContext& request, Pistache::Http::ResponseWriter& w, std::string route_template,
            std::string request_method);
};

class LongPolls final {
 public:
  // Sends a long-poll's answer from the job's record as it is at the end of the wait (an empty
  // record when the job is not in the table any more).
  using Answer =
      std::function<void(RequestContext&, Pistache::Http::ResponseWriter&, const job::JobRecord&)>;
  // What ends a wait before its deadline: the next change of the job's phase, or its end
  // (Succeeded or Failed).
  enum class WakeOn { kChange, kEnd };

  LongPolls(state::JobTable& jobs, clock::Clock& clock, observability::Metrics& metrics);
  ~LongPolls();
  LongPolls(const LongPolls&) = delete;
  LongPolls& operator=(const LongPolls&) = delete;

  // Starts the thread that answers the waits whose deadline came.
  void Start();

  // Takes the request's writer and span, and answers with `answer` when the job `seen` (as the
  // handler read it) wakes the wait, or after `wait` with what is known then. At once when
  // stopping.
  void Wait(RequestContext& ctx, Pistache::Http::ResponseWriter w, const job::JobRecord& seen,
            absl::Duration wait, WakeOn wake, Answer answer, std::string route);

  // Takes the writer (and the request's span) to answer later, or nullptr when stopping: then it
  // has answered 503 ShuttingDown itself, since Stop waits only for answers owed so far.
  [[nodiscard]] std::shared_ptr<Reply> AnswerLater(RequestContext& ctx,
                                                   Pistache::Http::ResponseWriter& w,
                                                   std::string route, std::string method);
  // Sends `later`'s answer (from any thread) and counts it. Pistache writes it from the
  // connection's own thread, soon after.
  void AnswerNow(Reply& later, const absl::StatusOr<nlohmann::json>& body, int status);

  // Refuses new answers-later, answers every wait with the job as it is now, and waits up to
  // `owed_timeout` (on the clock) for the answers owed from other threads. Returns whether any
  // answer was handed to Pistache in the course (its threads still have to write them). Safe to
  // call twice; the second call returns false at once.
  bool Stop(absl::Duration owed_timeout);

 private:
  struct Waiter;

  void OnChange(const std::weak_ptr<Waiter>& weak, const job::JobRecord& record);
  void Finish(Waiter& waiter, const job::JobRecord& record);
  // Counts an answer sent after its handler returned and ends the request's server span with it.
  void ObserveLate(Reply& reply);
  void RunDeadlines();

  state::JobTable& jobs_;
  clock::Clock& clock_;
  observability::Metrics& metrics_;

  absl::Mutex mu_;
  // Waits by deadline; the deadline thread answers the ones whose time came.
  std::multimap<absl::Time, std::shared_ptr<Waiter>> waiters_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Answers to come from other threads (job submissions Kafka has not settled yet).
  int later_pending_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread deadline_thread_;
};

// Parses a ?until= value: "done" (the job's end: Succeeded or Failed) or "change" (its next
// change of phase, the default without one). Errors: "InvalidArgument" naming the parameter and
// the values it takes.
[[nodiscard]] absl::StatusOr<LongPolls::WakeOn> ParseUntil(std::string_view text);

// Parses a ?wait= value: "10s", "1500ms", "2m", or a bare number of seconds. Capped at `max`.
// Errors: "InvalidArgument" naming the parameter.
[[nodiscard]] absl::StatusOr<absl::Duration> ParseWait(std::string_view text, absl::Duration max);

}  // namespace pixq::http
