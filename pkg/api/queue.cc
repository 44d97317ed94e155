#include "pkg/api/queue.h"

#include <algorithm>
#include <utility>

#include "nlohmann/json.hpp"

#include "pkg/job/ids.h"

namespace pixq::api {
namespace {

// The text of the string field `"<key>":"…"` that comes last in `json`, or "" when there is none
// (or it is null). Records are written compactly with their keys in order, so status, which
// holds the times, is the last member; user text (labels, messages) is escaped and cannot
// contain the pattern unescaped.
std::string_view LastStringField(std::string_view json, std::string_view key) {
  std::string pattern;
  pattern.reserve(key.size() + 4);
  pattern.append("\"").append(key).append("\":\"");
  const size_t at = json.rfind(pattern);
  if (at == std::string_view::npos) return {};
  const size_t begin = at + pattern.size();
  const size_t end = json.find('"', begin);
  if (end == std::string_view::npos) return {};
  return json.substr(begin, end - begin);
}

std::string StringOr(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::optional<absl::Time> TimeOf(const std::string& rfc3339) {
  if (rfc3339.empty()) return std::nullopt;
  const int64_t millis = job::Rfc3339ToUnixMillis(rfc3339);
  if (millis < 0) return std::nullopt;
  return absl::FromUnixMillis(millis);
}

}  // namespace

void JobActivity::Note(std::string_view value) {
  const absl::Time now = clock_.Now();
  // Most records a replica reads at start are old: a string comparison tells them, before any
  // parse. RFC 3339 times in UTC compare as text; to the second, with a second's margin.
  const std::string cutoff = absl::FormatTime(
      "%Y-%m-%dT%H:%M:%S", now - kWorkerHorizon - absl::Seconds(1), absl::UTCTimeZone());
  auto recent = [&](std::string_view time) {
    return time.size() >= cutoff.size() && time.substr(0, cutoff.size()) >= cutoff;
  };
  if (!recent(LastStringField(value, "finishedAt")) &&
      !recent(LastStringField(value, "startedAt"))) {
    return;
  }
  const nlohmann::json doc = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return;
  auto status_it = doc.find("status");
  if (status_it == doc.end() || !status_it->is_object()) return;
  const nlohmann::json& status = *status_it;
  const std::string phase = StringOr(status, "phase");
  const std::string worker = StringOr(status, "worker");
  const std::optional<absl::Time> started = TimeOf(StringOr(status, "startedAt"));
  const std::optional<absl::Time> finished = TimeOf(StringOr(status, "finishedAt"));
  const bool terminal = phase == "Succeeded" || phase == "Failed";

  absl::MutexLock lock(&mu_);
  if (!worker.empty()) {
    // A worker's clock may run ahead of this replica's: never later than now.
    std::optional<absl::Time> at = terminal && finished ? finished : started;
    if (at && now - *at < kWorkerHorizon) See(worker, std::min(*at, now));
  }
  if (!terminal || !finished) return;
  const absl::Time at = std::min(*finished, now);
  if (now - at >= kWindow) return;
  Bucket& bucket = BucketFor(absl::ToUnixSeconds(at));
  if (phase == "Succeeded") {
    ++bucket.succeeded;
  } else {
    ++bucket.failed;
    std::string reason = StringOr(status, "reason");
    if (reason.empty()) reason = "Unknown";
    if (bucket.reasons.size() >= kMaxReasons && !bucket.reasons.contains(reason)) {
      reason = "Other";
    }
    ++bucket.reasons[reason];
  }
  if (!worker.empty() && (bucket.workers.size() < kMaxWorkers || bucket.workers.contains(worker))) {
    ++bucket.workers[worker];
  }
}

JobActivity::Bucket& JobActivity::BucketFor(int64_t second) {
  const size_t slot = static_cast<size_t>(((second % 60) + 60) % 60);
  Bucket& bucket = buckets_[slot];
  if (bucket.second != second) bucket = Bucket{.second = second};
  return bucket;
}

void JobActivity::See(const std::string& worker, absl::Time at) {
  auto it = workers_.find(worker);
  if (it != workers_.end()) {
    it->second.last_seen = std::max(it->second.last_seen, at);
    return;
  }
  if (workers_.size() >= kMaxWorkers) {
    auto oldest = std::min_element(
        workers_.begin(), workers_.end(),
        [](const auto& a, const auto& b) { return a.second.last_seen < b.second.last_seen; });
    workers_.erase(oldest);
  }
  workers_[worker] = Seen{.last_seen = at};
}

JobActivity::Summary JobActivity::Read() const {
  const absl::Time now = clock_.Now();
  const int64_t now_second = absl::ToUnixSeconds(now);
  Summary summary;
  std::map<std::string, int64_t> reasons;
  std::map<std::string, int64_t> finished_by;
  absl::MutexLock lock(&mu_);
  for (const Bucket& bucket : buckets_) {
    // The last 60 seconds, this one included.
    if (bucket.second < 0 || bucket.second > now_second || now_second - bucket.second >= 60) {
      continue;
    }
    summary.succeeded += bucket.succeeded;
    summary.failed += bucket.failed;
    for (const auto& [reason, count] : bucket.reasons) reasons[reason] += count;
    for (const auto& [worker, count] : bucket.workers) finished_by[worker] += count;
  }
  summary.finished_per_second =
      static_cast<double>(summary.succeeded + summary.failed) / absl::ToDoubleSeconds(kWindow);
  for (const auto& [reason, count] : reasons) summary.failures.push_back({reason, count});
  std::stable_sort(summary.failures.begin(), summary.failures.end(),
                   [](const Reason& a, const Reason& b) { return a.count > b.count; });
  for (const auto& [name, seen] : workers_) {
    if (now - seen.last_seen >= kWorkerHorizon) continue;
    auto finished = finished_by.find(name);
    summary.workers.push_back({.name = name,
                               .last_seen = seen.last_seen,
                               .finished = finished != finished_by.end() ? finished->second : 0});
  }
  return summary;
}

absl::Status ActivitySink::Apply(const std::vector<queue::Message>& records,
                                 const std::vector<queue::StoredPosition>& positions) {
  absl::Status applied = inner_.Apply(records, positions);
  if (!applied.ok()) return applied;  // nothing of it stored: it comes again
  for (const queue::Message& record : records) {
    if (record.topic == status_topic_ && record.value) activity_.Note(*record.value);
  }
  return applied;
}

nlohmann::json QueueJson(const QueueReport& report) {
  using json = nlohmann::json;
  const queue::GroupView& group = report.group;
  json members = nullptr;
  if (group.members_known) {
    members = json::array();
    for (const queue::GroupMember& m : group.members) {
      members.push_back({{"clientId", m.client_id},
                         {"memberId", m.member_id},
                         {"host", m.host},
                         {"partitions", m.partitions}});
    }
  }
  json group_json = {{"id", group.group_id},
                     {"topic", group.topic},
                     {"state", group.state.empty() ? json(nullptr) : json(group.state)},
                     {"members", std::move(members)}};
  if (!group.members_known) group_json["membersUnknown"] = group.members_unknown_why;
  json partitions = json::array();
  int64_t lag = 0;
  for (const queue::PartitionLag& p : group.partitions) {
    partitions.push_back({{"partition", p.partition},
                          {"committed", p.committed >= 0 ? json(p.committed) : json(nullptr)},
                          {"logEnd", p.log_end},
                          {"lag", p.lag}});
    lag += p.lag;
  }
  const JobActivity::Summary& activity = report.activity;
  json workers = json::array();
  for (const JobActivity::Worker& w : activity.workers) {
    workers.push_back({{"name", w.name},
                       {"lastSeen", job::UnixMillisToRfc3339(absl::ToUnixMillis(w.last_seen))},
                       {"finished", w.finished}});
  }
  json failures = json::array();
  for (const JobActivity::Reason& r : activity.failures) {
    failures.push_back({{"reason", r.reason}, {"count", r.count}});
  }
  return {{"group", std::move(group_json)},
          {"partitions", std::move(partitions)},
          {"lag", lag},
          {"workers", std::move(workers)},
          {"finished",
           {{"windowSeconds", absl::ToInt64Seconds(activity.window)},
            {"succeeded", activity.succeeded},
            {"failed", activity.failed},
            {"perSecond", activity.finished_per_second}}},
          {"failures", std::move(failures)}};
}

absl::StatusOr<QueueReport> QueueStatus::Read() {
  absl::StatusOr<queue::GroupView> group = group_.Read();
  if (!group.ok()) return group.status();
  return QueueReport{.group = *std::move(group), .activity = activity_.Read()};
}

}  // namespace pixq::api
