#include "pkg/state/status_writer.h"

#include <utility>

#include "pkg/job/json.h"

namespace pixq::state {

StatusWriter::StatusWriter(queue::Producer& producer, std::string topic)
    : producer_(producer), topic_(std::move(topic)) {}

queue::OutgoingMessage StatusWriter::Record(const job::JobRecord& record) const {
  return {.topic = topic_, .key = record.id, .value = job::ToJson(record).dump()};
}

queue::OutgoingMessage StatusWriter::Tombstone(const std::string& job_id) const {
  return {.topic = topic_, .key = job_id, .tombstone = true};
}

absl::Status StatusWriter::Write(const job::JobRecord& record, absl::Duration timeout) {
  return producer_.Send(Record(record), timeout);
}

void StatusWriter::WriteAsync(const job::JobRecord& record,
                              queue::Producer::DeliveryCallback done) {
  producer_.SendAsync(Record(record), std::move(done));
}

absl::Status StatusWriter::Forget(const std::string& job_id, absl::Duration timeout) {
  return producer_.Send(Tombstone(job_id), timeout);
}

}  // namespace pixq::state
