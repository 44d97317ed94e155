#include "pkg/job/json.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include "pkg/crypto/sha256.h"
#include "pkg/errors/errors.h"
#include "pkg/job/ids.h"

namespace pixq::job {
namespace {

using nlohmann::json;

constexpr size_t kMaxUrlLength = 2048;
constexpr size_t kMaxLabels = 32;
constexpr size_t kMaxLabelKey = 63;
constexpr size_t kMaxLabelValue = 256;

absl::Status SpecError(std::string_view path, std::string_view what) {
  return errors::Make(absl::StatusCode::kInvalidArgument, "InvalidSpec",
                      absl::StrCat(errors::Sv(path), ": ", errors::Sv(what)));
}

// An object being read field by field. Remembers which keys were read so that Finish() can refuse
// the ones nobody asked for.
class ObjectReader {
 public:
  ObjectReader(const json& obj, std::string path) : obj_(obj), path_(std::move(path)) {}

  std::string PathOf(std::string_view key) const {
    return path_.empty() ? std::string(key) : absl::StrCat(path_, ".", errors::Sv(key));
  }

  const json* Get(std::string_view key) {
    seen_.insert(std::string(key));
    auto it = obj_.find(key);
    if (it == obj_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  absl::Status Int(std::string_view key, int min, int max, std::optional<int>& out) {
    const json* v = Get(key);
    if (v == nullptr) return absl::OkStatus();
    if (!IsWhole(*v) || v->get<double>() < min || v->get<double>() > max) {
      return SpecError(PathOf(key), absl::StrCat("must be an integer ", min, "..", max));
    }
    out = static_cast<int>(v->get<double>());
    return absl::OkStatus();
  }

  absl::Status RequiredInt(std::string_view key, int min, int max, int& out) {
    std::optional<int> value;
    if (absl::Status s = Int(key, min, max, value); !s.ok()) return s;
    if (!value) return SpecError(PathOf(key), "is required");
    out = *value;
    return absl::OkStatus();
  }

  absl::Status Int64(std::string_view key, int64_t min, int64_t max, std::optional<int64_t>& out) {
    const json* v = Get(key);
    if (v == nullptr) return absl::OkStatus();
    if (!IsWhole(*v) || v->get<double>() < static_cast<double>(min) ||
        v->get<double>() > static_cast<double>(max)) {
      return SpecError(PathOf(key), absl::StrCat("must be an integer ", min, "..", max));
    }
    out = v->get<int64_t>();
    return absl::OkStatus();
  }

  absl::Status Number(std::string_view key, double min, double max, double& out) {
    const json* v = Get(key);
    if (v == nullptr) return absl::OkStatus();
    if (!v->is_number() || !std::isfinite(v->get<double>()) || v->get<double>() < min ||
        v->get<double>() > max) {
      return SpecError(PathOf(key), absl::StrCat("must be a number ", min, "..", max));
    }
    out = v->get<double>();
    return absl::OkStatus();
  }

  absl::Status Bool(std::string_view key, bool& out) {
    const json* v = Get(key);
    if (v == nullptr) return absl::OkStatus();
    if (!v->is_boolean()) return SpecError(PathOf(key), "must be true or false");
    out = v->get<bool>();
    return absl::OkStatus();
  }

  absl::Status String(std::string_view key, size_t max_length, std::string& out) {
    const json* v = Get(key);
    if (v == nullptr) return absl::OkStatus();
    if (!v->is_string()) return SpecError(PathOf(key), "must be a string");
    out = v->get<std::string>();
    if (out.size() > max_length) {
      return SpecError(PathOf(key), absl::StrCat("must be at most ", max_length, " characters"));
    }
    return absl::OkStatus();
  }

  // One of `names`; `index` receives the position in `names`.
  absl::Status Enum(std::string_view key, const std::vector<absl::string_view>& names,
                    size_t& index) {
    const json* v = Get(key);
    if (v == nullptr) return absl::OkStatus();
    if (v->is_string()) {
      const std::string s = v->get<std::string>();
      for (size_t i = 0; i < names.size(); ++i) {
        if (names[i] == s) {
          index = i;
          return absl::OkStatus();
        }
      }
    }
    return SpecError(PathOf(key), absl::StrCat("must be one of ", absl::StrJoin(names, ", ")));
  }

  // Refuses any field not in `allowed`, before the values are looked at, so that a typo is
  // reported as such rather than as the missing field it was meant to be.
  absl::Status OnlyFields(std::initializer_list<std::string_view> allowed) const {
    for (auto it = obj_.begin(); it != obj_.end(); ++it) {
      if (std::find(allowed.begin(), allowed.end(), it.key()) == allowed.end()) {
        return SpecError(PathOf(it.key()), "unknown field");
      }
    }
    return absl::OkStatus();
  }

  absl::Status Finish() const {
    for (auto it = obj_.begin(); it != obj_.end(); ++it) {
      if (!seen_.contains(it.key())) return SpecError(PathOf(it.key()), "unknown field");
    }
    return absl::OkStatus();
  }

 private:
  static bool IsWhole(const json& v) {
    if (v.is_number_integer() || v.is_number_unsigned()) return true;
    if (!v.is_number_float()) return false;
    const double d = v.get<double>();
    return std::isfinite(d) && std::floor(d) == d;
  }

  const json& obj_;
  std::string path_;
  std::set<std::string, std::less<>> seen_;
};

const std::vector<absl::string_view> kFitNames = {"inside", "cover", "fill"};
const std::vector<absl::string_view> kGravityNames = {
    "center", "north", "south", "east", "west", "northeast", "northwest", "southeast", "southwest"};
const std::vector<absl::string_view> kFormatNames = {"jpeg", "png", "webp", "jpg"};
const std::vector<absl::string_view> kOpNames = [] {
  std::vector<absl::string_view> names;
  for (std::string_view op : kStepOps) names.push_back(errors::Sv(op));
  return names;
}();

bool IsHttpUrl(std::string_view url) {
  return absl::StartsWithIgnoreCase(errors::Sv(url), "http://") ||
         absl::StartsWithIgnoreCase(errors::Sv(url), "https://");
}

absl::StatusOr<Step> ParseStep(const json& doc, const std::string& path,
                               const ValidationLimits& limits) {
  if (!doc.is_object()) return SpecError(path, "must be an object with an \"op\"");
  ObjectReader r(doc, path);
  size_t op = kOpNames.size();
  const json* op_value = r.Get("op");
  if (op_value == nullptr) return SpecError(r.PathOf("op"), "is required");
  PIXQ_RETURN_IF_ERROR(r.Enum("op", kOpNames, op));
  static const std::initializer_list<std::string_view> kFields[] = {
      {"op", "width", "height", "fit", "upscale"},
      {"op", "x", "y", "width", "height", "gravity"},
      {"op", "degrees"},
      {"op"},
      {"op"},
      {"op"},
      {"op", "sigma"},
      {"op", "sigma", "amount"}};
  if (op < kOpNames.size()) PIXQ_RETURN_IF_ERROR(r.OnlyFields(kFields[op]));
  const int max_dim = limits.max_output_dimension;
  Step step;
  switch (op) {
    case 0: {
      Resize s;
      PIXQ_RETURN_IF_ERROR(r.Int("width", 1, max_dim, s.width));
      PIXQ_RETURN_IF_ERROR(r.Int("height", 1, max_dim, s.height));
      size_t fit = 0;
      PIXQ_RETURN_IF_ERROR(r.Enum("fit", kFitNames, fit));
      s.fit = static_cast<Fit>(fit);
      PIXQ_RETURN_IF_ERROR(r.Bool("upscale", s.upscale));
      if (!s.width && !s.height) return SpecError(path, "resize needs width, height or both");
      if (s.fit != Fit::kInside && !(s.width && s.height)) {
        return SpecError(path, "fit cover and fill need both width and height");
      }
      step = s;
      break;
    }
    case 1: {
      Crop s;
      PIXQ_RETURN_IF_ERROR(r.Int("x", 0, std::numeric_limits<int>::max(), s.x));
      PIXQ_RETURN_IF_ERROR(r.Int("y", 0, std::numeric_limits<int>::max(), s.y));
      PIXQ_RETURN_IF_ERROR(r.RequiredInt("width", 1, max_dim, s.width));
      PIXQ_RETURN_IF_ERROR(r.RequiredInt("height", 1, max_dim, s.height));
      size_t gravity = 0;
      PIXQ_RETURN_IF_ERROR(r.Enum("gravity", kGravityNames, gravity));
      s.gravity = static_cast<Gravity>(gravity);
      if (s.x.has_value() != s.y.has_value()) return SpecError(path, "crop needs both x and y");
      if (s.x && r.Get("gravity") != nullptr) {
        return SpecError(path, "crop takes x and y, or gravity, not both");
      }
      step = s;
      break;
    }
    case 2: {
      Rotate s;
      std::optional<int> degrees;
      PIXQ_RETURN_IF_ERROR(r.Int("degrees", -270, 360, degrees));
      if (!degrees) return SpecError(r.PathOf("degrees"), "is required");
      const int normalised = ((*degrees % 360) + 360) % 360;
      if (normalised % 90 != 0 || normalised == 0) {
        return SpecError(r.PathOf("degrees"), "must be 90, 180 or 270");
      }
      s.degrees = normalised;
      step = s;
      break;
    }
    case 3:
      step = Mirror{};
      break;
    case 4:
      step = Flip{};
      break;
    case 5:
      step = Grayscale{};
      break;
    case 6: {
      Blur s;
      PIXQ_RETURN_IF_ERROR(r.Number("sigma", 0.1, 100, s.sigma));
      step = s;
      break;
    }
    case 7: {
      Sharpen s;
      PIXQ_RETURN_IF_ERROR(r.Number("sigma", 0.1, 10, s.sigma));
      PIXQ_RETURN_IF_ERROR(r.Number("amount", 0, 10, s.amount));
      step = s;
      break;
    }
    default:
      return SpecError(r.PathOf("op"), "unknown operation");
  }
  PIXQ_RETURN_IF_ERROR(r.Finish());
  return step;
}

absl::StatusOr<JobSpec> ParseSpecObject(const json& doc, const std::string& path,
                                        const ValidationLimits& limits) {
  if (!doc.is_object()) return SpecError(path.empty() ? "spec" : path, "must be an object");
  ObjectReader r(doc, path);
  JobSpec spec;

  const json* source = r.Get("source");
  if (source == nullptr) return SpecError(r.PathOf("source"), "is required");
  if (!source->is_object()) {
    return SpecError(r.PathOf("source"), "must be an object with imageId or url");
  }
  ObjectReader sr(*source, r.PathOf("source"));
  PIXQ_RETURN_IF_ERROR(sr.String("imageId", 64, spec.source.image_id));
  PIXQ_RETURN_IF_ERROR(sr.String("url", kMaxUrlLength, spec.source.url));
  PIXQ_RETURN_IF_ERROR(sr.Finish());
  if (spec.source.image_id.empty() == spec.source.url.empty()) {
    return SpecError(r.PathOf("source"), "needs exactly one of imageId and url");
  }
  if (!spec.source.image_id.empty() && !IsSha256Hex(spec.source.image_id)) {
    return SpecError(sr.PathOf("imageId"), "must be an image id (64 lowercase hex characters)");
  }
  if (!spec.source.url.empty() && !IsHttpUrl(spec.source.url)) {
    return SpecError(sr.PathOf("url"), "must be an http:// or https:// URL");
  }

  if (const json* steps = r.Get("steps")) {
    if (!steps->is_array()) return SpecError(r.PathOf("steps"), "must be an array");
    if (steps->size() > static_cast<size_t>(limits.max_steps)) {
      return errors::Make(absl::StatusCode::kInvalidArgument, "TooManySteps",
                          absl::StrCat(r.PathOf("steps"), ": at most ", limits.max_steps,
                                       " steps, got ", steps->size()));
    }
    for (size_t i = 0; i < steps->size(); ++i) {
      absl::StatusOr<Step> step =
          ParseStep((*steps)[i], absl::StrCat(r.PathOf("steps"), "[", i, "]"), limits);
      if (!step.ok()) return step.status();
      spec.steps.push_back(*std::move(step));
    }
  }

  if (const json* output = r.Get("output")) {
    if (!output->is_object()) return SpecError(r.PathOf("output"), "must be an object");
    ObjectReader outr(*output, r.PathOf("output"));
    size_t format = 0;
    PIXQ_RETURN_IF_ERROR(outr.Enum("format", kFormatNames, format));
    spec.output.format = format == 3 ? Format::kJpeg : static_cast<Format>(format);
    PIXQ_RETURN_IF_ERROR(outr.Int("quality", 1, 100, spec.output.quality));
    PIXQ_RETURN_IF_ERROR(
        outr.Int64("maxBytes", 100, std::numeric_limits<int32_t>::max(), spec.output.max_bytes));
    PIXQ_RETURN_IF_ERROR(outr.Finish());
    if (spec.output.format == Format::kPng) spec.output.quality.reset();  // lossless
  }

  PIXQ_RETURN_IF_ERROR(r.String("callbackUrl", kMaxUrlLength, spec.callback_url));
  if (!spec.callback_url.empty() && !IsHttpUrl(spec.callback_url)) {
    return SpecError(r.PathOf("callbackUrl"), "must be an http:// or https:// URL");
  }
  PIXQ_RETURN_IF_ERROR(r.Finish());
  return spec;
}

absl::Status ParseLabels(const json& doc, const std::string& path,
                         std::map<std::string, std::string>& labels) {
  if (!doc.is_object()) return SpecError(path, "must be an object of strings");
  if (doc.size() > kMaxLabels) {
    return SpecError(path, absl::StrCat("at most ", kMaxLabels, " labels"));
  }
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    if (it.key().empty() || it.key().size() > kMaxLabelKey) {
      return SpecError(path, absl::StrCat("label names must be 1..", kMaxLabelKey, " characters"));
    }
    if (!it->is_string() || it->get<std::string>().size() > kMaxLabelValue) {
      return SpecError(absl::StrCat(path, ".", it.key()),
                       absl::StrCat("must be a string of at most ", kMaxLabelValue, " characters"));
    }
    labels[it.key()] = it->get<std::string>();
  }
  return absl::OkStatus();
}

// --- wire form -------------------------------------------------------------------------------

json StepToJson(const Step& step) {
  return std::visit(
      [](const auto& s) -> json {
        using T = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<T, Resize>) {
          json j = {{"op", "resize"},
                    {"fit", kFitNames[static_cast<size_t>(s.fit)]},
                    {"upscale", s.upscale}};
          j["width"] = s.width ? json(*s.width) : json(nullptr);
          j["height"] = s.height ? json(*s.height) : json(nullptr);
          return j;
        } else if constexpr (std::is_same_v<T, Crop>) {
          json j = {{"op", "crop"}, {"width", s.width}, {"height", s.height}};
          if (s.x) {
            j["x"] = *s.x;
            j["y"] = *s.y;
          } else {
            j["gravity"] = kGravityNames[static_cast<size_t>(s.gravity)];
          }
          return j;
        } else if constexpr (std::is_same_v<T, Rotate>) {
          return {{"op", "rotate"}, {"degrees", s.degrees}};
        } else if constexpr (std::is_same_v<T, Mirror>) {
          return {{"op", "mirror"}};
        } else if constexpr (std::is_same_v<T, Flip>) {
          return {{"op", "flip"}};
        } else if constexpr (std::is_same_v<T, Grayscale>) {
          return {{"op", "grayscale"}};
        } else if constexpr (std::is_same_v<T, Blur>) {
          return {{"op", "blur"}, {"sigma", s.sigma}};
        } else {
          return {{"op", "sharpen"}, {"sigma", s.sigma}, {"amount", s.amount}};
        }
      },
      step);
}

json OutputToJson(const OutputSpec& output) {
  json j = {{"format", FormatName(output.format)}};
  if (output.format != Format::kPng) j["quality"] = EffectiveQuality(output);
  if (output.max_bytes) j["maxBytes"] = *output.max_bytes;
  return j;
}

json NullIfEmpty(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

json StatusToJson(const JobStatus& status, bool api_form, const std::string& job_id) {
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
    if (api_form) {
      out["url"] = absl::StrCat("/v1/jobs/", job_id, "/output");
    } else {
      out["path"] = status.output->path;
    }
    j["output"] = std::move(out);
  } else {
    j["output"] = nullptr;
  }
  j["worker"] = NullIfEmpty(status.worker);
  return j;
}

json RecordToJson(const JobRecord& record, bool api_form) {
  json metadata = {{"id", record.id}, {"createdAt", record.created_at}};
  metadata["labels"] = record.spec.labels.empty() ? json::object() : json(record.spec.labels);
  if (!api_form) {
    metadata["outputKey"] = record.output_key;
    if (!record.idempotency_key.empty()) {
      metadata["idempotencyKey"] = record.idempotency_key;
      metadata["requestHash"] = record.request_hash;
    }
  }
  if (!record.batch_id.empty()) {
    metadata["batchId"] = record.batch_id;
    metadata["batchIndex"] = record.batch_index;
  }
  json spec = ToJson(record.spec);
  spec.erase("labels");
  return {{"apiVersion", "pixq/v1"},
          {"kind", "ImageJob"},
          {"metadata", std::move(metadata)},
          {"spec", std::move(spec)},
          {"status", StatusToJson(record.status, api_form, record.id)}};
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

}  // namespace

absl::StatusOr<JobSpec> JobSpecFromJson(const json& doc, const ValidationLimits& limits) {
  if (!doc.is_object()) return SpecError("job", "must be a JSON object");
  if (!doc.contains("spec")) {
    // The bare spec, labels allowed beside it.
    json bare = doc;
    std::map<std::string, std::string> labels;
    if (auto it = bare.find("labels"); it != bare.end()) {
      PIXQ_RETURN_IF_ERROR(ParseLabels(*it, "labels", labels));
      bare.erase("labels");
    }
    absl::StatusOr<JobSpec> spec = ParseSpecObject(bare, "", limits);
    if (spec.ok()) spec->labels = std::move(labels);
    return spec;
  }
  ObjectReader r(doc, "");
  std::string api_version = "pixq/v1";
  std::string kind = "ImageJob";
  PIXQ_RETURN_IF_ERROR(r.String("apiVersion", 64, api_version));
  PIXQ_RETURN_IF_ERROR(r.String("kind", 64, kind));
  if (api_version != "pixq/v1") return SpecError("apiVersion", "must be pixq/v1");
  if (kind != "ImageJob") return SpecError("kind", "must be ImageJob");
  std::map<std::string, std::string> labels;
  if (const json* metadata = r.Get("metadata")) {
    if (!metadata->is_object()) return SpecError("metadata", "must be an object");
    ObjectReader mr(*metadata, "metadata");
    if (const json* l = mr.Get("labels")) {
      PIXQ_RETURN_IF_ERROR(ParseLabels(*l, "metadata.labels", labels));
    }
    PIXQ_RETURN_IF_ERROR(mr.Finish());
  }
  r.Get("status");  // a client may echo a resource back; status is ours and ignored
  absl::StatusOr<JobSpec> spec = ParseSpecObject(doc["spec"], "spec", limits);
  r.Get("spec");
  if (!spec.ok()) return spec.status();
  PIXQ_RETURN_IF_ERROR(r.Finish());
  spec->labels = std::move(labels);
  return spec;
}

absl::StatusOr<JobSpec> ParseJobSpec(std::string_view text, const ValidationLimits& limits) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return errors::Invalid("MalformedJson", "the request body is not valid JSON");
  }
  return JobSpecFromJson(doc, limits);
}

