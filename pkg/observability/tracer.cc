#include "pkg/observability/tracer.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <thread>

#include "pkg/observability/log.h"

namespace pixq::observability {
namespace {

template <size_t N>
std::array<uint8_t, N> RandomId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::array<uint8_t, N> id{};
  do {
    for (size_t i = 0; i < N; i += 8) {
      uint64_t r = rng();
      for (size_t j = 0; j < 8 && i + j < N; ++j) id[i + j] = static_cast<uint8_t>(r >> (8 * j));
    }
  } while (IsZeroId(id));
  return id;
}

}  // namespace

// --- sampling --------------------------------------------------------------------------------

bool Sampler::ShouldSample(const std::array<uint8_t, 16>& trace_id,
                           const SpanContext* parent) const {
  if (parent_based && parent != nullptr && parent->valid()) return parent->sampled;
  switch (root) {
    case Root::kAlwaysOn:
      return true;
    case Root::kAlwaysOff:
      return false;
    case Root::kRatio: {
      if (ratio >= 1.0) return true;
      if (ratio <= 0.0) return false;
      // The trace id's last 8 bytes as a number below ratio × 2^64: the same decision for the
      // same trace in every process.
      uint64_t x = 0;
      for (size_t i = 8; i < 16; ++i) x = x << 8 | trace_id[i];
      return static_cast<double>(x) < ratio * 18446744073709551616.0;
    }
  }
  return true;
}

// --- spans -----------------------------------------------------------------------------------

Span::Span(Span&& other) noexcept { *this = std::move(other); }

Span& Span::operator=(Span&& other) noexcept {
  if (this != &other) {
    End();
    tracer_ = other.tracer_;
    data_ = std::move(other.data_);
    recording_ = other.recording_;
    ended_ = other.ended_;
    other.tracer_ = nullptr;
    other.recording_ = false;
    other.ended_ = true;
  }
  return *this;
}

Span::~Span() { End(); }

void Span::SetAttribute(std::string key, AttributeValue value) {
  if (!recording_ || ended_) return;
  // Setting a key again replaces its value, as OpenTelemetry's API asks: OTLP allows each key once.
  for (auto& [k, v] : data_.attributes) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  data_.attributes.emplace_back(std::move(key), std::move(value));
}

void Span::SetError(std::string message) {
  if (!recording_ || ended_) return;
  data_.error = true;
  data_.status_message = std::move(message);
}

void Span::End(absl::Time at) {
  if (ended_) return;
  ended_ = true;
  if (!recording_ || tracer_ == nullptr) return;
  data_.end = at;
  tracer_->Enqueue(data_);
}

// --- the tracer and its batch ----------------------------------------------------------------

struct Tracer::Queue {
  std::mutex mu;
  std::condition_variable wake;
  std::condition_variable progress;
  std::deque<SpanData> spans;
  uint64_t pushed = 0;   // spans accepted into the queue
  uint64_t handled = 0;  // spans taken out and exported (or lost in a failed export)
  bool flush = false;
  bool stop = false;
  std::thread thread;
  std::function<void(int64_t)> on_drop;
};

Tracer::Tracer(TracingOptions options, std::unique_ptr<SpanExporter> exporter)
    : options_(std::move(options)),
      exporter_(options_.enabled ? std::move(exporter) : nullptr),
      queue_(std::make_unique<Queue>()) {
  if (exporter_) queue_->thread = std::thread([this] { Run(); });
}

Tracer::~Tracer() {
  {
    std::lock_guard<std::mutex> lock(queue_->mu);
    queue_->stop = true;
  }
  queue_->wake.notify_all();
  if (queue_->thread.joinable()) queue_->thread.join();
}

void Tracer::OnDrop(std::function<void(int64_t)> on_drop) {
  std::lock_guard<std::mutex> lock(queue_->mu);
  queue_->on_drop = std::move(on_drop);
}

