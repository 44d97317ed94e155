#pragma once

// The image pipeline in child processes that can be killed. OpenCV's decoders and encoders cannot
// be interrupted, and a decoder bug met by a crafted file would take the whole worker down with
// it; so the worker runs each job's pipeline in a long-lived child process (`pixq-worker codec`,
// one per job slot, started when first needed) and waits for it with a time limit per stage:
// decoding, the steps, encoding. A child that runs over its limit is killed (SIGKILL) and the job
// fails "TimeLimitExceeded" (permanent); a child that dies fails the job "CodecCrashed" (retriable:
// a child serves many jobs, so the crash may be an earlier job's doing) or "OutOfMemory"
// (retriable, when something else killed it with SIGKILL: the OOM killer). Either way the next job
// gets a fresh child and the worker carries on.
//
// The child keeps SIGINT and SIGTERM blocked (a Ctrl-C to the process group, a stop of the worker
// must not kill a job in flight) and exits as soon as the worker's end of its socket closes, also
// mid-job: when the worker exits, is killed, or gives up on its jobs after the grace period.
//
// Wire: a Unix stream socket, the child's fd 3 (kCodecFd). Frames of [type: 1 byte][header
// length: 4][payload length: 8, little-endian][header: JSON][payload]. The child says 'H' once
// started (its start-up does not count against a job's limits). The worker sends 'Q'
// (header: the steps and output as a job spec; payload: the source image); the child answers 'D'
// once decoded and 'S' once the steps are done, then 'R' (header: the Result's fields; payload:
// the encoded image) or 'E' (header: the error's code, reason and message). Parent and child are
// the same binary, so the wire has no version.

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include <sys/types.h>

#include "pkg/clock/clock.h"
#include "pkg/imaging/pipeline.h"
#include "pkg/job/spec.h"

namespace pixq::isolate {

inline constexpr int kCodecFd = 3;

// The longest a wait on a child's socket goes without looking at the clock again.
inline constexpr absl::Duration kDeadlineCheck = absl::Milliseconds(50);

// How long each stage of one job may take in the child before it is killed.
struct StageLimits {
  absl::Duration decode = absl::Seconds(30);   // from sending the source until it is decoded
  absl::Duration process = absl::Seconds(30);  // all the steps
  absl::Duration encode = absl::Seconds(30);   // encoding, including a maxBytes search
};

struct CodecOptions {
  // The child's argv, e.g. {"/usr/bin/pixq-worker", "codec"}, and the file to execute when it is
  // not argv[0] (the worker uses "/proc/self/exe": its own binary, even once replaced on disk).
  std::vector<std::string> command;
  std::string executable;
  int slots = 1;  // children at most, one per job run at once
  StageLimits limits;
};

class CodecPool final : public imaging::Engine {
 public:
  // The stages' time limits (and the child's start-up limit) are deadlines on `clock`; the waits
  // on a child's socket look at the clock at least every kDeadlineCheck of real time.
  CodecPool(CodecOptions options, clock::Clock& clock);
  // Closes every child's socket, so they exit, and reaps them (killing any that lingers).
  ~CodecPool() override;
  CodecPool(const CodecPool&) = delete;
  CodecPool& operator=(const CodecPool&) = delete;

  // Runs the pipeline in a child. Besides the pipeline's own errors: "TimeLimitExceeded"
  // (permanent) when a stage runs over its limit, "CodecCrashed" (retriable) when the child dies,
  // "OutOfMemory" (retriable) when it was killed by another's SIGKILL, "CodecUnavailable"
  // (retriable) when no child can be started. Blocks while every slot is busy.
  [[nodiscard]] absl::StatusOr<imaging::Result> Run(std::string_view input,
                                                    const std::vector<job::Step>& steps,
                                                    const job::OutputSpec& output) const override;

  // Starts one child and waits until it is ready, so that a codec that cannot start (a bad
  // --config, an executable that cannot run) stops the worker at start-up rather than failing
  // every job. Errors: "CodecUnavailable".
  [[nodiscard]] absl::Status Start() const;

  // Children started so far: the first of each slot and every replacement.
  [[nodiscard]] int64_t started() const;

 private:
  struct Child {
    pid_t pid = -1;
    int fd = -1;  // the worker's end of the socket, non-blocking
  };

  absl::StatusOr<Child> Acquire() const;
  void Release(Child child, bool reusable) const;
  absl::StatusOr<Child> Spawn() const;
  // Sets `reusable` when the child answered; sets child.pid to -1 once it has reaped it.
  absl::StatusOr<imaging::Result> Exchange(Child& child, std::string_view input,
                                           const std::vector<job::Step>& steps,
                                           const job::OutputSpec& output, bool& reusable) const;

  CodecOptions options_;
  clock::Clock& clock_;
  mutable std::mutex mu_;
  mutable std::condition_variable freed_;
  mutable std::vector<Child> idle_;  // guarded by mu_
  mutable int live_ = 0;             // children idle or in use; guarded by mu_
  mutable int64_t started_ = 0;      // guarded by mu_
};

// The child's side: answers requests on `fd` with `pipeline`, one at a time, until the worker
// closes the socket. Returns the process's exit code.
int ServeCodec(int fd, const imaging::Pipeline& pipeline);

}  // namespace pixq::isolate
