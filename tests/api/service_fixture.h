#pragma once

// A Service over in-memory seams for the api tests: a memory store, a fake producer whose records
// reach the tables when the service catches up (as the table reader would), counted catch-ups,
// and a clock that moves only when a test moves it.

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "pkg/api/service.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_producer.h"
#include "tests/fakes/memory_store.h"
#include "tests/fakes/table_feed.h"

namespace pixq::api {

inline std::string Png(int width, int height) {
  std::vector<uchar> out;
  cv::imencode(".png", cv::Mat(height, width, CV_8UC3, cv::Scalar(1, 2, 3)), out);
  return std::string(out.begin(), out.end());
}

class ServiceFixture : public ::testing::Test {
 protected:
  ServiceFixture()
      : service_(
            ServiceOptions{.max_pixels = 1'000'000}, store_, producer_, jobs_, images_,
            [this](absl::Duration) {
              ++catch_ups_;
              ApplyPublished();
              return absl::OkStatus();
            },
            metrics_, tracer_, clock_) {}

  // Applies what was published since the last call, as the table reader would.
  void ApplyPublished() { feed_.Apply(); }

  testing::MemoryStore store_;
  testing::FakeProducer producer_;
  state::JobTable jobs_;
  state::ImageTable images_;
  testing::TableFeed feed_{producer_, jobs_, images_};
  int catch_ups_ = 0;
  observability::Metrics metrics_{observability::MetricsRole::kApi};
  observability::Tracer tracer_{observability::TracingOptions{}, nullptr};
  testing::FakeClock clock_;
  Service service_;
};

}  // namespace pixq::api
