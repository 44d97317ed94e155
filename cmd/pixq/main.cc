// pixq: the command-line client. Wiring only: flags (CLI11) to pkg/client's commands over a
// libcurl transport and the real clock.

#include <iostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include <CLI/CLI.hpp>
#include <unistd.h>

#include "pkg/client/client.h"
#include "pkg/client/commands.h"
#include "pkg/client/process.h"
#include "pkg/client/progress.h"
#include "pkg/client/transport.h"
#include "pkg/clock/clock.h"

int main(int argc, char** argv) {
  CLI::App app{"pixq: images through a pixq API, from a terminal or a script"};
  app.require_subcommand(1);
  std::string url = "http://127.0.0.1:8080";
  std::string api_key;
  app.add_option("--url", url, "the API's address (default http://127.0.0.1:8080)")
      ->envname("PIXQ_URL");
  // Read from the flag or the environment, sent as a bearer token, never printed.
  app.add_option("--api-key", api_key, "API key, when the API has auth on")
      ->envname("PIXQ_API_KEY");

  pixq::client::ProcessOptions process;
  std::string resize;
  CLI::App* process_cmd =
      app.add_subcommand("process", "upload files or folders, run one batch, download the outputs")
          ->fallthrough();
  process_cmd->add_option("sources", process.sources, "image files and folders")->required();
  process_cmd->add_option("--out,-o", process.out_dir, "folder for the outputs")->required();
  process_cmd->add_option("--resize", resize, "fit inside WIDTHxHEIGHT (800x800, 800x, x600)");
  process_cmd->add_option("--fit", process.fit, "inside (default), cover or fill")
      ->check(CLI::IsMember({"inside", "cover", "fill"}));
  process_cmd->add_option("--format", process.format, "jpeg, png or webp (default)")
      ->check(CLI::IsMember({"jpeg", "jpg", "png", "webp"}));
  process_cmd->add_option("--quality", process.quality, "1-100 (default: the format's)")
      ->check(CLI::Range(1, 100));

  std::vector<std::string> files;
  std::string title;
  CLI::App* upload_cmd =
      app.add_subcommand("upload", "upload images, print their ids")->fallthrough();
  upload_cmd->add_option("files", files, "image files")->required();
  upload_cmd->add_option("--title", title, "title for every file (default: its name)");

  std::string phases;
  int limit = 50;
  CLI::App* jobs_cmd = app.add_subcommand("jobs", "list jobs, oldest first")->fallthrough();
  jobs_cmd->add_option("--phase", phases, "Pending,Running,Succeeded,Failed (any of them)");
  jobs_cmd->add_option("--limit", limit, "at most this many (default 50)")
      ->check(CLI::Range(1, 1000));

  std::string job;
  CLI::App* watch_cmd =
      app.add_subcommand("watch", "follow a job until it ends (exit 1 if it failed)")
          ->fallthrough();
  watch_cmd->add_option("job", job, "job id")->required();
  CLI::App* retry_cmd = app.add_subcommand("retry", "run a failed job again")->fallthrough();
  retry_cmd->add_option("job", job, "job id")->required();
  std::string output_file;
  CLI::App* get_cmd =
      app.add_subcommand("get", "wait for a job and write its output")->fallthrough();
  get_cmd->add_option("job", job, "job id")->required();
  get_cmd->add_option("--output,-o", output_file, "file to write")->required();

  CLI11_PARSE(app, argc, argv);

  if (!resize.empty()) {
    if (absl::Status parsed = pixq::client::ParseResize(resize, process.width, process.height);
        !parsed.ok()) {
      std::cerr << "pixq: " << parsed.message() << "\n";
      return 2;
    }
  }
  pixq::client::CurlTransport transport(url, api_key);
  pixq::clock::Clock& clock = pixq::clock::RealClock();
  pixq::client::Client api(transport, clock);
  if (process_cmd->parsed()) {
    pixq::client::Progress progress(std::cerr, ::isatty(STDERR_FILENO) == 1, clock);
    return pixq::client::ProcessCommand(api, process, progress, std::cout, std::cerr);
  }
  if (upload_cmd->parsed())
    return pixq::client::UploadCommand(api, files, title, std::cout, std::cerr);
  if (jobs_cmd->parsed())
    return pixq::client::JobsCommand(api, phases, limit, std::cout, std::cerr);
  if (watch_cmd->parsed()) return pixq::client::WatchCommand(api, job, std::cout, std::cerr);
  if (retry_cmd->parsed()) return pixq::client::RetryCommand(api, job, std::cout, std::cerr);
  if (get_cmd->parsed())
    return pixq::client::GetCommand(api, job, output_file, std::cout, std::cerr);
  return 2;
}
