#include "pkg/job/wire.h"

#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "absl/strings/str_cat.h"

#include "pkg/errors/errors.h"
#include "pkg/job/spec_parser.h"

namespace pixq::job {
namespace {

using nlohmann::json;

constexpr std::string_view kApiVersion = "pixq/v1";
constexpr std::string_view kKind = "ImageJob";

json NullIfEmpty(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

// Which of the two forms of a record is written.
enum class RecordForm { kWire, kApi };

json StatusToJson(const JobStatus& status, RecordForm form, const std::string& job_id) {
  json j = {{"phase", PhaseName(status.phase)},
            {"attempts", status.attempts},
            {"reason", NullIfEmpty(status.reason)},
            {"message", NullIfEmpty(status.message)},
            {"cacheHit", status.cache_hit},
            {"imageId", NullIfEmpty(status.image_id)},
            {"startedAt", NullIfEmpty(status.started_at)},
            {"finishedAt", NullIfEmpty(status.finished_at)},
            {"timings",
             {{"queueMs", status.timings.queue_ms},
              {"fetchMs", status.timings.fetch_ms},
              {"decodeMs", status.timings.decode_ms},
              {"processMs", status.timings.process_ms},
              {"encodeMs", status.timings.encode_ms},
              {"storeMs", status.timings.store_ms}}}};
  if (status.output) {
    json out = {{"format", FormatName(status.output->format)},
                {"width", status.output->width},
                {"height", status.output->height},
                {"bytes", status.output->bytes}};
    if (form == RecordForm::kApi) {
      out["url"] = absl::StrCat("/v1/jobs/", job_id, "/output");
    } else {
      out["path"] = status.output->path;
    }
    j["output"] = std::move(out);
  } else {
    j["output"] = nullptr;
  }
  j["worker"] = NullIfEmpty(status.worker);
  // Only once retried, so that records of jobs never retried read as they always have.
  if (status.retries > 0) j["retries"] = status.retries;
  return j;
}

json RecordToJson(const JobRecord& record, RecordForm form) {
  json metadata = {{"id", record.id}, {"createdAt", record.created_at}};
  metadata["labels"] = record.spec.labels.empty() ? json::object() : json(record.spec.labels);
  if (form == RecordForm::kWire) {
    metadata["outputKey"] = record.output_key;
    if (!record.idempotency_key.empty()) {
      metadata["idempotencyKey"] = record.idempotency_key;
      metadata["requestHash"] = record.request_hash;
    }
    if (!record.retry_idempotency_key.empty()) {
      metadata["retryIdempotencyKey"] = record.retry_idempotency_key;
      metadata["retryRequestHash"] = record.retry_request_hash;
    }
  }
  if (!record.batch_id.empty()) {
    metadata["batchId"] = record.batch_id;
    metadata["batchIndex"] = record.batch_index;
  }
  if (!record.trace_id.empty()) metadata["traceId"] = record.trace_id;
  json spec = ToJson(record.spec);
  spec.erase("labels");  // they are metadata.labels
  return {{"apiVersion", kApiVersion},
          {"kind", kKind},
          {"metadata", std::move(metadata)},
          {"spec", std::move(spec)},
          {"status", StatusToJson(record.status, form, record.id)}};
}

// Lenient readers for the wire form: pixq wrote it, so missing fields take defaults.
std::string StrOr(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}
int64_t IntOr(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<int64_t>() : 0;
}

Timings TimingsFromJson(const json& t) {
  return {.queue_ms = IntOr(t, "queueMs"),
          .fetch_ms = IntOr(t, "fetchMs"),
          .decode_ms = IntOr(t, "decodeMs"),
          .process_ms = IntOr(t, "processMs"),
          .encode_ms = IntOr(t, "encodeMs"),
          .store_ms = IntOr(t, "storeMs")};
}

OutputInfo OutputInfoFromJson(const json& o) {
  return {.path = StrOr(o, "path"),
          .format = ParseFormat(StrOr(o, "format")).value_or(Format::kJpeg),
          .width = static_cast<int>(IntOr(o, "width")),
          .height = static_cast<int>(IntOr(o, "height")),
          .bytes = IntOr(o, "bytes")};
}

JobStatus StatusFromJson(const json& st) {
  JobStatus status;
  status.phase = ParsePhase(StrOr(st, "phase")).value_or(Phase::kPending);
  status.attempts = static_cast<int>(IntOr(st, "attempts"));
  status.retries = static_cast<int>(IntOr(st, "retries"));
  status.reason = StrOr(st, "reason");
  status.message = StrOr(st, "message");
  status.cache_hit = st.value("cacheHit", false);
  status.image_id = StrOr(st, "imageId");
  status.started_at = StrOr(st, "startedAt");
  status.finished_at = StrOr(st, "finishedAt");
  status.worker = StrOr(st, "worker");
  if (auto t = st.find("timings"); t != st.end() && t->is_object()) {
    status.timings = TimingsFromJson(*t);
  }
  if (auto o = st.find("output"); o != st.end() && o->is_object()) {
    status.output = OutputInfoFromJson(*o);
  }
  return status;
}

}  // namespace

json ToJson(const Step& step) {
  return std::visit(
      [&step](const auto& s) -> json {
        using T = std::decay_t<decltype(s)>;
        json j = {{"op", OpName(step)}};
        if constexpr (std::is_same_v<T, Resize>) {
          j["fit"] = FitName(s.fit);
          j["upscale"] = s.upscale;
          j["width"] = s.width ? json(*s.width) : json(nullptr);
          j["height"] = s.height ? json(*s.height) : json(nullptr);
        } else if constexpr (std::is_same_v<T, Crop>) {
          j["width"] = s.width;
          j["height"] = s.height;
          if (s.x) {
            j["x"] = *s.x;
            j["y"] = *s.y;
          } else {
            j["gravity"] = GravityName(s.gravity);
          }
        } else if constexpr (std::is_same_v<T, Rotate>) {
          j["degrees"] = s.degrees;
        } else if constexpr (std::is_same_v<T, Blur>) {
          j["sigma"] = s.sigma;
        } else if constexpr (std::is_same_v<T, Sharpen>) {
          j["sigma"] = s.sigma;
          j["amount"] = s.amount;
        }
        // Mirror, Flip and Grayscale have no fields.
        return j;
      },
      step);
}

json ToJson(const OutputSpec& output) {
  json j = {{"format", FormatName(output.format)}};
  if (output.format != Format::kPng) j["quality"] = EffectiveQuality(output);
  if (output.max_bytes) j["maxBytes"] = *output.max_bytes;
  return j;
}

json ToJson(const JobSpec& spec) {
  json source = json::object();
  if (!spec.source.image_id.empty()) source["imageId"] = spec.source.image_id;
  if (!spec.source.url.empty()) source["url"] = spec.source.url;
  json steps = json::array();
  for (const Step& step : spec.steps) steps.push_back(ToJson(step));
  json j = {{"source", std::move(source)},
            {"steps", std::move(steps)},
            {"output", ToJson(spec.output)},
            {"callbackUrl", NullIfEmpty(spec.callback_url)}};
  if (!spec.labels.empty()) j["labels"] = spec.labels;
  return j;
}

json ToJson(const JobRecord& record) { return RecordToJson(record, RecordForm::kWire); }
json ToApiJson(const JobRecord& record) { return RecordToJson(record, RecordForm::kApi); }

json ToJson(const ImageMeta& meta) {
  return {{"id", meta.id},
          {"title", meta.title},
          {"filename", meta.filename},
          {"format", FormatName(meta.format)},
          {"width", meta.width},
          {"height", meta.height},
          {"bytes", meta.bytes},
          {"createdAt", meta.created_at}};
}

json ToApiJson(const ImageMeta& meta) {
  json j = ToJson(meta);
  j["contentUrl"] = absl::StrCat("/v1/images/", meta.id, "/content");
  // pixq reads a GIF's first frame only (an animation's later frames are not used); the answer
  // says so rather than leave a user to find a still where they sent a moving picture.
  if (meta.format == Format::kGif) j["firstFrameOnly"] = true;
  return j;
}

absl::StatusOr<JobRecord> RecordFromJson(std::string_view text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("metadata") || !doc.contains("spec") ||
      !doc["metadata"].is_object()) {
    return errors::Make(errors::Reason::kInvalidRecord, "not a job record");
  }
  JobRecord record;
  const json& metadata = doc["metadata"];
  record.id = StrOr(metadata, "id");
  record.created_at = StrOr(metadata, "createdAt");
  record.output_key = StrOr(metadata, "outputKey");
  record.idempotency_key = StrOr(metadata, "idempotencyKey");
  record.request_hash = StrOr(metadata, "requestHash");
  record.retry_idempotency_key = StrOr(metadata, "retryIdempotencyKey");
  record.retry_request_hash = StrOr(metadata, "retryRequestHash");
  record.batch_id = StrOr(metadata, "batchId");
  record.trace_id = StrOr(metadata, "traceId");
  if (!record.batch_id.empty()) {
    record.batch_index = static_cast<int>(IntOr(metadata, "batchIndex"));
  }
  const ValidationLimits unlimited{.max_steps = 1 << 20, .max_output_dimension = 1 << 30};
  absl::StatusOr<JobSpec> spec = ParseSpecObject(doc["spec"], "spec", unlimited);
  if (!spec.ok()) {
    return errors::Make(errors::Reason::kInvalidRecord,
                        absl::StrCat("job record: ", spec.status().message()));
  }
  record.spec = *std::move(spec);
  if (auto it = metadata.find("labels"); it != metadata.end() && it->is_object()) {
    for (auto l = it->begin(); l != it->end(); ++l) {
      if (l->is_string()) record.spec.labels[l.key()] = l->get<std::string>();
    }
  }
  if (auto it = doc.find("status"); it != doc.end() && it->is_object()) {
    record.status = StatusFromJson(*it);
  }
  return record;
}

absl::StatusOr<ImageMeta> ImageMetaFromJson(std::string_view text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("id")) {
    return errors::Make(errors::Reason::kInvalidRecord, "not an image record");
  }
  ImageMeta meta;
  meta.id = StrOr(doc, "id");
  meta.title = StrOr(doc, "title");
  meta.filename = StrOr(doc, "filename");
  meta.format = ParseImageFormat(StrOr(doc, "format")).value_or(Format::kJpeg);
  meta.width = static_cast<int>(IntOr(doc, "width"));
  meta.height = static_cast<int>(IntOr(doc, "height"));
  meta.bytes = IntOr(doc, "bytes");
  meta.created_at = StrOr(doc, "createdAt");
  return meta;
}

}  // namespace pixq::job
