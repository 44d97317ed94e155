#pragma once

// Shared plumbing of pkg/queue's librdkafka clients. Not part of the library's interface.

#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include <librdkafka/rdkafkacpp.h>

#include "pkg/queue/message.h"

namespace pixq::queue::internal {

// Routes librdkafka's log lines and errors into pixq's JSON log.
class LogEvents final : public RdKafka::EventCb {
 public:
  void event_cb(RdKafka::Event& event) override;
};

LogEvents& SharedLogEvents();

// A global configuration with bootstrap.servers, client.id, logging and the pass-through
// properties applied. `extra` is applied before the pass-through properties.
[[nodiscard]] absl::StatusOr<std::unique_ptr<RdKafka::Conf>> MakeConf(
    const ClientOptions& options, const std::map<std::string, std::string>& extra);

// The longest a consumer's fetch may wait at the broker for a record (fetch.wait.max.ms).
inline constexpr int kFetchWaitMaxMs = 10;

// MakeConf with the fetch settings every pixq consumer shares (group members and table readers):
// see client.cc for why. `extra` and the pass-through properties may override them.
[[nodiscard]] absl::StatusOr<std::unique_ptr<RdKafka::Conf>> MakeConsumerConf(
    const ClientOptions& options, std::map<std::string, std::string> extra);

[[nodiscard]] absl::Status Set(RdKafka::Conf& conf, const std::string& key,
                               const std::string& value);

// Copies a received librdkafka message (which must not be an error).
[[nodiscard]] Message ToMessage(RdKafka::Message& m);

[[nodiscard]] absl::Status ToStatus(RdKafka::ErrorCode code, const std::string& what);

}  // namespace pixq::queue::internal
