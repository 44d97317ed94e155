#include "pkg/config/keys.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

#include "pkg/encoding/hex.h"
#include "pkg/fetch/address.h"

namespace pixq::config {
namespace {

// The section and name of a member of Config, and where it is.
#define PIXQ_KEY(section_, member)       \
  .section = #section_, .name = #member, \
  .target = [](Config& c) -> Target { return &c.section_.member; }

constexpr int64_t kDay = 86400;

std::optional<std::string> TopicPrefixRule(const Config& c) {
  for (char ch : c.kafka.topic_prefix) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '_' &&
        ch != '-') {
      return "may only contain letters, digits, . _ -";
    }
  }
  return std::nullopt;
}

const Key kKeys[] = {
    {PIXQ_KEY(kafka, bootstrap_servers), .default_value = "",
     .meaning = "`host:port,…`; empty means: read `kafka.bootstrap_file`",
     .check = [](const Config& c) -> std::optional<std::string> {
       if (c.kafka.bootstrap_servers.empty() && c.kafka.bootstrap_file.empty()) {
         return "is empty and so is kafka.bootstrap_file";
       }
       return std::nullopt;
     }},
    {PIXQ_KEY(kafka, bootstrap_file), .default_value = "var/pixq/kafka.bootstrap",
     .meaning = "written by `pixq-devbroker`"},
    {PIXQ_KEY(kafka, topic_prefix), .default_value = "pixq.",
     .meaning = "topics `<prefix>jobs`, `jobs.retry`, `jobs.dlq`, `job-status`, `images`",
     .check = TopicPrefixRule},
    {PIXQ_KEY(kafka, consumer_group), .default_value = "pixq-workers",
     .meaning = "the workers' group", .required = true},
    {PIXQ_KEY(kafka, produce_timeout_ms), .default_value = "5000",
     .meaning = "how long the API waits for Kafka's acknowledgement before `503`",
     .bounds = Bounds{100, 120000}},
    {PIXQ_KEY(kafka, session_timeout_ms), .default_value = "6000",
     .meaning = "consumer-group session timeout (rebalances take about this long)",
     .bounds = Bounds{1000, 300000}},
    {PIXQ_KEY(kafka, partition_room_bytes), .default_value = "0",
     .meaning = "bytes a partition of `jobs` or `jobs.retry` may hold unconsumed before the API "
                "refuses new jobs (at 80 %); `0`: the topic's `retention.bytes`, or the local "
                "broker's 5 MiB",
     .bounds = Bounds{0, int64_t{1} << 50}},
    {PIXQ_KEY(kafka, partition_room_records), .default_value = "0",
     .meaning = "records a partition of `jobs` or `jobs.retry` may hold unconsumed, likewise; "
                "`0`: no bound, or the local broker's 100,000",
     .bounds = Bounds{0, int64_t{1} << 50}},
    {PIXQ_KEY(kafka, properties), .default_value = "",
     .meaning = "extra librdkafka properties (`security.protocol`, `sasl.*`, …); values of keys "
                "containing "
                "password, secret, sasl or key are redacted by Render"},
    {PIXQ_KEY(storage, root), .default_value = "var/pixq",
     .meaning = "the shared volume: `originals/`, `outputs/`, `tmp/`", .required = true},
    {PIXQ_KEY(storage, tmp_max_age_s), .default_value = "3600",
     .meaning = "partial writes older than this are swept at start",
     .bounds = Bounds{60, 7 * kDay}},
    {PIXQ_KEY(state, dir), .default_value = "",
     .meaning = "pixq-api's table store (LMDB): the job and image records, their indexes and the "
                "offsets read, kept across restarts so that a restarted API reads only what is "
                "new; empty: a private temporary directory, removed at stop"},
    {PIXQ_KEY(state, max_bytes), .default_value = "68719476736",
     .meaning = "the most the table store may hold (LMDB's map: address space, not memory; the "
                "file grows as records are kept)",
     .bounds = Bounds{int64_t{1} << 24, int64_t{1} << 44}},
    {PIXQ_KEY(state, snapshot_interval_s), .default_value = "300",
     .meaning = "how often pixq-api writes a compact copy of its table store with its offsets to "
                "`<storage.root>/state-snapshots/` (one kept, replaced atomically), from which a "
                "replica whose store is empty starts and reads only the records after it; `0`: "
                "off (a new replica then reads the topics from their beginning)",
     .bounds = Bounds{0, kDay}},
    {PIXQ_KEY(http, address), .default_value = "0.0.0.0", .meaning = "where pixq-api listens",
     .required = true},
    {PIXQ_KEY(http, port), .default_value = "8080",
     .meaning = "pixq-api's port; `0`: any free port, logged", .bounds = Bounds{0, 65535}},
    {PIXQ_KEY(http, threads), .default_value = "4", .meaning = "HTTP threads",
     .bounds = Bounds{1, 256}},
    {PIXQ_KEY(http, max_body_bytes), .default_value = "52428800",
     .meaning = "upload limit, enforced while reading", .bounds = Bounds{1024, int64_t{4} << 30}},
    {PIXQ_KEY(http, max_wait_s), .default_value = "60", .meaning = "ceiling of `?wait=`",
     .bounds = Bounds{0, 3600}},
    {PIXQ_KEY(limits, max_pixels), .default_value = "100000000",
     .meaning = "width × height from the header, checked before any decode",
     .bounds = Bounds{1, int64_t{1} << 40}},
    {PIXQ_KEY(limits, max_steps), .default_value = "20", .meaning = "steps per job",
     .bounds = Bounds{1, 1000}},
    {PIXQ_KEY(limits, max_output_dimension), .default_value = "16384",
     .meaning = "largest width or height a step may ask for", .bounds = Bounds{1, 65535}},
    {PIXQ_KEY(limits, max_json_bytes), .default_value = "1048576", .meaning = "job spec size",
     .bounds = Bounds{256, int64_t{64} << 20}},
    {PIXQ_KEY(limits, decode_timeout_ms), .default_value = "30000",
     .meaning =
         "how long decoding one job's image may take in the codec process before it is killed "
         "(`TimeLimitExceeded`)",
     .bounds = Bounds{10, 3'600'000}},
    {PIXQ_KEY(limits, process_timeout_ms), .default_value = "30000",
     .meaning = "the same for the steps", .bounds = Bounds{10, 3'600'000}},
    {PIXQ_KEY(limits, encode_timeout_ms), .default_value = "30000",
     .meaning = "the same for encoding (with a `maxBytes` search)",
     .bounds = Bounds{10, 3'600'000}},
    {PIXQ_KEY(worker, name), .default_value = "",
     .meaning = "shown in job status as `worker`; empty: `<hostname>-<pid>`"},
    {PIXQ_KEY(worker, address), .default_value = "0.0.0.0",
     .meaning = "where the worker's probe port listens", .required = true},
    {PIXQ_KEY(worker, port), .default_value = "9090",
     .meaning = "the worker's probe port (`/healthz`, `/readyz`, `/metrics`)",
     .bounds = Bounds{0, 65535}},
    {PIXQ_KEY(worker, concurrency), .default_value = "0",
     .meaning = "pipelines a worker runs at once; `0`: its CPU limit (affinity, cgroup `cpu.max`)",
     .bounds = Bounds{0, 256}},
    {PIXQ_KEY(worker, shutdown_grace_s), .default_value = "30",
     .meaning = "on SIGTERM or a rebalance, how long jobs in flight may take to finish",
     .bounds = Bounds{0, 3600}},
    {PIXQ_KEY(auth, enabled), .default_value = "false",
     .meaning = "require an API key on every route but the probes"},
    {PIXQ_KEY(auth, api_key_sha256), .default_value = "",
     .meaning = "the accepted keys, each as the SHA-256 of the key in hex",
     .check = [](const Config& c) -> std::optional<std::string> {
       for (const std::string& hash : c.auth.api_key_sha256) {
         if (!encoding::IsLowerHex(hash, 64)) {
           return "each entry must be the SHA-256 of a key as 64 lower-case hex digits";
         }
       }
       if (c.auth.enabled && c.auth.api_key_sha256.empty()) {
         return "is empty while auth.enabled is true";
       }
       return std::nullopt;
     }},
    {PIXQ_KEY(auth, signing_key), .default_value = "",
     .meaning = "HMAC key (32+ characters) for signed output URLs; empty: none", .secret = true,
     .check = [](const Config& c) -> std::optional<std::string> {
       if (!c.auth.signing_key.empty() && c.auth.signing_key.size() < 32) {
         return "must be at least 32 characters";
       }
       return std::nullopt;
     }},
    {PIXQ_KEY(auth, signed_url_ttl_s), .default_value = "3600",
     .meaning = "how long a signed output URL stays valid", .bounds = Bounds{1, 366 * kDay}},
    {PIXQ_KEY(retention, job_records_s), .default_value = "604800",
     .meaning =
         "`pixq-worker sweep` forgets a finished job's record after this long; `0` keeps them",
     .bounds = Bounds{0, 3650 * kDay}},
    {PIXQ_KEY(retention, outputs_s), .default_value = "2592000",
     .meaning = "`pixq-worker sweep` removes an output file unused for this long; `0` keeps them",
     .bounds = Bounds{0, 3650 * kDay}},
    {PIXQ_KEY(fetch, connect_timeout_ms), .default_value = "5000",
     .meaning = "URL sources and webhook calls: connect timeout", .bounds = Bounds{100, 60000}},
    {PIXQ_KEY(fetch, timeout_ms), .default_value = "30000",
     .meaning = "URL sources and webhook calls: the whole transfer", .bounds = Bounds{100, 600000}},
    {PIXQ_KEY(fetch, max_bytes), .default_value = "52428800",
     .meaning = "a download larger than this fails (`SourceTooLarge`)",
     .bounds = Bounds{1024, int64_t{4} << 30}},
    {PIXQ_KEY(fetch, max_redirects), .default_value = "3",
     .meaning = "redirects followed (each checked by the SSRF guard)", .bounds = Bounds{0, 10}},
    {PIXQ_KEY(fetch, allow), .default_value = "",
     .meaning = "address ranges the SSRF guard lets through although not public",
     .check = [](const Config& c) -> std::optional<std::string> {
       for (const std::string& range : c.fetch.allow) {
         if (!fetch::ParseCidr(range).ok()) {
           return absl::StrCat("\"", range, "\" is not an address or a range like 10.0.0.0/8");
         }
       }
       return std::nullopt;
     }},
    {PIXQ_KEY(retry, max_attempts), .default_value = "5",
     .meaning = "attempts of a job that fails transiently before it goes to `<prefix>jobs.dlq`",
     .bounds = Bounds{1, 100}},
    {PIXQ_KEY(retry, backoff_ms), .default_value = "1000",
     .meaning = "the wait after the first failed attempt, doubling", .bounds = Bounds{10, 3600000}},
    {PIXQ_KEY(retry, max_backoff_ms), .default_value = "60000",
     .meaning = "the ceiling of that wait", .bounds = Bounds{0, 86400000, "retry.backoff_ms"}},
    {PIXQ_KEY(webhook, secret), .default_value = "",
     .meaning = "HMAC-SHA256 key for signing job callbacks; empty: unsigned", .secret = true},
    {PIXQ_KEY(webhook, max_attempts), .default_value = "3",
     .meaning = "attempts of a job callback that fails transiently", .bounds = Bounds{1, 10}},
    {PIXQ_KEY(webhook, backoff_ms), .default_value = "1000",
     .meaning = "the wait between them, doubling", .bounds = Bounds{10, 60000}},
    {PIXQ_KEY(log, level), .default_value = "info", .meaning = "`debug`, `info`, `warn`, `error`",
     .check = [](const Config& c) -> std::optional<std::string> {
       const std::string& l = c.log.level;
       if (l != "debug" && l != "info" && l != "warn" && l != "error") {
         return absl::StrCat("must be debug, info, warn or error, got \"", l, "\"");
       }
       return std::nullopt;
     }},
};

#undef PIXQ_KEY

constexpr const char* kSections[] = {"kafka", "storage",   "state", "http",  "limits",  "worker",
                                     "auth",  "retention", "fetch", "retry", "webhook", "log"};

}  // namespace

std::string Key::Dotted() const { return absl::StrCat(section, ".", name); }

std::string Key::EnvName() const {
  return absl::AsciiStrToUpper(absl::StrCat("PIXQ_", section, "_", name));
}

std::span<const Key> Keys() { return kKeys; }

std::span<const char* const> Sections() { return kSections; }

}  // namespace pixq::config
