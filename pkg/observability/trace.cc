#include "pkg/observability/trace.h"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <random>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include <curl/curl.h>

#include "pkg/errors/errors.h"
#include "pkg/observability/log.h"

namespace pixq::observability {
namespace {

constexpr char kHex[] = "0123456789abcdef";

template <size_t N>
std::string ToHex(const std::array<uint8_t, N>& bytes) {
  std::string out;
  out.reserve(N * 2);
  for (uint8_t b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xF]);
  }
  return out;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // uppercase is invalid in traceparent
}

template <size_t N>
bool FromHex(std::string_view text, std::array<uint8_t, N>& out) {
  if (text.size() != N * 2) return false;
  for (size_t i = 0; i < N; ++i) {
    const int hi = HexDigit(text[2 * i]);
    const int lo = HexDigit(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

template <size_t N>
bool AllZero(const std::array<uint8_t, N>& bytes) {
  for (uint8_t b : bytes) {
    if (b != 0) return false;
  }
  return true;
}

template <size_t N>
std::array<uint8_t, N> RandomId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::array<uint8_t, N> id{};
  do {
    for (size_t i = 0; i < N; i += 8) {
      uint64_t r = rng();
      for (size_t j = 0; j < 8 && i + j < N; ++j) id[i + j] = static_cast<uint8_t>(r >> (8 * j));
    }
  } while (AllZero(id));
  return id;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int v = 0;
      if (absl::SimpleHexAtoi(errors::Sv(s.substr(i + 1, 2)), &v)) {
        out.push_back(static_cast<char>(v));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// "k=v,k2=v2" (OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS), values percent-decoded.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParsePairs(const char* variable,
                                                                            std::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  for (absl::string_view item : absl::StrSplit(errors::Sv(text), ',', absl::SkipWhitespace())) {
    const size_t eq = item.find('=');
    if (eq == absl::string_view::npos || eq == 0) {
      return errors::Invalid(
          "InvalidConfig",
          absl::StrCat(variable, ": expected key=value pairs, got \"", item, "\""));
    }
    out.emplace_back(std::string(absl::StripAsciiWhitespace(item.substr(0, eq))),
                     PercentDecode(std::string(absl::StripAsciiWhitespace(item.substr(eq + 1)))));
  }
  return out;
}

int64_t UnixNanos(absl::Time t) { return absl::ToUnixNanos(t); }

nlohmann::json AttributeJson(const std::string& key, const AttributeValue& value) {
  nlohmann::json v;
  if (const auto* s = std::get_if<std::string>(&value)) {
    v["stringValue"] = *s;
  } else if (const auto* i = std::get_if<int64_t>(&value)) {
    v["intValue"] = std::to_string(*i);  // OTLP/JSON: 64-bit integers are strings
  } else if (const auto* d = std::get_if<double>(&value)) {
    // JSON has no NaN or Infinity (nlohmann writes null, read as "no value"): protobuf's JSON
    // mapping spells them as strings.
    if (std::isnan(*d)) {
      v["doubleValue"] = "NaN";
    } else if (std::isinf(*d)) {
      v["doubleValue"] = *d > 0 ? "Infinity" : "-Infinity";
    } else {
      v["doubleValue"] = *d;
    }
  } else {
    v["boolValue"] = std::get<bool>(value);
  }
  return {{"key", key}, {"value", v}};
}

class OtlpHttpExporter final : public SpanExporter {
 public:
  explicit OtlpHttpExporter(TracingOptions options) : options_(std::move(options)) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }

  absl::Status Export(const std::vector<SpanData>& spans) override {
    const std::string body = OtlpJson(options_, spans);
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
    if (!curl) return errors::Unavailable("ExportFailed", "curl_easy_init failed");
    curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
    for (const auto& [key, value] : options_.headers) {
      headers = curl_slist_append(headers, absl::StrCat(key, ": ", value).c_str());
    }
    std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_list(headers,
                                                                            &curl_slist_free_all);
    CURL* c = curl.get();
    curl_easy_setopt(c, CURLOPT_URL, options_.traces_url.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, header_list.get());
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(absl::ToInt64Milliseconds(options_.export_timeout)));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    // A collector on loopback is reached directly, whatever proxy the environment names.
    curl_easy_setopt(c, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(
        c, CURLOPT_WRITEFUNCTION,
        +[](char*, size_t size, size_t n, void*) -> size_t { return size * n; });
    const CURLcode code = curl_easy_perform(c);
    if (code != CURLE_OK) {
      return errors::Unavailable("ExportFailed",
                                 absl::StrCat(options_.traces_url, ": ", curl_easy_strerror(code)));
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status >= 300) {
      return errors::Unavailable("ExportFailed",
                                 absl::StrCat(options_.traces_url, " answered ", status));
    }
    return absl::OkStatus();
  }

 private:
  TracingOptions options_;
};

}  // namespace

// --- context ---------------------------------------------------------------------------------

bool SpanContext::valid() const { return !AllZero(trace_id) && !AllZero(span_id); }
std::string SpanContext::TraceIdHex() const { return ToHex(trace_id); }
std::string SpanContext::SpanIdHex() const { return ToHex(span_id); }

std::optional<SpanContext> ParseTraceparent(std::string_view header) {
  // version "-" trace-id "-" parent-id "-" flags: 2 + 1 + 32 + 1 + 16 + 1 + 2 = 55
  if (header.size() < 55) return std::nullopt;
  std::array<uint8_t, 1> version{};
  std::array<uint8_t, 1> flags{};
  SpanContext context;
  if (!FromHex(header.substr(0, 2), version) || version[0] == 0xFF) return std::nullopt;
  if (version[0] == 0 && header.size() != 55) return std::nullopt;
  if (version[0] != 0 && header.size() > 55 && header[55] != '-') return std::nullopt;
  if (header[2] != '-' || header[35] != '-' || header[52] != '-') return std::nullopt;
  if (!FromHex(header.substr(3, 32), context.trace_id) ||
      !FromHex(header.substr(36, 16), context.span_id) || !FromHex(header.substr(53, 2), flags)) {
    return std::nullopt;
  }
  if (!context.valid()) return std::nullopt;
  context.sampled = (flags[0] & 0x01) != 0;
  return context;
}

std::string FormatTraceparent(const SpanContext& context) {
  return absl::StrCat("00-", context.TraceIdHex(), "-", context.SpanIdHex(),
                      context.sampled ? "-01" : "-00");
}

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

// --- configuration ---------------------------------------------------------------------------

absl::StatusOr<TracingOptions> TracingOptionsFromEnv(std::string default_service,
                                                     const GetEnvFn& getenv) {
  TracingOptions options;
  auto get = [&](const char* name) -> std::string {
    std::optional<std::string> v = getenv(name);
    return v ? std::string(absl::StripAsciiWhitespace(*v)) : std::string();
  };
  auto milliseconds = [&](const char* name, absl::Duration& out) -> absl::Status {
    const std::string v = get(name);
    if (v.empty()) return absl::OkStatus();
    int64_t ms = 0;
    if (!absl::SimpleAtoi(v, &ms) || ms <= 0) {
      return errors::Invalid("InvalidConfig",
                             absl::StrCat(name, ": must be a positive number of milliseconds"));
    }
    out = absl::Milliseconds(ms);
    return absl::OkStatus();
  };
  auto count = [&](const char* name, size_t& out) -> absl::Status {
    const std::string v = get(name);
    if (v.empty()) return absl::OkStatus();
    if (!absl::SimpleAtoi(v, &out) || out == 0) {
      return errors::Invalid("InvalidConfig", absl::StrCat(name, ": must be a positive integer"));
    }
    return absl::OkStatus();
  };

  options.enabled = absl::AsciiStrToLower(get("OTEL_SDK_DISABLED")) != "true";

  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> resource =
      ParsePairs("OTEL_RESOURCE_ATTRIBUTES", get("OTEL_RESOURCE_ATTRIBUTES"));
  if (!resource.ok()) return resource.status();
  options.service_name = std::move(default_service);
  for (auto& [key, value] : *resource) {
    if (key == "service.name") {
      options.service_name = value;
      continue;
    }
    // A key given twice keeps its last value: OTLP allows each key once.
    auto same = std::find_if(options.resource_attributes.begin(), options.resource_attributes.end(),
                             [&](const auto& attribute) { return attribute.first == key; });
    if (same != options.resource_attributes.end()) {
      same->second = value;
    } else {
      options.resource_attributes.emplace_back(key, value);
    }
  }
  if (std::string name = get("OTEL_SERVICE_NAME"); !name.empty()) options.service_name = name;

  const std::string sampler = absl::AsciiStrToLower(get("OTEL_TRACES_SAMPLER"));
  using Root = Sampler::Root;
  if (sampler.empty() || sampler == "parentbased_always_on") {
    options.sampler = {Root::kAlwaysOn, true};
  } else if (sampler == "always_on") {
    options.sampler = {Root::kAlwaysOn, false};
  } else if (sampler == "always_off") {
    options.sampler = {Root::kAlwaysOff, false};
  } else if (sampler == "traceidratio") {
    options.sampler = {Root::kRatio, false};
  } else if (sampler == "parentbased_always_off") {
    options.sampler = {Root::kAlwaysOff, true};
  } else if (sampler == "parentbased_traceidratio") {
    options.sampler = {Root::kRatio, true};
  } else {
    return errors::Invalid(
        "InvalidConfig",
        absl::StrCat("OTEL_TRACES_SAMPLER: unknown sampler \"", sampler,
                     "\" (always_on, always_off, traceidratio, parentbased_always_on, "
                     "parentbased_always_off, parentbased_traceidratio)"));
  }
  if (options.sampler.root == Root::kRatio) {
    const std::string arg = get("OTEL_TRACES_SAMPLER_ARG");
    if (!arg.empty() && (!absl::SimpleAtod(arg, &options.sampler.ratio) ||
                         options.sampler.ratio < 0 || options.sampler.ratio > 1)) {
      return errors::Invalid("InvalidConfig",
                             "OTEL_TRACES_SAMPLER_ARG: must be a ratio between 0 and 1");
    }
  }

  if (std::string url = get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); !url.empty()) {
    options.traces_url = url;
  } else if (std::string base = get("OTEL_EXPORTER_OTLP_ENDPOINT"); !base.empty()) {
    options.traces_url = absl::StrCat(absl::StripSuffix(base, "/"), "/v1/traces");
  }
  if (!options.traces_url.empty() && options.traces_url.rfind("http://", 0) != 0 &&
      options.traces_url.rfind("https://", 0) != 0) {
    return errors::Invalid("InvalidConfig",
                           "OTEL_EXPORTER_OTLP_ENDPOINT: must be an http:// or https:// URL");
  }
  for (const char* name : {"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"}) {
    absl::StatusOr<std::vector<std::pair<std::string, std::string>>> headers =
        ParsePairs(name, get(name));
    if (!headers.ok()) return headers.status();
    options.headers.insert(options.headers.end(), headers->begin(), headers->end());
  }
  PIXQ_RETURN_IF_ERROR(milliseconds("OTEL_EXPORTER_OTLP_TIMEOUT", options.export_timeout));
  PIXQ_RETURN_IF_ERROR(milliseconds("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", options.export_timeout));
  PIXQ_RETURN_IF_ERROR(milliseconds("OTEL_BSP_SCHEDULE_DELAY", options.flush_interval));
  PIXQ_RETURN_IF_ERROR(count("OTEL_BSP_MAX_QUEUE_SIZE", options.max_queue));
  PIXQ_RETURN_IF_ERROR(count("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", options.max_batch));
  options.max_batch = std::min(options.max_batch, options.max_queue);
  return options;
}