std::string CanonicalJson(const JobSpec& spec) {
  json steps = json::array();
  for (const Step& step : spec.steps) steps.push_back(StepToJson(step));
  // nlohmann::json keeps object keys sorted, so dump() is canonical for a given value.
  return json{{"steps", std::move(steps)}, {"output", OutputToJson(spec.output)}}.dump();
}

std::string OutputKey(std::string_view image_id, const JobSpec& spec) {
  crypto::Sha256 hash;
  hash.Update(image_id);
  hash.Update("\n");
  hash.Update(CanonicalJson(spec));
  return hash.HexDigest();
}

json ToJson(const JobSpec& spec) {
  json source = json::object();
  if (!spec.source.image_id.empty()) source["imageId"] = spec.source.image_id;
  if (!spec.source.url.empty()) source["url"] = spec.source.url;
  json steps = json::array();
  for (const Step& step : spec.steps) steps.push_back(StepToJson(step));
  json j = {{"source", std::move(source)},
            {"steps", std::move(steps)},
            {"output", OutputToJson(spec.output)},
            {"callbackUrl", NullIfEmpty(spec.callback_url)}};
  if (!spec.labels.empty()) j["labels"] = spec.labels;
  return j;
}

json ToJson(const JobRecord& record) { return RecordToJson(record, /*api_form=*/false); }
json ToApiJson(const JobRecord& record) { return RecordToJson(record, /*api_form=*/true); }

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
  return j;
}

