#pragma once

// What `pixq process` shows while it works. On a terminal: one line redrawn in place, a bar with
// counts, rate and ETA, failures printed above it as they come. Elsewhere (a pipe, a CI log):
// plain lines, one per item, then the stage's totals, nothing redrawn.
//
// Thread-safety: none; one thread reports.

#include <ostream>
#include <string>

#include "absl/time/time.h"

#include "pkg/clock/clock.h"

namespace pixq::client {

class Progress final {
 public:
  Progress(std::ostream& out, bool terminal, clock::Clock& clock);

  // A stage of `total` items begins ("upload", "process").
  void Begin(const std::string& stage, int total);
  // One item is through; `what` names it ("a.jpg -> out/a.webp", "b.txt: UnsupportedMediaType:
  // …").
  void Step(bool failed, const std::string& what);
  // The stage is over: its totals.
  void End();

 private:
  void Draw();

  std::ostream& out_;
  bool terminal_;
  clock::Clock& clock_;
  std::string stage_;
  int total_ = 0;
  int done_ = 0;
  int failed_ = 0;
  absl::Time started_;
};

// "process [#########...........]  90/200  3 failed  12.5/s  ETA 0:09" (the bar `width`
// characters wide); rate and ETA once something is done and time has passed.
[[nodiscard]] std::string StatusLine(const std::string& stage, int done, int failed, int total,
                                     absl::Duration elapsed, int width);

// "0:09", "1:02:03".
[[nodiscard]] std::string Elapsed(absl::Duration d);

}  // namespace pixq::client
