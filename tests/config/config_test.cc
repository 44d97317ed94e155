#include "pkg/config/config.h"

#include <algorithm>
#include <fstream>

#include <gtest/gtest.h>

#include "pkg/config/keys.h"
#include "pkg/errors/errors.h"
#include "tests/support/process.h"

namespace pixq::config {
namespace {

std::string ErrorOf(const std::string& yaml, const std::map<std::string, std::string>& env = {}) {
  absl::StatusOr<Config> c = LoadFromString(yaml, env);
  if (c.ok()) return "ok";
  EXPECT_EQ(errors::ReasonOf(c.status()), "InvalidConfig");
  return std::string(c.status().message());
}

TEST(ConfigTest, HasWorkingDefaults) {
  absl::StatusOr<Config> c = LoadFromString("", {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->http.port, 8080);
  EXPECT_EQ(c->kafka.topic_prefix, "pixq.");
  EXPECT_EQ(c->kafka.consumer_group, "pixq-workers");
  EXPECT_EQ(c->storage.root, "var/pixq");
  EXPECT_EQ(c->limits.max_pixels, 100'000'000);
  EXPECT_FALSE(c->worker.name.empty());  // <hostname>-<pid>
}

TEST(ConfigTest, ReadsEverySectionFromYaml) {
  absl::StatusOr<Config> c = LoadFromString(R"(
kafka:
  bootstrap_servers: "k1:9092,k2:9092"
  topic_prefix: "prod.pixq."
  produce_timeout_ms: 2500
  properties:
    security.protocol: SASL_SSL
storage: {root: /data}
http: {port: 9000, threads: 8, max_body_bytes: 1048576, max_wait_s: 30}
limits: {max_pixels: 5000000, max_steps: 5}
worker: {name: w-1, port: 9191}
log: {level: debug}
)",
                                            {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->kafka.bootstrap_servers, "k1:9092,k2:9092");
  EXPECT_EQ(c->kafka.topic_prefix, "prod.pixq.");
  EXPECT_EQ(c->kafka.produce_timeout_ms, 2500);
  EXPECT_EQ(c->kafka.properties.at("security.protocol"), "SASL_SSL");
  EXPECT_EQ(c->storage.root, "/data");
  EXPECT_EQ(c->http.port, 9000);
  EXPECT_EQ(c->http.max_body_bytes, 1048576);
  EXPECT_EQ(c->limits.max_steps, 5);
  EXPECT_EQ(c->worker.name, "w-1");
  EXPECT_EQ(c->worker.port, 9191);
  EXPECT_EQ(c->log.level, "debug");
}

TEST(ConfigTest, EnvironmentWinsOverTheFile) {
  absl::StatusOr<Config> c =
      LoadFromString("http: {port: 9000}\n", {{"PIXQ_HTTP_PORT", "9100"},
                                              {"PIXQ_KAFKA_BOOTSTRAP_SERVERS", "b:1"},
                                              {"PIXQ_KAFKA_PROPERTIES", "a=1, sasl.password=x"},
                                              {"PIXQ_CONFIG", "/ignored.yaml"},
                                              {"PATH", "/bin"}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->http.port, 9100);
  EXPECT_EQ(c->kafka.bootstrap_servers, "b:1");
  EXPECT_EQ(c->kafka.properties.at("a"), "1");
  EXPECT_EQ(c->kafka.properties.at("sasl.password"), "x");
}

TEST(ConfigTest, NamesTheKeyOfEveryBadValue) {
  EXPECT_EQ(ErrorOf("http: {port: 70000}"), "http.port: must be 0..65535, got 70000");
  EXPECT_EQ(ErrorOf("http: {port: abc}"), "http.port: must be an integer, got \"abc\"");
  EXPECT_EQ(ErrorOf("http: {threads: 0}"), "http.threads: must be 1..256, got 0");
  EXPECT_EQ(ErrorOf("http: {max_body_bytes: 10}"),
            "http.max_body_bytes: must be 1024..4294967296, got 10");
  EXPECT_EQ(ErrorOf("http: {max_wait_s: -1}"), "http.max_wait_s: must be 0..3600, got -1");
  EXPECT_EQ(ErrorOf("kafka: {produce_timeout_ms: 5}"),
            "kafka.produce_timeout_ms: must be 100..120000, got 5");
  EXPECT_EQ(ErrorOf("kafka: {session_timeout_ms: 5}"),
            "kafka.session_timeout_ms: must be 1000..300000, got 5");
  EXPECT_EQ(ErrorOf("kafka: {topic_prefix: 'a b'}"),
            "kafka.topic_prefix: may only contain letters, digits, . _ -");
  EXPECT_EQ(ErrorOf("kafka: {consumer_group: ''}"), "kafka.consumer_group: is empty");
  EXPECT_EQ(ErrorOf("storage: {root: ''}"), "storage.root: is empty");
  EXPECT_EQ(ErrorOf("limits: {max_pixels: 0}"),
            "limits.max_pixels: must be 1..1099511627776, got 0");
  EXPECT_EQ(ErrorOf("limits: {max_steps: 0}"), "limits.max_steps: must be 1..1000, got 0");
  EXPECT_EQ(ErrorOf("limits: {max_output_dimension: 0}"),
            "limits.max_output_dimension: must be 1..65535, got 0");
  EXPECT_EQ(ErrorOf("worker: {port: 65536}"), "worker.port: must be 0..65535, got 65536");
  EXPECT_EQ(ErrorOf("worker: {concurrency: -1}"), "worker.concurrency: must be 0..256, got -1");
  EXPECT_EQ(ErrorOf("worker: {shutdown_grace_s: 4000}"),
            "worker.shutdown_grace_s: must be 0..3600, got 4000");
  EXPECT_EQ(ErrorOf("log: {level: loud}"),
            "log.level: must be debug, info, warn or error, got \"loud\"");
  EXPECT_EQ(ErrorOf("", {{"PIXQ_HTTP_PORT", "x"}}),
            "PIXQ_HTTP_PORT: must be an integer, got \"x\"");
  EXPECT_EQ(ErrorOf("", {{"PIXQ_KAFKA_PROPERTIES", "novalue"}}),
            "PIXQ_KAFKA_PROPERTIES: must be k=v,k=v; got \"novalue\"");
}

TEST(ConfigTest, ReadsTheFetchAndRetrySettings) {
  absl::StatusOr<Config> c = LoadFromString(
      "fetch: {timeout_ms: 2000, max_redirects: 1, allow: [127.0.0.1, 10.0.0.0/8, 'fd00::/8']}\n"
      "retry: {max_attempts: 3, backoff_ms: 200, max_backoff_ms: 1000}\n",
      {{"PIXQ_FETCH_MAX_BYTES", "4096"}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->fetch.timeout_ms, 2000);
  EXPECT_EQ(c->fetch.max_redirects, 1);
  EXPECT_EQ(c->fetch.max_bytes, 4096);
  EXPECT_EQ(c->fetch.allow, (std::vector<std::string>{"127.0.0.1", "10.0.0.0/8", "fd00::/8"}));
  EXPECT_EQ(c->retry.max_attempts, 3);
  EXPECT_EQ(c->retry.backoff_ms, 200);
  EXPECT_EQ(c->retry.max_backoff_ms, 1000);
  absl::StatusOr<Config> back = LoadFromString(Render(*c), {});
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->fetch.allow, c->fetch.allow);

  EXPECT_EQ(ErrorOf("fetch: {allow: [localhost]}"),
            "fetch.allow: \"localhost\" is not an address or a range like 10.0.0.0/8");
  EXPECT_EQ(ErrorOf("fetch: {allow: [10.0.0.0/40]}"),
            "fetch.allow: \"10.0.0.0/40\" is not an address or a range like 10.0.0.0/8");
  EXPECT_EQ(ErrorOf("fetch: {max_redirects: 11}"), "fetch.max_redirects: must be 0..10, got 11");
  EXPECT_EQ(ErrorOf("retry: {max_attempts: 0}"), "retry.max_attempts: must be 1..100, got 0");
  EXPECT_EQ(ErrorOf("retry: {backoff_ms: 500, max_backoff_ms: 100}"),
            "retry.max_backoff_ms: must be 500..86400000, got 100");
}

TEST(ConfigTest, RefusesUnknownKeysAndSections) {
  EXPECT_EQ(ErrorOf("kafka: {bootstarp_servers: x}"), "kafka.bootstarp_servers: unknown key");
  EXPECT_EQ(ErrorOf("database: {url: x}"), "database: unknown section");
  EXPECT_EQ(ErrorOf("http: 8080"), "http: must be a mapping");
  EXPECT_EQ(ErrorOf("http: {port: [1, 2]}"), "http.port: must be a single value");
  EXPECT_EQ(ErrorOf("", {{"PIXQ_HTTP_PROT", "1"}}), "PIXQ_HTTP_PROT: unknown setting");
  EXPECT_NE(ErrorOf("http: {port: 1"), "ok");  // YAML syntax error
}

TEST(ConfigTest, ReadsAFileAndNamesAMissingOne) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/pixq.yaml";
  std::ofstream(path) << "http:\n  port: 8181\n";
  absl::StatusOr<Config> c = Load(path, {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->http.port, 8181);
  absl::StatusOr<Config> missing = Load(dir.path() + "/nope.yaml", {});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(std::string(missing.status().message()).find("nope.yaml"), std::string::npos);
  std::ofstream(path) << "http:\n  port: -3\n";
  absl::StatusOr<Config> bad = Load(path, {});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("http.port"), std::string::npos);
}

TEST(ConfigTest, RenderRoundTripsAndRedactsSecrets) {
  absl::StatusOr<Config> c = LoadFromString(
      "kafka: {properties: {sasl.password: hunter2, client.rack: r1}}\nhttp: {port: 9001}\n", {});
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string text = Render(*c);
  EXPECT_EQ(text.find("hunter2"), std::string::npos);
  EXPECT_NE(text.find("<redacted>"), std::string::npos);
  absl::StatusOr<Config> back = LoadFromString(text, {});
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << text;
  EXPECT_EQ(back->http.port, 9001);
  EXPECT_EQ(back->kafka.properties.at("client.rack"), "r1");
  EXPECT_EQ(back->worker.name, c->worker.name);
}

const std::string kHashA(64, 'a');
const std::string kHashB = std::string(63, '0') + "1";

TEST(ConfigTest, ReadsAuthFromYamlAndEnvironment) {
  absl::StatusOr<Config> c = LoadFromString("auth:\n  enabled: true\n  api_key_sha256: [" + kHashA +
                                                ", " + kHashB + "]\n  signed_url_ttl_s: 600\n",
                                            {{"PIXQ_AUTH_SIGNING_KEY", std::string(40, 's')}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->auth.enabled);
  EXPECT_EQ(c->auth.api_key_sha256, (std::vector<std::string>{kHashA, kHashB}));
  EXPECT_EQ(c->auth.signing_key, std::string(40, 's'));
  EXPECT_EQ(c->auth.signed_url_ttl_s, 600);

  absl::StatusOr<Config> env = LoadFromString(
      "", {{"PIXQ_AUTH_ENABLED", "true"}, {"PIXQ_AUTH_API_KEY_SHA256", kHashA + " , " + kHashB}});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->auth.api_key_sha256, (std::vector<std::string>{kHashA, kHashB}));
  EXPECT_FALSE(LoadFromString("", {})->auth.enabled) << "off by default, for local development";
}

TEST(ConfigTest, RefusesAuthThatCannotWork) {
  EXPECT_EQ(ErrorOf("auth: {enabled: maybe}"),
            "auth.enabled: must be true or false, got \"maybe\"");
  EXPECT_EQ(ErrorOf("auth: {enabled: true}"),
            "auth.api_key_sha256: is empty while auth.enabled is true");
  EXPECT_EQ(ErrorOf("auth: {api_key_sha256: [not-a-hash]}"),
            "auth.api_key_sha256: each entry must be the SHA-256 of a key as 64 lower-case hex "
            "digits");
  EXPECT_EQ(ErrorOf("auth: {signing_key: short}"),
            "auth.signing_key: must be at least 32 characters");
  EXPECT_EQ(ErrorOf("auth: {signed_url_ttl_s: 0}"),
            "auth.signed_url_ttl_s: must be 1..31622400, got 0");
  EXPECT_EQ(ErrorOf("auth: {api_key: x}"), "auth.api_key: unknown key");
}

TEST(ConfigTest, RenderRedactsTheSigningKey) {
  absl::StatusOr<Config> c = LoadFromString("auth: {enabled: true, api_key_sha256: [" + kHashA +
                                                "], signing_key: " + std::string(40, 'k') + "}\n",
                                            {});
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string text = Render(*c);
  EXPECT_EQ(text.find(std::string(40, 'k')), std::string::npos) << text;
  EXPECT_NE(text.find("signing_key: \"<redacted>\""), std::string::npos) << text;
  EXPECT_NE(text.find(kHashA), std::string::npos) << text;
  EXPECT_NE(text.find("enabled: true"), std::string::npos) << text;
}

// --print-config's output, as pixq wrote it before the key table (captured from that code): a
// change here changes what operators see and what Load reads back.
constexpr char kDefaultRendered[] = R"(kafka:
  bootstrap_servers: ""
  bootstrap_file: "var/pixq/kafka.bootstrap"
  topic_prefix: "pixq."
  consumer_group: "pixq-workers"
  produce_timeout_ms: 5000
  session_timeout_ms: 6000
  partition_room_bytes: 0
  partition_room_records: 0
  properties:
    {}
storage:
  root: "var/pixq"
  tmp_max_age_s: 3600
state:
  dir: ""
  max_bytes: 68719476736
  snapshot_interval_s: 300
http:
  address: "0.0.0.0"
  port: 8080
  threads: 4
  max_body_bytes: 52428800
  max_wait_s: 60
limits:
  max_pixels: 100000000
  max_steps: 20
  max_output_dimension: 16384
  max_json_bytes: 1048576
  decode_timeout_ms: 30000
  process_timeout_ms: 30000
  encode_timeout_ms: 30000
worker:
  name: "w"
  address: "0.0.0.0"
  port: 9090
  concurrency: 0
  shutdown_grace_s: 30
auth:
  enabled: false
  api_key_sha256: []
  signing_key: ""
  signed_url_ttl_s: 3600
retention:
  job_records_s: 604800
  outputs_s: 2592000
fetch:
  connect_timeout_ms: 5000
  timeout_ms: 30000
  max_bytes: 52428800
  max_redirects: 3
  allow: []
retry:
  max_attempts: 5
  backoff_ms: 1000
  max_backoff_ms: 60000
webhook:
  secret: ""
  max_attempts: 3
  backoff_ms: 1000
log:
  level: "info"
)";

TEST(ConfigTest, RenderWritesTheSameTextAsEver) {
  absl::StatusOr<Config> c = LoadFromString("", {});
  ASSERT_TRUE(c.ok()) << c.status();
  c->worker.name = "w";
  EXPECT_EQ(Render(*c), kDefaultRendered);

  c = LoadFromString(R"(kafka: {properties: {sasl.password: hunter2, client.rack: r1}}
fetch: {allow: [127.0.0.1, "10.0.0.0/8"]}
auth: {enabled: true, api_key_sha256: [aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa], signing_key: kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk}
webhook: {secret: "s\"x"}
storage: {root: "/data/\u00fcn\u00ef"}
kafka: {topic_prefix: "a-b."}
)",
                     {{"PIXQ_LOG_LEVEL", "debug"}});
  ASSERT_TRUE(c.ok()) << c.status();
  c->worker.name = "w";
  // As the defaults, but for these lines.
  std::string expected = kDefaultRendered;
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"\"pixq.\"", "\"a-b.\""},
           {"    {}\n", "    client.rack: \"r1\"\n    sasl.password: \"<redacted>\"\n"},
           {"\"var/pixq\"\n", "\"/data/\u00fcn\u00ef\"\n"},
           {"enabled: false", "enabled: true"},
           {"api_key_sha256: []", "api_key_sha256: [\"" + std::string(64, 'a') + "\"]"},
           {"signing_key: \"\"", "signing_key: \"<redacted>\""},
           {"allow: []", "allow: [\"127.0.0.1\", \"10.0.0.0/8\"]"},
           {"secret: \"\"", "secret: \"<redacted>\""},
           {"level: \"info\"", "level: \"debug\""}}) {
    const size_t at = expected.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    expected.replace(at, from.size(), to);
  }
  EXPECT_EQ(Render(*c), expected);
}