absl::StatusOr<JobRecord> RecordFromJson(std::string_view text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("metadata") || !doc.contains("spec") ||
      !doc["metadata"].is_object()) {
    return errors::Invalid("InvalidRecord", "not a job record");
  }
  JobRecord record;
  const json& metadata = doc["metadata"];
  record.id = StrOr(metadata, "id");
  record.created_at = StrOr(metadata, "createdAt");
  record.output_key = StrOr(metadata, "outputKey");
  record.idempotency_key = StrOr(metadata, "idempotencyKey");
  record.request_hash = StrOr(metadata, "requestHash");
  record.batch_id = StrOr(metadata, "batchId");
  if (!record.batch_id.empty())
    record.batch_index = static_cast<int>(IntOr(metadata, "batchIndex"));
  // The spec was validated when it was accepted; read it back without the limits of the day, so
  // that lowering a limit does not make old records unreadable.
  ValidationLimits unlimited{.max_steps = 1 << 20, .max_output_dimension = 1 << 30};
  json spec_doc = doc["spec"];
  if (auto it = metadata.find("labels"); it != metadata.end() && it->is_object()) {
    for (auto l = it->begin(); l != it->end(); ++l) {
      if (l->is_string()) record.spec.labels[l.key()] = l->get<std::string>();
    }
  }
  absl::StatusOr<JobSpec> spec = ParseSpecObject(spec_doc, "spec", unlimited);
  if (!spec.ok()) {
    return errors::Invalid("InvalidRecord", absl::StrCat("job record: ", spec.status().message()));
  }
  spec->labels = std::move(record.spec.labels);
  record.spec = *std::move(spec);
  if (auto it = doc.find("status"); it != doc.end() && it->is_object()) {
    const json& st = *it;
    JobStatus& status = record.status;
    status.phase = ParsePhase(StrOr(st, "phase")).value_or(Phase::kPending);
    status.attempts = static_cast<int>(IntOr(st, "attempts"));
    status.reason = StrOr(st, "reason");
    status.message = StrOr(st, "message");
    status.cache_hit = st.value("cacheHit", false);
    status.image_id = StrOr(st, "imageId");
    status.started_at = StrOr(st, "startedAt");
    status.finished_at = StrOr(st, "finishedAt");
    status.worker = StrOr(st, "worker");
    if (auto t = st.find("timings"); t != st.end() && t->is_object()) {
      status.timings = {IntOr(*t, "queueMs"),   IntOr(*t, "fetchMs"),  IntOr(*t, "decodeMs"),
                        IntOr(*t, "processMs"), IntOr(*t, "encodeMs"), IntOr(*t, "storeMs")};
    }
    if (auto o = st.find("output"); o != st.end() && o->is_object()) {
      OutputInfo out;
      out.path = StrOr(*o, "path");
      out.format = ParseFormat(StrOr(*o, "format")).value_or(Format::kJpeg);
      out.width = static_cast<int>(IntOr(*o, "width"));
      out.height = static_cast<int>(IntOr(*o, "height"));
      out.bytes = IntOr(*o, "bytes");
      status.output = std::move(out);
    }
  }
  return record;
}

absl::StatusOr<ImageMeta> ImageMetaFromJson(std::string_view text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("id")) {
    return errors::Invalid("InvalidRecord", "not an image record");
  }
  ImageMeta meta;
  meta.id = StrOr(doc, "id");
  meta.title = StrOr(doc, "title");
  meta.filename = StrOr(doc, "filename");
  meta.format = ParseFormat(StrOr(doc, "format")).value_or(Format::kJpeg);
  meta.width = static_cast<int>(IntOr(doc, "width"));
  meta.height = static_cast<int>(IntOr(doc, "height"));
  meta.bytes = IntOr(doc, "bytes");
  meta.created_at = StrOr(doc, "createdAt");
  return meta;
}

}  // namespace pixq::job
