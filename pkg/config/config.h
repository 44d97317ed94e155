#pragma once

// pixq's configuration: plain structs with defaults. Only this library knows YAML and the
// environment. Sources, each overriding the one before: defaults, one YAML file, environment
// variables PIXQ_<SECTION>_<KEY> (the YAML key upper-cased: kafka.bootstrap_servers is
// PIXQ_KAFKA_BOOTSTRAP_SERVERS). Validated once; an error names the key.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace pixq::config {

struct KafkaConfig {
  std::string bootstrap_servers;                            // "host:port,..."; empty → the file
  std::string bootstrap_file = "var/pixq/kafka.bootstrap";  // written by pixq-devbroker
  std::string topic_prefix = "pixq.";
  std::string consumer_group = "pixq-workers";
  int produce_timeout_ms = 5000;  // 100..120000
  int session_timeout_ms = 6000;  // 1000..300000
  // Extra librdkafka properties (security.protocol, sasl.*, ssl.*). In the environment:
  // PIXQ_KAFKA_PROPERTIES="k=v,k=v".
  std::map<std::string, std::string> properties;
};

struct StorageConfig {
  std::string root = "var/pixq";
  int tmp_max_age_s = 3600;
};

struct HttpConfig {
  std::string address = "0.0.0.0";
  int port = 8080;  // 0: any free port
  int threads = 4;
  int64_t max_body_bytes = 50 << 20;
  int max_wait_s = 60;
};

struct LimitsConfig {
  int64_t max_pixels = 100'000'000;
  int max_steps = 20;
  int max_output_dimension = 16384;
  int64_t max_json_bytes = 1 << 20;
  // How long each stage of a job may take in the worker's codec process before it is killed and
  // the job fails "TimeLimitExceeded" (isolate::CodecPool).
  int decode_timeout_ms = 30'000;
  int process_timeout_ms = 30'000;
  int encode_timeout_ms = 30'000;
};

struct WorkerConfig {
  std::string name;  // empty → "<hostname>-<pid>", filled by Load
  std::string address = "0.0.0.0";
  int port = 9090;
  // Jobs run at once; 0: the CPU limit (cgroup cpu.max, else the cores), decided at start.
  int concurrency = 0;
  // On SIGTERM (and when partitions are taken away), how long jobs in flight may take to finish.
  int shutdown_grace_s = 30;
};

// API keys and signed output URLs (DESIGN.md, API). Off in local development, on in the chart.
struct AuthConfig {
  bool enabled = false;
  // SHA-256 (hex) of each accepted API key; the keys themselves are never configured. In the
  // environment: PIXQ_AUTH_API_KEY_SHA256="hex,hex" (the chart fills it from a Secret).
  std::vector<std::string> api_key_sha256;
  // HMAC-SHA256 key for signed output URLs (at least 32 characters); empty: no signed URLs.
  // Secret: redacted by Render. PIXQ_AUTH_SIGNING_KEY.
  std::string signing_key;
  int signed_url_ttl_s = 3600;  // how long a signed URL handed out by the API stays valid
};

// How long job records and outputs are kept; `pixq-worker sweep` removes what is older (a timer
// locally, a CronJob in the cluster). 0: kept forever.
struct RetentionConfig {
  // A finished job's record, counted from when it finished (an unfinished one from its creation).
  int64_t job_records_s = 7 * 86400;
  // An output file, counted from its last use: written, or named by a job (a cache hit).
  int64_t outputs_s = 30 * 86400;
};

// URL sources and webhook calls (pkg/fetch): limits, and the SSRF guard's exceptions.
struct FetchConfig {
  int connect_timeout_ms = 5000;  // 100..60000
  int timeout_ms = 30000;         // the whole transfer, 100..600000
  int64_t max_bytes = 50 << 20;   // a download larger than this fails (SourceTooLarge)
  int max_redirects = 3;          // 0..10
  // Address ranges a download may reach although they are not public ("10.1.0.0/16", "fd00::/8",
  // "127.0.0.1"); everything else private, loopback, link-local etc. is refused. In the
  // environment: PIXQ_FETCH_ALLOW="range,range".
  std::vector<std::string> allow;
};

// Transient failures (a download timing out, an origin answering 503) are tried again later on
// <prefix>jobs.retry, after a backoff doubling from backoff_ms up to max_backoff_ms; after
// max_attempts attempts in all the job fails and goes to <prefix>jobs.dlq.
struct RetryConfig {
  int max_attempts = 5;        // 1..100; 1: never retried
  int backoff_ms = 1000;       // 10..3600000
  int max_backoff_ms = 60000;  // backoff_ms..86400000
};

// The callbackUrl of a job: its final JSON POSTed when it ends, signed, behind the SSRF guard
// (fetch.*), tried max_attempts times with a doubling backoff.
struct WebhookConfig {
  // HMAC-SHA256 key; the body's signature goes in X-Pixq-Signature-256: sha256=<hex>. Empty: not
  // signed. Secret: redacted by Render. PIXQ_WEBHOOK_SECRET.
  std::string secret;
  int max_attempts = 3;   // 1..10
  int backoff_ms = 1000;  // 10..60000, doubling per attempt
};

struct LogConfig {
  std::string level = "info";  // debug | info | warn | error
};

struct Config {
  KafkaConfig kafka;
  StorageConfig storage;
  HttpConfig http;
  LimitsConfig limits;
  WorkerConfig worker;
  AuthConfig auth;
  RetentionConfig retention;
  FetchConfig fetch;
  RetryConfig retry;
  WebhookConfig webhook;
  LogConfig log;
};

// Loads the YAML file at `path` (empty: defaults only), applies `env`, validates.
// Errors: "InvalidConfig" naming the file or the key, e.g. "http.port: must be 0..65535, got -1",
// "kafka.bootstarp_servers: unknown key", "PIXQ_HTTP_PORT: must be an integer, got abc".
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