TEST(ConfigTest, KeepsTheMessagesOfOddValues) {
  for (const auto& [yaml, message] : std::vector<std::pair<std::string, std::string>>{
           {"kafka: {properties: [a]}", "kafka.properties: must be a mapping of strings"},
           {"kafka: {properties: {a: [1]}}", "kafka.properties.a: must be a string"},
           {"fetch: {allow: [[a]]}", "fetch.allow: must be a list of strings"},
           {"http: {port: 1.5}", "http.port: must be an integer, got \"1.5\""},
           {"http: {port: 1e3}", "http.port: must be an integer, got \"1e3\""},
           {"retry: {max_backoff_ms: 5}", "retry.max_backoff_ms: must be 1000..86400000, got 5"},
           {"http: {port: 1",
            "YAML: yaml-cpp: error at line 1, column 1: end of map flow not found"}}) {
    EXPECT_EQ(ErrorOf(yaml), message);
  }
  EXPECT_EQ(LoadFromString("http: {port: \"80\"}", {})->http.port, 80);
}

TEST(ConfigTest, DefaultsComeFromTheKeyTable) {
  const Config d = Defaults();
  EXPECT_EQ(d.kafka.bootstrap_file, "var/pixq/kafka.bootstrap");
  EXPECT_EQ(d.http.max_body_bytes, int64_t{50} << 20);
  EXPECT_EQ(d.retention.job_records_s, 7 * 86400);
  EXPECT_FALSE(d.auth.enabled);
  EXPECT_TRUE(d.fetch.allow.empty());
  EXPECT_TRUE(d.worker.name.empty());
  // Every default is valid, and every key has a meaning and an environment name.
  absl::StatusOr<Config> loaded = LoadFromString("", {});
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  for (const Key& key : Keys()) {
    EXPECT_NE(std::string(key.meaning), "") << key.Dotted();
    EXPECT_TRUE(key.EnvName().starts_with("PIXQ_")) << key.Dotted();
  }
  EXPECT_EQ(Keys()[0].EnvName(), "PIXQ_KAFKA_BOOTSTRAP_SERVERS");
}

