#include "pkg/api/service.h"

#include <utility>

#include "absl/time/time.h"

#include "pkg/job/ids.h"
#include "pkg/observability/log.h"

namespace pixq::api {

Service::Service(ServiceOptions options, storage::Store& store, queue::Producer& producer,
                 state::JobTable& jobs, state::ImageTable& images, CatchUpFn catch_up,
                 observability::Metrics& metrics, observability::Tracer& tracer,
                 clock::Clock& clock)
    : options_(std::move(options)),
      store_(store),
      producer_(producer),
      image_records_(producer, options_.topics.images),
      statuses_(producer, options_.topics.job_status),
      jobs_(jobs),
      images_(images),
      catch_up_(std::move(catch_up)),
      metrics_(metrics),
      tracer_(tracer),
      clock_(clock) {}

Service::~Service() {
  // Delivery reports still to come call back into this object. librdkafka settles every record
  // within its message timeout while the producer runs (it outlives the service).
  std::unique_lock<std::mutex> lock(submissions_mu_);
  if (!submissions_cv_.wait_for(lock, absl::ToChronoMilliseconds(2 * options_.produce_timeout),
                                [this] { return submissions_ == 0; })) {
    observability::LogError("jobs still on their way to Kafka at shutdown",
                            {{"jobs", submissions_}});
  }
}

std::string Service::NowRfc3339() const {
  return job::UnixMillisToRfc3339(absl::ToUnixMillis(clock_.Now()));
}

bool Service::HasImage(const std::string& id) const {
  return images_.Get(id) && store_.HasOriginal(id);
}

absl::Status Service::Send(const queue::OutgoingMessage& message) {
  if (options_.admit) PIXQ_RETURN_IF_ERROR(options_.admit());
  absl::Status sent = producer_.Send(message, options_.produce_timeout);
  if (!sent.ok()) metrics_.CountProduceError(message.topic);
  return sent;
}

}  // namespace pixq::api
