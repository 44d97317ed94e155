#pragma once

// pixq's configuration: plain structs, filled once at start. Only this library knows YAML and the
// environment. Sources, each overriding the one before: each key's default, one YAML file,
// environment variables PIXQ_<SECTION>_<KEY> (the YAML key upper-cased: kafka.bootstrap_servers is
// PIXQ_KAFKA_BOOTSTRAP_SERVERS). Validated once; an error names the key.
//
// Each key's default, bounds, environment variable and meaning are one row of the table in
// pkg/config/keys.cc (Keys()); README.md's configuration table says the same, and a test holds
// the two together. The members below are value-initialized only: Defaults() and Load give them
// their defaults.
//
// Tracing is configured apart, by OpenTelemetry's standard OTEL_* variables (tracing.h).

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

#include "pkg/observability/tracing_options.h"

namespace pixq::config {

struct KafkaConfig {
  std::string bootstrap_servers;  // "host:port,..."; empty → bootstrap_file
  std::string bootstrap_file;     // written by pixq-devbroker
  std::string topic_prefix;
  std::string consumer_group;
  int produce_timeout_ms{};
  int session_timeout_ms{};
  // The most one partition of a work topic may hold unconsumed, as the API's admission counts it:
  // 0 takes the topic's retention.bytes, or the local broker's 5 MiB and 100,000 message sets.
  // Set, the tighter of the two holds.
  int64_t partition_room_bytes{};
  int64_t partition_room_records{};
  // Extra librdkafka properties (security.protocol, sasl.*, ssl.*). In the environment:
  // PIXQ_KAFKA_PROPERTIES="k=v,k=v".
  std::map<std::string, std::string> properties;
};

struct StorageConfig {
  std::string root;
  int tmp_max_age_s{};
};

// pixq-api's table store (pkg/state/store.h).
struct StateConfig {
  std::string dir;  // empty: a private temporary directory, removed at stop
  int64_t max_bytes{};
  int snapshot_interval_s{};  // 0: no snapshots
};

struct HttpConfig {
  std::string address;
  int port{};  // 0: any free port
  int threads{};
  int64_t max_body_bytes{};
  int max_wait_s{};
};

struct LimitsConfig {
  int64_t max_pixels{};
  int max_steps{};
  int max_output_dimension{};
  int64_t max_json_bytes{};
  // How long each stage of a job may take in the worker's codec process before it is killed and
  // the job fails "TimeLimitExceeded" (isolate::CodecPool).
  int decode_timeout_ms{};
  int process_timeout_ms{};
  int encode_timeout_ms{};
};

struct WorkerConfig {
  std::string name;  // empty → "<hostname>-<pid>", filled by Load
  std::string address;
  int port{};
  // Jobs run at once; 0: the CPU limit (cgroup cpu.max, else the cores), decided at start.
  int concurrency{};
  // On SIGTERM (and when partitions are taken away), how long jobs in flight may take to finish.
  int shutdown_grace_s{};
};

// API keys and signed output URLs (../shared/DESIGN.md, API). Off in local development, on in the
// chart.
struct AuthConfig {
  bool enabled{};
  // SHA-256 (hex) of each accepted API key; the keys themselves are never configured.
  std::vector<std::string> api_key_sha256;
  // HMAC-SHA256 key for signed output URLs; empty: no signed URLs. Redacted by Render.
  std::string signing_key;
  int signed_url_ttl_s{};  // how long a signed URL handed out by the API stays valid
};

// How long job records and outputs are kept; `pixq-worker sweep` removes what is older (a timer
// locally, a CronJob in the cluster). 0: kept forever.
struct RetentionConfig {
  int64_t job_records_s{};
  int64_t outputs_s{};
};

// URL sources and webhook calls (pkg/fetch): limits, and the SSRF guard's exceptions.
struct FetchConfig {
  int connect_timeout_ms{};
  int timeout_ms{};  // the whole transfer
  int64_t max_bytes{};
  int max_redirects{};
  // Address ranges a download may reach although they are not public ("10.1.0.0/16", "fd00::/8",
  // "127.0.0.1"); everything else private, loopback, link-local etc. is refused.
  std::vector<std::string> allow;
};

// Transient failures (a download timing out, an origin answering 503) are tried again later on
// <prefix>jobs.retry, after a backoff doubling from backoff_ms up to max_backoff_ms; after
// max_attempts attempts in all the job fails and goes to <prefix>jobs.dlq.
struct RetryConfig {
  int max_attempts{};
  int backoff_ms{};
  int max_backoff_ms{};
};

// The callbackUrl of a job: its final JSON POSTed when it ends, signed, behind the SSRF guard
// (fetch.*), tried max_attempts times with a doubling backoff.
struct WebhookConfig {
  // HMAC-SHA256 key; the body's signature goes in X-Pixq-Signature-256: sha256=<hex>. Empty: not
  // signed. Redacted by Render.
  std::string secret;
  int max_attempts{};
  int backoff_ms{};
};

struct LogConfig {
  std::string level;  // debug | info | warn | error
};

struct Config {
  KafkaConfig kafka;
  StorageConfig storage;
  StateConfig state;
  HttpConfig http;
  LimitsConfig limits;
  WorkerConfig worker;
  AuthConfig auth;
  RetentionConfig retention;
  FetchConfig fetch;
  RetryConfig retry;
  WebhookConfig webhook;
  LogConfig log;
  // From the OTEL_* variables only (tracing.h); not in the YAML file nor in Render. An empty
  // service_name means: the binary's own name.
  observability::TracingOptions tracing;
};

// Every key at its default (worker.name still empty), tracing at OpenTelemetry's defaults.
[[nodiscard]] Config Defaults();

// Loads the YAML file at `path` (empty: defaults only), applies `env` (PIXQ_* and OTEL_*),
// validates.
// Errors: "InvalidConfig" naming the file or the key, e.g. "http.port: must be 0..65535, got -1",
// "kafka.bootstarp_servers: unknown key", "PIXQ_HTTP_PORT: must be an integer, got abc",
// "OTEL_TRACES_SAMPLER: unknown sampler ...".
[[nodiscard]] absl::StatusOr<Config> Load(std::string_view path,
                                          const std::map<std::string, std::string>& env);
[[nodiscard]] absl::StatusOr<Config> LoadFromString(std::string_view yaml,
                                                    const std::map<std::string, std::string>& env);

// The process environment as a map.
[[nodiscard]] std::map<std::string, std::string> ProcessEnvironment();

// The configuration as YAML that Load reads back, with secrets (auth.signing_key,
// webhook.secret, and
// kafka.properties values whose keys contain password, secret, sasl or key) shown as "<redacted>".
[[nodiscard]] std::string Render(const Config& config);

}  // namespace pixq::config
