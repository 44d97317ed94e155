#include "pkg/isolate/codec.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <optional>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pkg/errors/errors.h"
#include "pkg/job/json.h"

extern char** environ;

namespace pixq::isolate {
namespace {

using nlohmann::json;

constexpr size_t kFrameHead = 13;  // type, header length, payload length
constexpr absl::Duration kStartTimeout = absl::Seconds(30);
// Bounds on what either side accepts. The worker trusts its child no further than it must: a
// header is a few hundred bytes of JSON, a result at most an uncompressed 16384² RGBA image.
constexpr uint32_t kMaxHeader = 64 << 10;
constexpr uint64_t kMaxPayload = uint64_t{1} << 30;

struct Frame {
  char type = 0;
  std::string header;
  std::string payload;
};

std::string Head(char type, size_t header, size_t payload) {
  std::string head(kFrameHead, '\0');
  head[0] = type;
  for (int i = 0; i < 4; ++i) head[1 + i] = static_cast<char>((header >> (8 * i)) & 0xff);
  for (int i = 0; i < 8; ++i)
    head[5 + i] = static_cast<char>((uint64_t{payload} >> (8 * i)) & 0xff);
  return head;
}

// Reads the lengths of a frame head; false when they are out of bounds.
bool ParseHead(std::string_view head, Frame& frame, uint32_t& header, uint64_t& payload) {
  frame.type = head[0];
  header = 0;
  payload = 0;
  for (int i = 3; i >= 0; --i) header = (header << 8) | static_cast<uint8_t>(head[1 + i]);
  for (int i = 7; i >= 0; --i) payload = (payload << 8) | static_cast<uint8_t>(head[5 + i]);
  return header <= kMaxHeader && payload <= kMaxPayload;
}

// --- the worker's side: non-blocking, every wait bounded by a deadline ---

// DeadlineExceeded when the deadline passes on `clock`; Unavailable when the child has gone (EOF,
// reset). The poll itself waits in real time (on a real child), a slice at a time, so that the
// decision is the clock's: a test's clock that jumps past the deadline ends the wait.
absl::Status WaitFor(int fd, short events, absl::Time deadline, const clock::Clock& clock) {
  while (true) {
    const absl::Duration left = deadline - clock.Now();
    if (left <= absl::ZeroDuration()) return absl::DeadlineExceededError("time limit");
    pollfd p{.fd = fd, .events = events, .revents = 0};
    const int ms = static_cast<int>(
        std::min(absl::ToInt64Milliseconds(left) + 1, absl::ToInt64Milliseconds(kDeadlineCheck)));
    const int n = poll(&p, 1, ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::UnavailableError(absl::StrCat("poll: ", std::strerror(errno)));
    if (n > 0) return absl::OkStatus();  // ready, or an error/hang-up the next call reports
  }
}

// Where the exchange with one child stands: its socket and the current stage's deadline.
struct Wire {
  int fd = -1;
  absl::Time deadline;
  const clock::Clock& clock;
};

absl::Status SendAll(const Wire& wire, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = send(wire.fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      PIXQ_RETURN_IF_ERROR(WaitFor(wire.fd, POLLOUT, wire.deadline, wire.clock));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return absl::UnavailableError(absl::StrCat("send: ", std::strerror(errno)));
    }
  }
  return absl::OkStatus();
}

absl::Status ReceiveAll(const Wire& wire, char* out, size_t size) {
  while (size > 0) {
    const ssize_t n = recv(wire.fd, out, size, 0);
    if (n > 0) {
      out += n;
      size -= static_cast<size_t>(n);
    } else if (n == 0) {
      return absl::UnavailableError("the codec process closed its socket");
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      PIXQ_RETURN_IF_ERROR(WaitFor(wire.fd, POLLIN, wire.deadline, wire.clock));
    } else if (errno != EINTR) {
      return absl::UnavailableError(absl::StrCat("recv: ", std::strerror(errno)));
    }
  }
  return absl::OkStatus();
}

absl::Status SendFrame(const Wire& wire, char type, std::string_view header,
                       std::string_view payload) {
  PIXQ_RETURN_IF_ERROR(SendAll(wire, Head(type, header.size(), payload.size())));
  PIXQ_RETURN_IF_ERROR(SendAll(wire, header));
  return SendAll(wire, payload);
}

absl::StatusOr<Frame> ReceiveFrame(const Wire& wire) {
  std::array<char, kFrameHead> head{};
  PIXQ_RETURN_IF_ERROR(ReceiveAll(wire, head.data(), head.size()));
  Frame frame;
  uint32_t header = 0;
  uint64_t payload = 0;
  if (!ParseHead(std::string_view(head.data(), head.size()), frame, header, payload)) {
    return absl::InternalError("the codec process sent a frame out of bounds");
  }
  frame.header.resize(header);
  frame.payload.resize(payload);
  PIXQ_RETURN_IF_ERROR(ReceiveAll(wire, frame.header.data(), header));
  PIXQ_RETURN_IF_ERROR(ReceiveAll(wire, frame.payload.data(), payload));
  return frame;
}

// --- the child's side: blocking ---

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool WriteFrame(int fd, char type, std::string_view header, std::string_view payload) {
  return WriteAll(fd, Head(type, header.size(), payload.size())) && WriteAll(fd, header) &&
         WriteAll(fd, payload);
}

// 0: complete; 1: end of stream before the first byte; -1: an error or a cut-off.
int ReadAll(int fd, char* out, size_t size) {
  const size_t wanted = size;
  while (size > 0) {
    const ssize_t n = read(fd, out, size);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 && size == wanted) return 1;
    if (n <= 0) return -1;
    out += n;
    size -= static_cast<size_t>(n);
  }
  return 0;
}

// nullopt at the end of the stream; an error for a broken one.
absl::StatusOr<std::optional<Frame>> ReadFrame(int fd) {
  std::array<char, kFrameHead> head{};
  const int got = ReadAll(fd, head.data(), head.size());
  if (got == 1) return std::nullopt;
  if (got < 0) return absl::UnavailableError("the worker's socket broke");
  Frame frame;
  uint32_t header = 0;
  uint64_t payload = 0;
  if (!ParseHead(std::string_view(head.data(), head.size()), frame, header, payload)) {
    return absl::InvalidArgumentError("a frame out of bounds");
  }
  frame.header.resize(header);
  frame.payload.resize(payload);
  if (ReadAll(fd, frame.header.data(), header) != 0 ||
      ReadAll(fd, frame.payload.data(), payload) != 0) {
    return absl::UnavailableError("the worker's socket broke");
  }
  return std::optional<Frame>(std::move(frame));
}

// --- what crosses the socket ---

// A source id the spec's validation accepts; the child never looks at it.
constexpr char kAnyImage[] = "0000000000000000000000000000000000000000000000000000000000000000";

std::string RequestHeader(const std::vector<job::Step>& steps, const job::OutputSpec& output) {
  job::JobSpec spec;
  spec.source.image_id = kAnyImage;
  spec.steps = steps;
  spec.output = output;
  return job::ToJson(spec).dump();
}

json Times(const imaging::Interval& interval) {
  return {{"name", interval.name},
          {"start", absl::ToUnixNanos(interval.start)},
          {"end", absl::ToUnixNanos(interval.end)}};
}

imaging::Interval IntervalFrom(const json& j) {
  return {j.at("name").get<std::string>(), absl::FromUnixNanos(j.at("start").get<int64_t>()),
          absl::FromUnixNanos(j.at("end").get<int64_t>())};
}

std::string ResultHeader(const imaging::Result& result) {
  json steps = json::array();
  for (const imaging::Interval& step : result.steps) steps.push_back(Times(step));
  return json{{"format", static_cast<int>(result.format)},
              {"width", result.width},
              {"height", result.height},
              {"quality", result.quality},
              {"decode_scale", result.decode_scale},
              {"decode", Times(result.decode)},
              {"steps", std::move(steps)},
              {"encode", Times(result.encode)}}
      .dump();
}

absl::StatusOr<imaging::Result> ResultFrom(Frame frame) {
  const json j = json::parse(frame.header, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return absl::InternalError("the codec process sent an unreadable result");
  try {
    imaging::Result result;
    result.bytes = std::move(frame.payload);
    result.format = static_cast<job::Format>(j.at("format").get<int>());
    result.width = j.at("width").get<int>();
    result.height = j.at("height").get<int>();
    result.quality = j.at("quality").get<int>();
    result.decode_scale = j.at("decode_scale").get<int>();
    result.decode = IntervalFrom(j.at("decode"));
    for (const json& step : j.at("steps")) result.steps.push_back(IntervalFrom(step));
    result.encode = IntervalFrom(j.at("encode"));
    return result;
  } catch (const json::exception& e) {
    return absl::InternalError(
        absl::StrCat("the codec process sent an unreadable result: ", e.what()));
  }
}

std::string ErrorHeader(const absl::Status& status) {
  return json{{"code", static_cast<int>(status.code())},
              {"reason", errors::ReasonOf(status)},
              {"message", std::string(status.message())}}
      .dump();
}

absl::Status ErrorFrom(const Frame& frame) {
  const json j = json::parse(frame.header, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.value("code", json()).is_number_integer()) {
    return absl::InternalError("the codec process sent an unreadable error");
  }
  const int code = j["code"].get<int>();
  if (code <= 0 || code > static_cast<int>(absl::StatusCode::kUnauthenticated)) {
    return absl::InternalError("the codec process sent an unreadable error");
  }
  return errors::FromParts(static_cast<absl::StatusCode>(code), j.value("reason", ""),
                           j.value("message", ""));
}

// How a child that went away ended, reaped: it has closed its socket, so it is about to exit if
// it has not; one that still lives after a while is killed. `killed_by_sigkill`: something else
// killed it with SIGKILL (the OOM killer), not this function.
std::string Reap(pid_t pid, bool& killed_by_sigkill) {
  int status = 0;
  pid_t got = 0;
  for (int i = 0; i < 100 && got == 0; ++i) {
    got = waitpid(pid, &status, WNOHANG);
    if (got == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  killed_by_sigkill = false;
  if (got == 0) {
    kill(pid, SIGKILL);
    got = waitpid(pid, &status, 0);
    return "closed its socket but did not exit, and was killed";
  }
  if (got != pid) return "went away";
  if (WIFSIGNALED(status)) {
    killed_by_sigkill = WTERMSIG(status) == SIGKILL;
    return absl::StrCat("was killed by signal ", WTERMSIG(status), " (",
                        strsignal(WTERMSIG(status)), ")");
  }
  return absl::StrCat("exited with status ", WEXITSTATUS(status));
}

void Kill(pid_t pid) {
  if (pid <= 0) return;  // reaped already: the number may belong to another process by now
  kill(pid, SIGKILL);
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

CodecPool::CodecPool(CodecOptions options, clock::Clock& clock)
    : options_(std::move(options)), clock_(clock) {
  options_.slots = std::max(1, options_.slots);
}

CodecPool::~CodecPool() {
  std::lock_guard<std::mutex> lock(mu_);
  for (const Child& child : idle_) close(child.fd);  // each child reads the end and exits
  for (const Child& child : idle_) {
    bool sigkill = false;
    Reap(child.pid, sigkill);
  }
}

int64_t CodecPool::started() const {
  std::lock_guard<std::mutex> lock(mu_);
  return started_;
}

absl::StatusOr<CodecPool::Child> CodecPool::Spawn() const {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return errors::Make(errors::Reason::kCodecUnavailable,
                        absl::StrCat("socketpair: ", std::strerror(errno)));
  }
  // dup2 onto kCodecFd clears close-on-exec on the copy, unless the end already is kCodecFd.
  int theirs = fds[1];
  if (theirs == kCodecFd) {
    theirs = fcntl(fds[1], F_DUPFD_CLOEXEC, kCodecFd + 1);
    close(fds[1]);
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, theirs, kCodecFd);
  posix_spawn_file_actions_addclosefrom_np(&actions, kCodecFd + 1);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t blocked;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGINT);
  sigaddset(&blocked, SIGTERM);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigmask(&attr, &blocked);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> argv;
  for (const std::string& arg : options_.command) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const std::string& executable = options_.executable.empty() && !options_.command.empty()
                                      ? options_.command[0]
                                      : options_.executable;
  const int rc = options_.command.empty()
                     ? ENOENT
                     : posix_spawn(&pid, executable.c_str(), &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(theirs);
  if (rc != 0) {
    close(fds[0]);
    return errors::Make(errors::Reason::kCodecUnavailable,
                        absl::StrCat("cannot start the codec process ",
                                     options_.command.empty() ? "(none configured)" : executable,
                                     ": ", std::strerror(rc)));
  }
  fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
  // Ready once it says so: its start-up (loading, configuration) is not counted against a job.
  const Child child{.pid = pid, .fd = fds[0]};
  absl::StatusOr<Frame> hello =
      ReceiveFrame({.fd = child.fd, .deadline = clock_.Now() + kStartTimeout, .clock = clock_});
  if (!hello.ok() || hello->type != 'H') {
    close(child.fd);
    Kill(child.pid);
    return errors::Make(errors::Reason::kCodecUnavailable,
                        absl::StrCat("the codec process ", executable, " did not start: ",
                                     hello.ok() ? "it sent something else"
                                                : std::string(hello.status().message())));
  }
  return child;
}

absl::StatusOr<CodecPool::Child> CodecPool::Acquire() const {
  {
    std::unique_lock<std::mutex> lock(mu_);
    freed_.wait(lock, [this] { return !idle_.empty() || live_ < options_.slots; });
    while (!idle_.empty()) {
      Child child = idle_.back();
      idle_.pop_back();
      // One that died while idle is replaced rather than handed a job it would fail.
      if (waitpid(child.pid, nullptr, WNOHANG) == 0) return child;
      close(child.fd);
      --live_;
    }
    ++live_;
    ++started_;
  }
  absl::StatusOr<Child> child = Spawn();
  if (!child.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    --live_;
    --started_;
    freed_.notify_one();
  }
  return child;
}

void CodecPool::Release(Child child, bool reusable) const {
  if (!reusable) {
    close(child.fd);
    Kill(child.pid);
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (reusable) {
    idle_.push_back(child);
  } else {
    --live_;
  }
  freed_.notify_one();
}

absl::Status CodecPool::Start() const {
  absl::StatusOr<Child> child = Acquire();
  if (!child.ok()) return child.status();
  Release(*child, /*reusable=*/true);
  return absl::OkStatus();
}

absl::StatusOr<imaging::Result> CodecPool::Run(std::string_view input,
                                               const std::vector<job::Step>& steps,
                                               const job::OutputSpec& output) const {
  absl::StatusOr<Child> child = Acquire();
  if (!child.ok()) return child.status();
  bool reusable = false;
  absl::StatusOr<imaging::Result> result = Exchange(*child, input, steps, output, reusable);
  // A child that broke off is killed (if Exchange has not reaped it) and replaced next time.
  Release(*child, reusable);
  return result;
}

absl::StatusOr<imaging::Result> CodecPool::Exchange(Child& child, std::string_view input,
                                                    const std::vector<job::Step>& steps,
                                                    const job::OutputSpec& output,
                                                    bool& reusable) const {
  reusable = false;
  const char* stage = "decoding";
  absl::Duration limit = options_.limits.decode;
  Wire wire{.fd = child.fd, .deadline = clock_.Now() + limit, .clock = clock_};
  // A broken exchange: over the time limit, or the child gone. The caller kills what is left.
  auto broken = [&](const absl::Status& io) -> absl::Status {
    if (absl::IsDeadlineExceeded(io)) {
      return errors::Make(errors::Reason::kTimeLimitExceeded,
                          absl::StrCat(stage, " took longer than ", absl::FormatDuration(limit),
                                       "; the codec process was stopped"));
    }
    if (absl::IsInternal(io)) {
      return errors::Make(errors::Reason::kCodecCrashed, std::string(io.message()));
    }
    bool sigkill = false;
    const std::string how = Reap(child.pid, sigkill);
    child.pid = -1;
    if (sigkill) {
      return errors::Make(errors::Reason::kOutOfMemory,
                          absl::StrCat("the codec process ", how, " while ", stage,
                                       " (the out-of-memory killer?)"));
    }
    // Retriable: the crash may be another job's doing (a child serves many), so the job gets its
    // attempts; an input that crashes the codec every time ends in the dead-letter topic.
    return errors::Make(errors::Reason::kCodecCrashed,
                        absl::StrCat("the codec process ", how, " while ", stage));
  };
  if (absl::Status sent = SendFrame(wire, 'Q', RequestHeader(steps, output), input); !sent.ok()) {
    return broken(sent);
  }
  char expected = 'D';  // then 'S', then the answer; each stage marker once, in order
  while (true) {
    absl::StatusOr<Frame> frame = ReceiveFrame(wire);
    if (!frame.ok()) return broken(frame.status());
    if ((frame->type == 'D' || frame->type == 'S') && frame->type != expected) {
      return broken(absl::InternalError("the codec process sent its stages out of order"));
    }
    switch (frame->type) {
      case 'D':
        expected = 'S';
        stage = "the steps";
        limit = options_.limits.process;
        wire.deadline = clock_.Now() + limit;
        break;
      case 'S':
        expected = 'R';
        stage = "encoding";
        limit = options_.limits.encode;
        wire.deadline = clock_.Now() + limit;
        break;
      case 'R':
        reusable = true;
        return ResultFrom(*std::move(frame));
      case 'E':
        reusable = true;
        return ErrorFrom(*frame);
      default:
        return broken(absl::InternalError("the codec process sent an unknown frame"));
    }
  }
}

int ServeCodec(int fd, const imaging::Pipeline& pipeline) {
  imaging::KeepImageBuffers();  // one job after another: each reuses the last one's buffers
  // A child must not outlive its worker, even mid-job (a worker killed, or one that gave up on
  // its jobs after the grace period): when the worker's end of the socket closes, exit at once.
  std::thread([fd] {
    pollfd p{.fd = fd, .events = POLLRDHUP, .revents = 0};
    while (poll(&p, 1, -1) < 0 && errno == EINTR) {
    }
    _exit(0);
  }).detach();
  if (!WriteFrame(fd, 'H', "", "")) return 1;
  while (true) {
    absl::StatusOr<std::optional<Frame>> request = ReadFrame(fd);
    if (!request.ok()) return 1;
    if (!request->has_value()) return 0;  // the worker closed the socket: done
    const Frame& q = **request;
    if (q.type != 'Q') return 1;
    // Generous validation: the API validated the job against the configured limits, and the
    // pipeline applies its own.
    absl::StatusOr<job::JobSpec> spec = job::JobSpecFromJson(
        json::parse(q.header, nullptr, /*allow_exceptions=*/false),
        job::ValidationLimits{.max_steps = INT_MAX, .max_output_dimension = 65535});
    if (!spec.ok()) {
      if (!WriteFrame(fd, 'E', ErrorHeader(spec.status()), "")) return 1;
      continue;
    }
    bool written = true;
    absl::StatusOr<imaging::Result> result =
        pipeline.Run(q.payload, spec->steps, spec->output, [&](imaging::Stage stage) {
          written =
              written && WriteFrame(fd, stage == imaging::Stage::kDecoded ? 'D' : 'S', "", "");
        });
    if (!written) return 1;
    const bool sent = result.ok() ? WriteFrame(fd, 'R', ResultHeader(*result), result->bytes)
                                  : WriteFrame(fd, 'E', ErrorHeader(result.status()), "");
    if (!sent) return 1;
  }
}

}  // namespace pixq::isolate
