// pixq-bench-pipeline: issue 7, target 1 ("per image").
//   measure [--box N] [--warmup N] [--repeats N] [--formats jpeg,webp,png] [--codec PATH] FILE...
//       times imaging::Pipeline::Run on one thread; one JSON line per file and output format.
//       With --codec (a pixq-worker binary): isolate::CodecPool instead, one `PATH codec` child,
//       the path the worker's jobs take (see pkg/isolate/codec.h).
//   report --files F --pixq F --vips F --tjbench F --meta F --json OUT --md OUT
//       writes the results (see report.h). bench/pipeline/run.sh drives both.

#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "bench/pipeline/measure.h"
#include "bench/pipeline/report.h"
#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <unistd.h>

#include "pkg/clock/clock.h"
#include "pkg/imaging/pipeline.h"
#include "pkg/isolate/codec.h"
#include "pkg/job/spec.h"

int main(int argc, char** argv) {
  namespace bp = pixq::bench::pipeline;
  CLI::App app("pixq's pipeline per image, against vipsthumbnail and the libjpeg-turbo floor");
  app.require_subcommand(1);

  CLI::App* measure = app.add_subcommand("measure", "time Pipeline::Run on each file");
  bp::MeasureOptions options;
  std::string format_list = "jpeg,webp,png";
  std::vector<std::string> paths;
  std::string codec;
  measure->add_option("--box", options.box, "fit inside box × box")->check(CLI::Range(1, 16384));
  measure->add_option("--warmup", options.warmup, "untimed runs")->check(CLI::Range(0, 1000));
  measure->add_option("--repeats", options.repeats, "timed runs")->check(CLI::Range(1, 10000));
  measure->add_option("--formats", format_list, "output formats, comma-separated");
  measure
      ->add_option("--codec", codec,
                   "a pixq-worker binary: time its codec process (isolate::CodecPool)")
      ->check(CLI::ExistingFile);
  measure->add_option("files", paths, "images")->required();

  CLI::App* report = app.add_subcommand("report", "write pipeline.json and pipeline.md");
  bp::ReportInputs inputs;
  std::string json_out, md_out;
  report->add_option("--files", inputs.files)->required();
  report->add_option("--pixq", inputs.pixq)->required();
  report->add_option("--vips", inputs.vips)->required();
  report->add_option("--tjbench", inputs.tjbench)->required();
  report->add_option("--meta", inputs.meta)->required();
  report->add_option("--json", json_out)->required();
  report->add_option("--md", md_out)->required();

  CLI11_PARSE(app, argc, argv);

  if (*report) {
    if (absl::Status s = bp::WriteReport(inputs, json_out, md_out); !s.ok()) {
      std::cerr << "pixq-bench-pipeline report: " << s << "\n";
      return 1;
    }
    return 0;
  }

  std::vector<pixq::job::Format> formats;
  const std::vector<std::string> format_names = absl::StrSplit(format_list, ',');
  for (const std::string& name : format_names) {
    std::optional<pixq::job::Format> f = pixq::job::ParseFormat(name);
    if (!f) {
      std::cerr << "pixq-bench-pipeline measure: --formats: unknown format " << name << "\n";
      return 2;
    }
    formats.push_back(*f);
  }
  pixq::imaging::SetOpenCvThreads(1);
  // In process as in the worker's codec processes (which set it themselves).
  pixq::imaging::KeepImageBuffers();

  // The rows go to standard output. A codec child inherits this process's descriptors and logs
  // to its standard output, so when there is one the rows keep a copy of it and fd 1 becomes
  // standard error: nothing the child writes can land among them.
  FILE* rows_out = stdout;
  std::unique_ptr<pixq::isolate::CodecPool> pool;
  std::optional<pixq::imaging::Pipeline> pipeline;
  const pixq::imaging::Engine* engine = nullptr;
  const char* engine_name = bp::kInProcess;
  if (!codec.empty()) {
    std::fflush(stdout);
    const int copy = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 0);  // not the child's to inherit
    rows_out = copy < 0 ? nullptr : fdopen(copy, "w");
    if (rows_out == nullptr || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
      std::perror("pixq-bench-pipeline measure: standard output");
      return 1;
    }
    // One child, as in a worker with one job slot. Started without --config, it takes the
    // defaults (and any PIXQ_<SECTION>_<KEY> in the environment; run.sh clears those that
    // matter): worker.concurrency 0 means one job per CPU, and cmd/worker/main.cc gives OpenCV
    // cpus / concurrency threads, so the child runs on one thread, as the in-process figures do.
    pool = std::make_unique<pixq::isolate::CodecPool>(
        pixq::isolate::CodecOptions{.command = {codec, "codec"}, .slots = 1},
        pixq::clock::RealClock());
    engine = pool.get();
    engine_name = bp::kCodecProcess;
    if (absl::Status s = bp::StartEngine(*engine, paths.front(), options); !s.ok()) {
      std::cerr << "pixq-bench-pipeline measure: " << s << "\n";
      return 1;
    }
  } else {
    pipeline.emplace(pixq::imaging::Limits{});
    engine = &*pipeline;
  }
  for (const std::string& path : paths) {
    absl::StatusOr<std::vector<nlohmann::json>> rows =
        bp::MeasureFile(*engine, engine_name, path, formats, options);
    if (!rows.ok()) {
      std::cerr << "pixq-bench-pipeline measure: " << rows.status() << "\n";
      return 1;
    }
    for (nlohmann::json& row : *rows) {
      // More than one child started means one died (or was killed) on the way: say so.
      if (pool != nullptr) row["codec_children_started"] = pool->started();
      const std::string line = row.dump() + "\n";
      if (std::fwrite(line.data(), 1, line.size(), rows_out) != line.size() ||
          std::fflush(rows_out) != 0) {
        std::perror("pixq-bench-pipeline measure: writing the rows");
        return 1;
      }
    }
  }
  return 0;
}
