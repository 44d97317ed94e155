#pragma once

// The local Kafka: librdkafka's mock cluster, a real Kafka wire-protocol broker on 127.0.0.1 with
// consumer groups, committed offsets and idempotent producers. It keeps everything in memory
// (at most 5 MiB per partition) and loses it when the process ends; DevPersistence
// (pkg/queue/dev_persistence.h) keeps its topics on disk and restores them into the next one.
// For development and tests; production uses a real cluster.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace pixq::queue {

class DevBroker final {
 public:
  // Starts `brokers` mock brokers on ephemeral loopback ports.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<DevBroker>> Start(int brokers);
  ~DevBroker();

  // "127.0.0.1:port,..." for bootstrap.servers.
  [[nodiscard]] std::string BootstrapServers() const;

  [[nodiscard]] absl::Status CreateTopic(const std::string& name, int partitions);

  // Takes every broker down (connections dropped, new ones refused) or brings them back up, with
  // all data kept: an outage as clients of a real cluster see one, for the reliability tests.
  [[nodiscard]] absl::Status SetAllBrokersUp(bool up);

  struct Impl;

 private:
  explicit DevBroker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pixq::queue