Span Tracer::StartSpan(std::string name, SpanKind kind, const SpanContext* parent,
                       absl::Time start) {
  Span span;
  span.tracer_ = this;
  span.ended_ = false;
  SpanData& d = span.data_;
  d.name = std::move(name);
  d.kind = kind;
  d.start = start;
  const bool has_parent = parent != nullptr && parent->valid();
  d.context.trace_id = has_parent ? parent->trace_id : RandomId<16>();
  d.context.span_id = RandomId<8>();
  if (has_parent) d.parent_span_id = parent->span_id;
  d.context.sampled = options_.enabled && options_.sampler.ShouldSample(d.context.trace_id, parent);
  span.recording_ = d.context.sampled && exporter_ != nullptr;
  return span;
}

void Tracer::Enqueue(SpanData span) {
  bool full = false;
  bool batch_ready = false;
  {
    std::lock_guard<std::mutex> lock(queue_->mu);
    if (queue_->stop || queue_->spans.size() >= options_.max_queue) {
      full = true;
    } else {
      queue_->spans.push_back(std::move(span));
      ++queue_->pushed;
      batch_ready = queue_->spans.size() >= options_.max_batch;
    }
  }
  if (full) {
    dropped_.fetch_add(1);
    std::function<void(int64_t)> on_drop;
    {
      std::lock_guard<std::mutex> lock(queue_->mu);
      on_drop = queue_->on_drop;
    }
    if (on_drop) on_drop(1);
    return;
  }
  if (batch_ready) queue_->wake.notify_one();
}

void Tracer::Flush(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(queue_->mu);
  if (!exporter_) return;
  const uint64_t target = queue_->pushed;
  queue_->flush = true;
  queue_->wake.notify_one();
  queue_->progress.wait_for(lock, absl::ToChronoMilliseconds(timeout),
                            [&] { return queue_->handled >= target; });
}

void Tracer::Run() {
  std::unique_lock<std::mutex> lock(queue_->mu);
  absl::Time stop_deadline = absl::InfiniteFuture();
  while (true) {
    queue_->wake.wait_for(lock, absl::ToChronoMilliseconds(options_.flush_interval), [&] {
      return queue_->stop || queue_->flush || queue_->spans.size() >= options_.max_batch;
    });
    if (queue_->stop && stop_deadline == absl::InfiniteFuture()) {
      stop_deadline = absl::Now() + options_.export_timeout;
    }
    while (!queue_->spans.empty()) {
      if (absl::Now() > stop_deadline) {
        // Stopping and out of time: what is left is lost, and counted.
        const int64_t lost = static_cast<int64_t>(queue_->spans.size());
        queue_->handled += queue_->spans.size();
        queue_->spans.clear();
        dropped_.fetch_add(lost);
        if (queue_->on_drop) queue_->on_drop(lost);
        break;
      }
      const size_t n = std::min(options_.max_batch, queue_->spans.size());
      std::vector<SpanData> batch(std::make_move_iterator(queue_->spans.begin()),
                                  std::make_move_iterator(queue_->spans.begin() + n));
      queue_->spans.erase(queue_->spans.begin(), queue_->spans.begin() + n);
      std::function<void(int64_t)> on_drop = queue_->on_drop;
      lock.unlock();
      const absl::Status exported = exporter_->Export(batch);
      if (exported.ok()) {
        exported_.fetch_add(static_cast<int64_t>(n));
      } else {
        dropped_.fetch_add(static_cast<int64_t>(n));
        if (on_drop) on_drop(static_cast<int64_t>(n));
        // Once a minute at most: an absent collector must not flood the log.
        if (absl::Now() - last_warning_ > absl::Minutes(1)) {
          last_warning_ = absl::Now();
          LogWarn("spans not exported", {{"spans", n}, {"error", std::string(exported.message())}});
        }
      }
      lock.lock();
      queue_->handled += n;
      queue_->progress.notify_all();
      // A steady trickle is exported on the interval, not span by span.
      if (!queue_->stop && !queue_->flush && queue_->spans.size() < options_.max_batch) break;
    }
    queue_->flush = false;
    queue_->progress.notify_all();
    if (queue_->stop && queue_->spans.empty()) return;
  }
}

}  // namespace pixq::observability
