#pragma once

// Kafka records as pixq sees them, and the names of pixq's topics. No librdkafka type appears in
// pkg/queue's public headers (client_internal.h is the package's own); librdkafka is linked
// PRIVATE.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pixq::queue {

struct Header {
  std::string key;
  std::string value;
};

// A record to send. `value` empty with `tombstone` true deletes the key from a compacted topic.
struct OutgoingMessage {
  std::string topic;
  std::string key;
  std::string value;
  bool tombstone = false;
  std::vector<Header> headers;
};

// A record received.
struct Message {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = 0;
  std::string key;
  std::optional<std::string> value;  // nullopt: a tombstone
  std::vector<Header> headers;

  // The value of the first header named `key`, if any.
  [[nodiscard]] std::optional<std::string> HeaderValue(const std::string& key) const;
};

// pixq's topics under a configurable prefix ("pixq." by default).
struct Topics {
  std::string jobs;        // <prefix>jobs: the work, key = job id
  std::string retry;       // <prefix>jobs.retry
  std::string dlq;         // <prefix>jobs.dlq
  std::string job_status;  // <prefix>job-status: compacted, key = job id
  std::string images;      // <prefix>images: compacted, key = image id

  static Topics WithPrefix(const std::string& prefix);
  [[nodiscard]] std::vector<std::string> All() const;
};

// The consumer group that reads the retry topic of the workers' group `work_group`: a group per
// topic, so that each topic is spread over the workers on its own (queue::ConsumerSet says why).
[[nodiscard]] std::string RetryGroupOf(const std::string& work_group);

// How to reach the cluster.
struct ClientOptions {
  std::string bootstrap_servers;
  std::string client_id = "pixq";
  // Passed through to librdkafka unchanged (security.protocol, sasl.*, ssl.*, ...); applied last.
  std::map<std::string, std::string> properties;
};

}  // namespace pixq::queue