// README.md's configuration table is what operators read: every key of the table in keys.cc is
// there, on a line that names its default (when it has one).
TEST(ConfigTest, EveryKeyIsInTheReadmeWithItsDefault) {
  std::ifstream in(std::string(PIXQ_SOURCE_DIR) + "/README.md");
  ASSERT_TRUE(in) << "README.md";
  std::vector<std::string> rows;
  bool in_section = false;
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("## ")) in_section = line == "## Configuration";
    if (in_section && line.starts_with("| `")) rows.push_back(line);
  }
  ASSERT_FALSE(rows.empty());
  for (const Key& key : Keys()) {
    const std::string name = "`" + key.Dotted() + "`";
    auto row = std::find_if(rows.begin(), rows.end(), [&](const std::string& r) {
      // The first cell names the key (or several: "`a` / `b`").
      return r.substr(0, r.find(" |", 2)).find(name) != std::string::npos;
    });
    ASSERT_NE(row, rows.end()) << key.Dotted() << " is not in README.md's configuration table";
    const std::string value = key.default_value;
    if (!value.empty()) {
      EXPECT_NE(row->find("`" + value + "`"), std::string::npos)
          << key.Dotted() << ": README.md does not say its default " << value << ":\n"
          << *row;
    }
  }
}

}  // namespace
}  // namespace pixq::config
