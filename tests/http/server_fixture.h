#pragma once

// The real ApiServer on 127.0.0.1 (a free port) over a real volume and fakes for Kafka: what the
// producer records reaches the tables on Apply(), and when the service catches up. Time stands
// still unless a test moves clock_ (a long-poll answers at its deadline only then). A derived
// fixture sets auth_options_ in its constructor to turn auth on.

#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "pkg/api/service.h"
#include "pkg/http/server.h"
#include "pkg/storage/volume.h"
#include "tests/fakes/fake_producer.h"
#include "tests/fakes/table_feed.h"
#include "tests/http/deadline_clock.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"

namespace pixq::http {

inline std::string Png(int width, int height) {
  std::vector<uchar> out;
  cv::imencode(".png", cv::Mat(height, width, CV_8UC3, cv::Scalar(1, 2, 3)), out);
  return std::string(out.begin(), out.end());
}

class ServerFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = storage::VolumeStore::Open(dir_.path(), absl::Hours(1));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    service_ = std::make_unique<api::Service>(
        api::ServiceOptions{.max_pixels = 10'000'000}, *store_, producer_, jobs_, images_,
        [this](absl::Duration) {
          Apply();
          return absl::OkStatus();
        },
        metrics_, tracer_, clock_);
    server_ = std::make_unique<ApiServer>(
        ServerOptions{.address = "127.0.0.1",
                      .port = 0,
                      .threads = 2,
                      .max_body_bytes = 1 << 20,
                      .max_json_bytes = 4096,
                      .max_wait = absl::Seconds(5),
                      .storage_root = store_->root(),
                      .auth = auth_options_,
                      .queue = [this] { return queue_report_; }},
        *service_, jobs_, [this] { return ready_; }, metrics_, tracer_, clock_);
    ASSERT_TRUE(server_->Start().ok());
    url_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }

  void TearDown() override { server_->Shutdown(); }

  // Applies what was published to the tables, as the table reader would.
  void Apply() { feed_.Apply(); }

  // Sends `request` (a long-poll with ?wait=`wait`) from another thread, moves the clock to the
  // poll's deadline once the server waits for it, and returns the answer.
  template <typename Request>
  testing::HttpResponse AtDeadline(absl::Duration wait, Request request) {
    const absl::Time deadline = clock_.Now() + wait;
    testing::HttpResponse answer;
    std::thread client([&] { answer = request(); });
    clock_.AwaitDeadline(deadline);
    clock_.Advance(wait);
    client.join();
    return answer;
  }

  testing::TempDir dir_;
  std::unique_ptr<storage::VolumeStore> store_;
  testing::FakeProducer producer_;
  state::JobTable jobs_;
  state::ImageTable images_;
  testing::TableFeed feed_{producer_, jobs_, images_};
  observability::Metrics metrics_{observability::MetricsRole::kApi};
  observability::Tracer tracer_{observability::TracingOptions{}, nullptr};
  testing::DeadlineClock clock_;
  std::unique_ptr<api::Service> service_;
  std::unique_ptr<ApiServer> server_;
  absl::Status ready_ = absl::OkStatus();
  auth::AuthOptions auth_options_;  // off unless a derived fixture turns it on
  // What GET /v1/queue answers (Kafka's part of it is not faked: a test sets it).
  absl::StatusOr<api::QueueReport> queue_report_ =
      absl::UnavailableError("no queue report set by the test");
  std::string url_;
};

}  // namespace pixq::http
