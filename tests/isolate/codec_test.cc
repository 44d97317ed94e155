// isolate::CodecPool against real child processes: the real codec (`pixq-worker codec`, the
// binary the worker starts) for results, errors and each stage's time limit, and stand-ins that
// crash, are killed, never answer or do not exist, for what the worker does when its child fails.
// After every failure the pool carries on with a fresh child. Integration tests (ctest label
// `integration`): each starts real processes; the time limits run on the real clock, except where
// a FakeClock shows that the limit is the clock's decision.

#include "pkg/isolate/codec.h"

#include <fstream>
#include <iterator>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "pkg/errors/errors.h"
#include "tests/fakes/fake_clock.h"

namespace pixq::isolate {
namespace {

constexpr char kPhoto[] = "/usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A smooth 5000 × 5000 PNG: a few MB to send, a quarter of a second or more to decode.
const std::string& BigPng() {
  static const std::string png = [] {
    cv::Mat small(50, 50, CV_8UC3);
    cv::randu(small, 0, 255);
    cv::Mat big;
    cv::resize(small, big, cv::Size(5000, 5000), 0, 0, cv::INTER_CUBIC);
    std::vector<uchar> out;
    cv::imencode(".png", big, out);
    return std::string(out.begin(), out.end());
  }();
  return png;
}

std::vector<job::Step> Thumbnail() { return {job::Resize{.width = 800, .height = 800}}; }

CodecOptions RealCodec(StageLimits limits = {}, int slots = 1) {
  return CodecOptions{.command = {PIXQ_WORKER_BINARY, "codec"}, .slots = slots, .limits = limits};
}

CodecOptions StandIn(std::vector<std::string> command, StageLimits limits = {}) {
  return CodecOptions{.command = std::move(command), .slots = 1, .limits = limits};
}

TEST(CodecPoolTest, GivesTheBytesTheInProcessPipelineGives) {
  const std::string photo = ReadFile(kPhoto);
  ASSERT_FALSE(photo.empty()) << kPhoto << " (Debian's lomiri-wallpapers-20.04)";
  imaging::SetOpenCvThreads(1);  // the child runs with its default; both are deterministic
  const imaging::Pipeline local(imaging::Limits{});
  const CodecPool pool(RealCodec(), clock::RealClock());
  for (const job::Format format : {job::Format::kJpeg, job::Format::kWebp, job::Format::kPng}) {
    const job::OutputSpec output{.format = format};
    absl::StatusOr<imaging::Result> here = local.Run(photo, Thumbnail(), output);
    absl::StatusOr<imaging::Result> there = pool.Run(photo, Thumbnail(), output);
    ASSERT_TRUE(here.ok()) << here.status();
    ASSERT_TRUE(there.ok()) << there.status();
    EXPECT_TRUE(here->bytes == there->bytes) << job::FormatExtension(format);
    EXPECT_EQ(there->format, format);
    EXPECT_EQ(there->width, here->width);
    EXPECT_EQ(there->height, here->height);
    EXPECT_EQ(there->quality, here->quality);
    EXPECT_EQ(there->decode_scale, here->decode_scale);
    ASSERT_EQ(there->steps.size(), 1u);
    EXPECT_EQ(there->steps[0].name, "resize");
    EXPECT_LE(there->decode.start, there->decode.end);
    EXPECT_LE(there->decode.end, there->steps[0].start);
    EXPECT_LE(there->steps[0].end, there->encode.start);
    EXPECT_LE(there->encode.start, there->encode.end);
  }
  EXPECT_EQ(pool.started(), 1) << "one child answers every job of its slot";
}

TEST(CodecPoolTest, PipelineErrorsComeBackAsTheyAreAndTheChildStays) {
  const CodecPool pool(RealCodec(), clock::RealClock());
  std::string truncated = ReadFile(kPhoto).substr(0, 2000);
  absl::StatusOr<imaging::Result> corrupt = pool.Run(truncated, Thumbnail(), {});
  ASSERT_FALSE(corrupt.ok());
  EXPECT_EQ(errors::ReasonOf(corrupt.status()), "CorruptImage") << corrupt.status();
  absl::StatusOr<imaging::Result> svg =
      pool.Run("<svg xmlns='http://www.w3.org/2000/svg'/>", Thumbnail(), {});
  ASSERT_FALSE(svg.ok());
  EXPECT_EQ(errors::ReasonOf(svg.status()), "UnsupportedMediaType") << svg.status();
  const imaging::Pipeline local(imaging::Limits{});
  absl::StatusOr<imaging::Result> here = local.Run(truncated, Thumbnail(), {});
  ASSERT_FALSE(here.ok());
  EXPECT_EQ(corrupt.status().code(), here.status().code());
  EXPECT_EQ(corrupt.status().message(), here.status().message());
  EXPECT_EQ(pool.started(), 1);
}

// Each stage over its limit: the child is killed while it works, the job fails for good, and the
// next job gets a new child.
struct StageCase {
  const char* name;
  StageLimits limits;
  std::vector<job::Step> steps;
  job::Format format;
  const char* stage;
};

class StageLimitTest : public ::testing::TestWithParam<StageCase> {};

TEST_P(StageLimitTest, KillsTheChildAndCarriesOn) {
  const StageCase& c = GetParam();
  const CodecPool pool(RealCodec(c.limits), clock::RealClock());
  const std::string& png = BigPng();
  const absl::Time start = absl::Now();
  absl::StatusOr<imaging::Result> slow = pool.Run(png, c.steps, {.format = c.format});
  const absl::Duration took = absl::Now() - start;
  ASSERT_FALSE(slow.ok());
  EXPECT_EQ(errors::ReasonOf(slow.status()), "TimeLimitExceeded") << slow.status();
  EXPECT_FALSE(errors::IsRetriable(slow.status()));
  EXPECT_NE(slow.status().message().find(c.stage), std::string::npos) << slow.status();
  std::cout << c.name << ": the run ended after " << absl::FormatDuration(took)
            << " (the child's start and earlier stages included): " << slow.status().message()
            << "\n";

  // A small image, well within every limit even under the sanitizers.
  cv::Mat small(48, 64, CV_8UC3, cv::Scalar(10, 200, 30));
  std::vector<uchar> png_small;
  cv::imencode(".png", small, png_small);
  absl::StatusOr<imaging::Result> next =
      pool.Run(std::string(png_small.begin(), png_small.end()), {job::Mirror{}}, {});
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->width, 64);
  EXPECT_EQ(pool.started(), 2) << "the killed child was replaced";
}

INSTANTIATE_TEST_SUITE_P(Stages, StageLimitTest,
                         ::testing::Values(StageCase{"Decode",
                                                     {.decode = absl::Milliseconds(100)},
                                                     Thumbnail(),
                                                     job::Format::kJpeg,
                                                     "decoding"},
                                           StageCase{"Process",
                                                     {.process = absl::Milliseconds(100)},
                                                     {job::Blur{.sigma = 100}},
                                                     job::Format::kJpeg,
                                                     "the steps"},
                                           StageCase{"Encode",
                                                     {.encode = absl::Milliseconds(100)},
                                                     {},
                                                     job::Format::kPng,
                                                     "encoding"}),
                         [](const ::testing::TestParamInfo<StageCase>& info) {
                           return std::string(info.param.name);
                         });

// What a stand-in child (a shell) prints on fd 3 to say it has started: an empty 'H' frame.
const std::string kHello = "printf 'H\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0' >&3; ";

TEST(CodecPoolTest, AChildThatCrashesFailsItsJobRetriably) {
  const CodecPool pool(StandIn({"/bin/sh", "-c", kHello + "kill -SEGV $$"}), clock::RealClock());
  absl::StatusOr<imaging::Result> r = pool.Run("bytes", Thumbnail(), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(errors::ReasonOf(r.status()), "CodecCrashed") << r.status();
  EXPECT_TRUE(errors::IsRetriable(r.status())) << "a child serves many jobs: maybe not this one's";
  EXPECT_NE(r.status().message().find("signal 11"), std::string::npos) << r.status();
  // The pool itself is fine: the next job starts another child (which crashes again).
  EXPECT_FALSE(pool.Run("bytes", Thumbnail(), {}).ok());
  EXPECT_EQ(pool.started(), 2);
}

TEST(CodecPoolTest, AChildKilledFromOutsideIsRetriedAsOutOfMemory) {
  const CodecPool pool(StandIn({"/bin/sh", "-c", kHello + "kill -KILL $$"}), clock::RealClock());
  absl::StatusOr<imaging::Result> r = pool.Run("bytes", Thumbnail(), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(errors::ReasonOf(r.status()), "OutOfMemory") << r.status();
  EXPECT_TRUE(errors::IsRetriable(r.status()));
}

TEST(CodecPoolTest, AChildThatNeverAnswersIsStoppedAtTheLimit) {
  // Says hello, then reads nothing and never answers.
  const CodecPool pool(
      StandIn({"/bin/sh", "-c", kHello + "exec sleep 60"}, {.decode = absl::Milliseconds(200)}),
      clock::RealClock());
  const absl::Time start = absl::Now();
  absl::StatusOr<imaging::Result> r = pool.Run("bytes", Thumbnail(), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(errors::ReasonOf(r.status()), "TimeLimitExceeded") << r.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(10)) << "killed, not waited for";
}

TEST(CodecPoolTest, TheTimeLimitIsTheClocksDecision) {
  testing::FakeClock clock;
  const CodecPool pool(
      StandIn({"/bin/sh", "-c", kHello + "exec sleep 60"}, {.decode = absl::Hours(1)}), clock);
  ASSERT_TRUE(pool.Start().ok());  // started (and said hello) before the job: not timed
  absl::StatusOr<imaging::Result> r;
  absl::Notification done;
  std::thread job([&] {
    r = pool.Run("bytes", Thumbnail(), {});
    done.Notify();
  });
  // The stage's deadline is set when the request is sent; each move of the clock passes any
  // deadline set before it, so the run ends at the first move after the send.
  while (!done.WaitForNotificationWithTimeout(absl::Milliseconds(20))) {
    clock.Advance(absl::Hours(2));
  }
  job.join();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(errors::ReasonOf(r.status()), "TimeLimitExceeded") << r.status();
  EXPECT_NE(r.status().message().find("1h"), std::string::npos) << r.status();
}

TEST(CodecPoolTest, AChildThatDiesBeforeItStartsIsRetriable) {
  const CodecPool pool(StandIn({"/bin/sh", "-c", "exit 3"}), clock::RealClock());
  absl::StatusOr<imaging::Result> r = pool.Run("bytes", Thumbnail(), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(errors::ReasonOf(r.status()), "CodecUnavailable") << r.status();
  EXPECT_TRUE(errors::IsRetriable(r.status()));
}

TEST(CodecPoolTest, AMissingCodecIsRetriable) {
  const CodecPool pool(StandIn({"/nonexistent/pixq-worker", "codec"}), clock::RealClock());
  absl::StatusOr<imaging::Result> r = pool.Run("bytes", Thumbnail(), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(errors::ReasonOf(r.status()), "CodecUnavailable") << r.status();
  EXPECT_TRUE(errors::IsRetriable(r.status()));
  EXPECT_EQ(pool.started(), 0);
}

TEST(CodecPoolTest, RunsAsManyJobsAtOnceAsItHasSlots) {
  const std::string photo = ReadFile(kPhoto);
  const CodecPool pool(RealCodec({}, /*slots=*/2), clock::RealClock());
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&, i] {
      const std::vector<job::Step> steps = {job::Resize{.width = 400 + 50 * i}};
      absl::StatusOr<imaging::Result> r = pool.Run(photo, steps, {.format = job::Format::kWebp});
      if (r.ok() && r->width == 400 + 50 * i) ++ok;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), 6);
  EXPECT_LE(pool.started(), 2);
}

}  // namespace
}  // namespace pixq::isolate
