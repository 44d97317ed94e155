#pragma once

// An in-memory fetch::Fetcher for unit tests: each URL answers from a script of outcomes, one per
// request, the last one repeating. Thread-safe.

#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "pkg/errors/errors.h"
#include "pkg/fetch/fetcher.h"

namespace pixq::testing {

class FakeFetcher final : public fetch::Fetcher {
 public:
  // `url` answers `outcomes` in turn.
  void Script(const std::string& url, std::deque<absl::StatusOr<fetch::Response>> outcomes) {
    std::lock_guard<std::mutex> lock(mu_);
    scripts_[url] = std::move(outcomes);
  }
  // `url` answers 200 with `body`.
  void Serve(const std::string& url, std::string body) {
    Script(url, {fetch::Response{.status = 200, .body = std::move(body), .final_url = url}});
  }

  absl::StatusOr<fetch::Response> Get(std::string_view url) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++requests_[std::string(url)];
    auto it = scripts_.find(std::string(url));
    if (it == scripts_.end() || it->second.empty()) {
      return errors::Make(errors::Reason::kSourceNotFound, "not scripted");
    }
    absl::StatusOr<fetch::Response> outcome = it->second.front();
    if (it->second.size() > 1) it->second.pop_front();
    return outcome;
  }

  struct Post {
    std::string url;
    std::string body;
    fetch::Headers headers;
  };

  // Every POST answers 204 unless `url` was scripted (Script), then as scripted.
  absl::StatusOr<fetch::Response> Post(std::string_view url, std::string_view body,
                                       const fetch::Headers& headers) override {
    std::lock_guard<std::mutex> lock(mu_);
    posts_.push_back({std::string(url), std::string(body), headers});
    auto it = scripts_.find(std::string(url));
    if (it == scripts_.end() || it->second.empty()) return fetch::Response{.status = 204};
    absl::StatusOr<fetch::Response> outcome = it->second.front();
    if (it->second.size() > 1) it->second.pop_front();
    return outcome;
  }

  std::vector<struct Post> Posts() const {
    std::lock_guard<std::mutex> lock(mu_);
    return posts_;
  }

  int Requests(const std::string& url) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = requests_.find(url);
    return it == requests_.end() ? 0 : it->second;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::deque<absl::StatusOr<fetch::Response>>> scripts_;
  std::map<std::string, int> requests_;
  std::vector<struct Post> posts_;
};

}  // namespace pixq::testing
