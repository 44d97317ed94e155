#include "pkg/client/progress.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace pixq::client {

std::string Elapsed(absl::Duration d) {
  const int64_t s = std::max<int64_t>(0, absl::ToInt64Seconds(d));
  if (s >= 3600) return absl::StrFormat("%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
  return absl::StrFormat("%d:%02d", s / 60, s % 60);
}

std::string StatusLine(const std::string& stage, int done, int failed, int total,
                       absl::Duration elapsed, int width) {
  const int filled = total > 0 ? static_cast<int>(static_cast<int64_t>(width) * done / total) : 0;
  std::string line = absl::StrCat(stage, " [", std::string(filled, '#'),
                                  std::string(width - filled, '.'), "] ", done, "/", total);
  if (failed > 0) absl::StrAppend(&line, "  ", failed, " failed");
  const double seconds = absl::ToDoubleSeconds(elapsed);
  if (done > 0 && seconds > 0) {
    const double rate = done / seconds;
    absl::StrAppend(&line, absl::StrFormat("  %.1f/s", rate));
    if (done < total) {
      absl::StrAppend(&line, "  ETA ", Elapsed(absl::Seconds(std::ceil((total - done) / rate))));
    }
  }
  return line;
}

Progress::Progress(std::ostream& out, bool terminal, clock::Clock& clock)
    : out_(out), terminal_(terminal), clock_(clock) {}

void Progress::Begin(const std::string& stage, int total) {
  stage_ = stage;
  total_ = total;
  done_ = 0;
  failed_ = 0;
  started_ = clock_.Now();
  if (terminal_) Draw();
}

void Progress::Step(bool failed, const std::string& what) {
  ++done_;
  if (failed) ++failed_;
  if (terminal_) {
    // A failure stays on the screen above the bar; successes only move the bar.
    if (failed) out_ << "\r\033[K" << what << "\n";
    Draw();
  } else {
    out_ << stage_ << " " << done_ << "/" << total_ << " " << what << "\n";
  }
}

void Progress::End() {
  const std::string line = StatusLine(stage_, done_, failed_, total_, clock_.Now() - started_, 30);
  if (terminal_) {
    out_ << "\r\033[K" << line << "\n";
  } else {
    out_ << line << "\n";
  }
  out_.flush();
}

void Progress::Draw() {
  out_ << "\r\033[K" << StatusLine(stage_, done_, failed_, total_, clock_.Now() - started_, 30);
  out_.flush();
}

}  // namespace pixq::client