absl::StatusOr<TracingOptions> TracingOptionsFromEnv(std::string default_service) {
  return TracingOptionsFromEnv(std::move(default_service),
                               [](const char* name) -> std::optional<std::string> {
                                 const char* v = std::getenv(name);
                                 if (v == nullptr) return std::nullopt;
                                 return std::string(v);
                               });
}

// --- export ----------------------------------------------------------------------------------

std::string OtlpJson(const TracingOptions& options, const std::vector<SpanData>& spans) {
  nlohmann::json resource_attributes = nlohmann::json::array();
  resource_attributes.push_back(AttributeJson("service.name", options.service_name));
  for (const auto& [key, value] : options.resource_attributes) {
    resource_attributes.push_back(AttributeJson(key, value));
  }
  nlohmann::json out_spans = nlohmann::json::array();
  for (const SpanData& s : spans) {
    nlohmann::json span = {{"traceId", s.context.TraceIdHex()},
                           {"spanId", s.context.SpanIdHex()},
                           {"name", s.name},
                           {"kind", static_cast<int>(s.kind)},
                           {"startTimeUnixNano", std::to_string(UnixNanos(s.start))},
                           {"endTimeUnixNano", std::to_string(UnixNanos(s.end))},
                           {"attributes", nlohmann::json::array()},
                           {"status", {{"code", s.error ? 2 : 0}}}};
    if (!AllZero(s.parent_span_id)) span["parentSpanId"] = ToHex(s.parent_span_id);
    if (s.error && !s.status_message.empty()) span["status"]["message"] = s.status_message;
    for (const auto& [key, value] : s.attributes) {
      span["attributes"].push_back(AttributeJson(key, value));
    }
    out_spans.push_back(std::move(span));
  }
  const nlohmann::json request = {
      {"resourceSpans",
       {{{"resource", {{"attributes", resource_attributes}}},
         {"scopeSpans", {{{"scope", {{"name", "pixq"}}}, {"spans", out_spans}}}}}}}};
  return request.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::unique_ptr<SpanExporter> MakeOtlpHttpExporter(const TracingOptions& options) {
  return std::make_unique<OtlpHttpExporter>(options);
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

absl::StatusOr<std::unique_ptr<Tracer>> TracerFromEnv(std::string default_service,
                                                      Metrics& metrics) {
  absl::StatusOr<TracingOptions> options = TracingOptionsFromEnv(std::move(default_service));
  if (!options.ok()) return options.status();
  std::unique_ptr<SpanExporter> exporter =
      options->traces_url.empty() ? nullptr : MakeOtlpHttpExporter(*options);
  auto tracer = std::make_unique<Tracer>(*options, std::move(exporter));
  tracer->OnDrop([&metrics](int64_t spans) { metrics.CountSpansDropped(spans); });
  LogInfo("tracing", {{"enabled", options->enabled},
                      {"service_name", options->service_name},
                      {"traces_url", options->traces_url}});
  return tracer;
}

}  // namespace pixq::observability
