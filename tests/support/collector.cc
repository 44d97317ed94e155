#include "tests/support/collector.h"

namespace pixq::testing {

std::string ReceivedSpan::Attribute(const std::string& key) const {
  for (const nlohmann::json& a : span.value("attributes", nlohmann::json::array())) {
    if (a["key"] != key) continue;
    for (const auto& [type, value] : a["value"].items()) {
      return value.is_string() ? value.get<std::string>() : value.dump();
    }
  }
  return "";
}

Collector::Collector(absl::Duration delay)
    : delay_(delay), origin_([this](const OriginRequest& r) { return Receive(r); }) {}

std::string Collector::endpoint() const { return origin_.url(); }

std::vector<ReceivedSpan> Collector::Spans() const {
  std::lock_guard<std::mutex> lock(mu_);
  return spans_;
}

int Collector::requests() const { return static_cast<int>(origin_.requests().size()); }

std::vector<std::string> Collector::paths() const {
  std::vector<std::string> paths;
  for (const OriginRequest& r : origin_.requests()) paths.push_back(r.method + " " + r.target);
  return paths;
}

// Keeps the spans of an OTLP/HTTP JSON export and answers 200.
OriginReply Collector::Receive(const OriginRequest& request) {
  const nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
  if (body.is_object()) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const nlohmann::json& rs : body.value("resourceSpans", nlohmann::json::array())) {
      std::string service;
      for (const nlohmann::json& a : rs["resource"].value("attributes", nlohmann::json::array())) {
        if (a["key"] == "service.name") service = a["value"].value("stringValue", "");
      }
      for (const nlohmann::json& ss : rs.value("scopeSpans", nlohmann::json::array())) {
        for (const nlohmann::json& span : ss.value("spans", nlohmann::json::array())) {
          spans_.push_back({service, span});
        }
      }
    }
  }
  return {.status = 200,
          .headers = {{"Content-Type", "application/json"}},
          .body = "{}",
          .delay = delay_};
}

}  // namespace pixq::testing
