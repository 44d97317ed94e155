#include "pkg/job/spec_parser.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include "pkg/errors/errors.h"
#include "pkg/job/ids.h"

namespace pixq::job {
namespace {

using nlohmann::json;

constexpr size_t kMaxUrlLength = 2048;
constexpr size_t kMaxImageIdLength = 64;
constexpr size_t kMaxLabels = 32;
constexpr size_t kMaxLabelKey = 63;
constexpr size_t kMaxLabelValue = 256;
constexpr size_t kMaxEnvelopeString = 64;  // apiVersion, kind

absl::Status SpecError(std::string_view path, std::string_view what) {
  return errors::Make(errors::Reason::kInvalidSpec,
                      absl::StrCat(errors::Sv(path), ": ", errors::Sv(what)));
}

// "must be one of a, b, c", the names in their table's order.
template <typename Names>
std::string OneOf(const Names& names) {
  return absl::StrCat("must be one of ",
                      absl::StrJoin(names, ", ", [](std::string* out, const auto& named) {
                        absl::StrAppend(out, errors::Sv(named.name));
                      }));
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
    PIXQ_RETURN_IF_ERROR(Int(key, min, max, value));
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

  // One of the names in `names` (see spec.h's Named); `out` receives the value it stands for.
  template <typename T, size_t N>
  absl::Status Enum(std::string_view key, const std::array<Named<T>, N>& names, T& out) {
    const json* v = Get(key);
    if (v == nullptr) return absl::OkStatus();
    if (v->is_string()) {
      const std::string& name = v->get_ref<const std::string&>();
      for (const Named<T>& named : names) {
        if (named.name == name) {
          out = named.value;
          return absl::OkStatus();
        }
      }
    }
    return SpecError(PathOf(key), OneOf(names));
  }

  // Refuses any field not in `allowed`, before the values are looked at, so that a typo is
  // reported as such rather than as the missing field it was meant to be.
  absl::Status OnlyFields(std::span<const std::string_view> allowed) const {
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

bool IsHttpUrl(std::string_view url) {
  return absl::StartsWithIgnoreCase(errors::Sv(url), "http://") ||
         absl::StartsWithIgnoreCase(errors::Sv(url), "https://");
}

// --- steps: one reader per op ------------------------------------------------------------------
// Each reads its fields in the order that decides which error a client sees first.

absl::StatusOr<Step> ReadResize(ObjectReader& r, const std::string& path,
                                const ValidationLimits& limits) {
  Resize s;
  PIXQ_RETURN_IF_ERROR(r.Int("width", 1, limits.max_output_dimension, s.width));
  PIXQ_RETURN_IF_ERROR(r.Int("height", 1, limits.max_output_dimension, s.height));
  PIXQ_RETURN_IF_ERROR(r.Enum("fit", kFitNames, s.fit));
  PIXQ_RETURN_IF_ERROR(r.Bool("upscale", s.upscale));
  if (!s.width && !s.height) return SpecError(path, "resize needs width, height or both");
  if (s.fit != Fit::kInside && !(s.width && s.height)) {
    return SpecError(path, "fit cover and fill need both width and height");
  }
  return s;
}

absl::StatusOr<Step> ReadCrop(ObjectReader& r, const std::string& path,
                              const ValidationLimits& limits) {
  Crop s;
  PIXQ_RETURN_IF_ERROR(r.Int("x", 0, std::numeric_limits<int>::max(), s.x));
  PIXQ_RETURN_IF_ERROR(r.Int("y", 0, std::numeric_limits<int>::max(), s.y));
  PIXQ_RETURN_IF_ERROR(r.RequiredInt("width", 1, limits.max_output_dimension, s.width));
  PIXQ_RETURN_IF_ERROR(r.RequiredInt("height", 1, limits.max_output_dimension, s.height));
  PIXQ_RETURN_IF_ERROR(r.Enum("gravity", kGravityNames, s.gravity));
  if (s.x.has_value() != s.y.has_value()) return SpecError(path, "crop needs both x and y");
  if (s.x && r.Get("gravity") != nullptr) {
    return SpecError(path, "crop takes x and y, or gravity, not both");
  }
  return s;
}

absl::StatusOr<Step> ReadRotate(ObjectReader& r, const std::string& /*path*/,
                                const ValidationLimits& /*limits*/) {
  std::optional<int> degrees;
  PIXQ_RETURN_IF_ERROR(r.Int("degrees", -270, 360, degrees));
  if (!degrees) return SpecError(r.PathOf("degrees"), "is required");
  const int normalised = ((*degrees % 360) + 360) % 360;
  if (normalised % 90 != 0 || normalised == 0) {
    return SpecError(r.PathOf("degrees"), "must be 90, 180 or 270");
  }
  return Rotate{.degrees = normalised};
}

template <typename Op>
absl::StatusOr<Step> ReadFieldless(ObjectReader& /*r*/, const std::string& /*path*/,
                                   const ValidationLimits& /*limits*/) {
  return Op{};
}

absl::StatusOr<Step> ReadBlur(ObjectReader& r, const std::string& /*path*/,
                              const ValidationLimits& /*limits*/) {
  Blur s;
  PIXQ_RETURN_IF_ERROR(r.Number("sigma", 0.1, 100, s.sigma));
  return s;
}

absl::StatusOr<Step> ReadSharpen(ObjectReader& r, const std::string& /*path*/,
                                 const ValidationLimits& /*limits*/) {
  Sharpen s;
  PIXQ_RETURN_IF_ERROR(r.Number("sigma", 0.1, 10, s.sigma));
  PIXQ_RETURN_IF_ERROR(r.Number("amount", 0, 10, s.amount));
  return s;
}

struct StepGrammar {
  std::string_view op;
  std::vector<std::string_view> fields;  // every field the op takes, "op" included
  absl::StatusOr<Step> (*read)(ObjectReader& r, const std::string& path,
                               const ValidationLimits& limits);
};

// One row per op of spec.h's kStepOps (a test checks that every op has one and reads its Step).
const std::vector<StepGrammar>& StepGrammars() {
  static const auto* const kGrammars = new std::vector<StepGrammar>{
      {"resize", {"op", "width", "height", "fit", "upscale"}, ReadResize},
      {"crop", {"op", "x", "y", "width", "height", "gravity"}, ReadCrop},
      {"rotate", {"op", "degrees"}, ReadRotate},
      {"mirror", {"op"}, ReadFieldless<Mirror>},
      {"flip", {"op"}, ReadFieldless<Flip>},
      {"grayscale", {"op"}, ReadFieldless<Grayscale>},
      {"blur", {"op", "sigma"}, ReadBlur},
      {"sharpen", {"op", "sigma", "amount"}, ReadSharpen},
  };
  return *kGrammars;
}

const StepGrammar* GrammarOf(const json& op) {
  if (!op.is_string()) return nullptr;
  const std::string& name = op.get_ref<const std::string&>();
  for (const StepGrammar& grammar : StepGrammars()) {
    if (grammar.op == name) return &grammar;
  }
  return nullptr;
}

absl::StatusOr<Step> ParseStep(const json& doc, const std::string& path,
                               const ValidationLimits& limits) {
  if (!doc.is_object()) return SpecError(path, "must be an object with an \"op\"");
  ObjectReader r(doc, path);
  const json* op = r.Get("op");
  if (op == nullptr) return SpecError(r.PathOf("op"), "is required");
  const StepGrammar* grammar = GrammarOf(*op);
  if (grammar == nullptr) {
    return SpecError(r.PathOf("op"),
                     absl::StrCat("must be one of ",
                                  absl::StrJoin(kStepOps, ", ", [](std::string* out, auto op) {
                                    out->append(op);
                                  })));
  }
  PIXQ_RETURN_IF_ERROR(r.OnlyFields(grammar->fields));
  absl::StatusOr<Step> step = grammar->read(r, path, limits);
  if (!step.ok()) return step.status();
  PIXQ_RETURN_IF_ERROR(r.Finish());
  return step;
}

// --- the spec and its envelope ----------------------------------------------------------------

absl::Status ParseSource(ObjectReader& r, Source& source) {
  const json* doc = r.Get("source");
  if (doc == nullptr) return SpecError(r.PathOf("source"), "is required");
  if (!doc->is_object())
    return SpecError(r.PathOf("source"), "must be an object with imageId or url");
  ObjectReader sr(*doc, r.PathOf("source"));
  PIXQ_RETURN_IF_ERROR(sr.String("imageId", kMaxImageIdLength, source.image_id));
  PIXQ_RETURN_IF_ERROR(sr.String("url", kMaxUrlLength, source.url));
  PIXQ_RETURN_IF_ERROR(sr.Finish());
  if (source.image_id.empty() == source.url.empty()) {
    return SpecError(r.PathOf("source"), "needs exactly one of imageId and url");
  }
  if (!source.image_id.empty() && !IsSha256Hex(source.image_id)) {
    return SpecError(sr.PathOf("imageId"), "must be an image id (64 lowercase hex characters)");
  }
  if (!source.url.empty() && !IsHttpUrl(source.url)) {
    return SpecError(sr.PathOf("url"), "must be an http:// or https:// URL");
  }
  return absl::OkStatus();
}

absl::Status ParseSteps(ObjectReader& r, const ValidationLimits& limits, std::vector<Step>& out) {
  const json* steps = r.Get("steps");
  if (steps == nullptr) return absl::OkStatus();
  if (!steps->is_array()) return SpecError(r.PathOf("steps"), "must be an array");
  if (steps->size() > static_cast<size_t>(limits.max_steps)) {
    return errors::Make(errors::Reason::kTooManySteps,
                        absl::StrCat(r.PathOf("steps"), ": at most ", limits.max_steps,
                                     " steps, got ", steps->size()));
  }
  for (size_t i = 0; i < steps->size(); ++i) {
    absl::StatusOr<Step> step =
        ParseStep((*steps)[i], absl::StrCat(r.PathOf("steps"), "[", i, "]"), limits);
    if (!step.ok()) return step.status();
    out.push_back(*std::move(step));
  }
  return absl::OkStatus();
}

absl::Status ParseOutput(ObjectReader& r, OutputSpec& output) {
  const json* doc = r.Get("output");
  if (doc == nullptr) return absl::OkStatus();
  if (!doc->is_object()) return SpecError(r.PathOf("output"), "must be an object");
  ObjectReader outr(*doc, r.PathOf("output"));
  PIXQ_RETURN_IF_ERROR(outr.Enum("format", kFormatNames, output.format));
  PIXQ_RETURN_IF_ERROR(outr.Int("quality", 1, 100, output.quality));
  PIXQ_RETURN_IF_ERROR(
      outr.Int64("maxBytes", 100, std::numeric_limits<int32_t>::max(), output.max_bytes));
  PIXQ_RETURN_IF_ERROR(outr.Finish());
  if (output.format == Format::kPng) output.quality.reset();  // lossless
  return absl::OkStatus();
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

}  // namespace

absl::StatusOr<JobSpec> ParseSpecObject(const json& doc, std::string_view path,
                                        const ValidationLimits& limits) {
  if (!doc.is_object()) return SpecError(path.empty() ? "spec" : path, "must be an object");
  ObjectReader r(doc, std::string(path));
  JobSpec spec;
  PIXQ_RETURN_IF_ERROR(ParseSource(r, spec.source));
  PIXQ_RETURN_IF_ERROR(ParseSteps(r, limits, spec.steps));
  PIXQ_RETURN_IF_ERROR(ParseOutput(r, spec.output));
  PIXQ_RETURN_IF_ERROR(r.String("callbackUrl", kMaxUrlLength, spec.callback_url));
  if (!spec.callback_url.empty() && !IsHttpUrl(spec.callback_url)) {
    return SpecError(r.PathOf("callbackUrl"), "must be an http:// or https:// URL");
  }
  PIXQ_RETURN_IF_ERROR(r.Finish());
  return spec;
}

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
  PIXQ_RETURN_IF_ERROR(r.String("apiVersion", kMaxEnvelopeString, api_version));
  PIXQ_RETURN_IF_ERROR(r.String("kind", kMaxEnvelopeString, kind));
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
    return errors::Make(errors::Reason::kMalformedJson, "the request body is not valid JSON");
  }
  return JobSpecFromJson(doc, limits);
}

}  // namespace pixq::job
