#pragma once

// Figures the reliability tests measure, kept for docs/reliability.md: each call appends one JSON
// object as a line to reliability.jsonl in $PIXQ_FIGURES_DIR (default: <build dir>/figures), with
// $PIXQ_FIGURES_RUN. scripts/reliability-report.sh runs the tests under one run id and turns that
// run's lines into the table in docs/reliability.md, so no figure there is typed by hand.

#include <string>

#include "absl/time/time.h"

namespace pixq::testing {

struct FaultFigures {
  std::string fault;         // what went wrong, e.g. "A worker killed (SIGKILL) mid-load"
  std::string injected;      // what the test did to make it happen
  int jobs = 0;              // jobs that had to survive it
  int lost = 0;              // of those, how many did not end as they should (must be 0)
  std::string redeliveries;  // jobs run twice, or what happened instead
  std::string recovery;      // how long until normal again, measured
};

// Appends `figures` with the running test's name and the time.
void RecordFault(const FaultFigures& figures);

// A duration as the figures show it: to the millisecond from a second up, else to 10 µs.
std::string Took(absl::Duration duration);

}  // namespace pixq::testing
