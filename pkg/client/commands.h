#pragma once

// The pixq CLI's commands, apart from parsing flags (cmd/pixq/main.cc): each talks to the API
// through a Client, prints what it did to `out` and what went wrong to `err`, and returns the
// process's exit status: 0 when everything worked, 1 when anything failed (with a summary of
// what and why on `err`). Nothing printed carries the API key.

#include <ostream>
#include <string>
#include <vector>

#include "pkg/client/client.h"
#include "pkg/client/process.h"
#include "pkg/client/progress.h"

namespace pixq::client {

// pixq process SRC… --out DIR: plans, runs, and sums up (process.h).
int ProcessCommand(Client& client, const ProcessOptions& options, Progress& progress,
                   std::ostream& out, std::ostream& err);
// pixq upload FILE…: one line per file, "<image id>  <file>".
int UploadCommand(Client& client, const std::vector<std::string>& files, const std::string& title,
                  std::ostream& out, std::ostream& err);
// pixq jobs [--phase P,Q] [--limit N]: a table of jobs, oldest first.
int JobsCommand(Client& client, const std::string& phases, int limit, std::ostream& out,
                std::ostream& err);
// pixq watch JOB: a line per change of phase until the job ends; 1 when it failed.
int WatchCommand(Client& client, const std::string& id, std::ostream& out, std::ostream& err);
// pixq retry JOB: the new attempt's phase and retry count.
int RetryCommand(Client& client, const std::string& id, std::ostream& out, std::ostream& err);
// pixq get JOB -o FILE: waits for the job's end and writes its output to FILE; 1 when it failed.
int GetCommand(Client& client, const std::string& id, const std::string& file, std::ostream& out,
               std::ostream& err);

}  // namespace pixq::client
