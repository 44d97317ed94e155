#include "pkg/api/variants.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

#include "pkg/api/service.h"
#include "pkg/errors/errors.h"

namespace pixq::api {
namespace {

absl::StatusOr<std::optional<int>> ParseSide(const char* name,
                                             const std::optional<std::string>& text, int max) {
  if (!text) return std::optional<int>();
  int value = 0;
  if (!absl::SimpleAtoi(errors::Sv(*text), &value) || value < 1 || value > max) {
    return errors::Make(errors::Reason::kInvalidArgument,
                        absl::StrCat(name, ": must be an integer 1..", max));
  }
  return std::optional<int>(value);
}

}  // namespace

absl::StatusOr<VariantRequest> ParseVariant(std::string_view name,
                                            const std::optional<std::string>& width,
                                            const std::optional<std::string>& height,
                                            const job::ValidationLimits& limits) {
  if (std::find(std::begin(kVariants), std::end(kVariants), name) == std::end(kVariants)) {
    return errors::Make(errors::Reason::kUnknownVariant,
                        absl::StrCat("no variant \"", errors::Sv(name.substr(0, 64)),
                                     "\"; there are jpeg, png, webp, grayscale and mirror"));
  }
  VariantRequest request{.name = std::string(name)};
  absl::StatusOr<std::optional<int>> w = ParseSide("width", width, limits.max_output_dimension);
  if (!w.ok()) return w.status();
  absl::StatusOr<std::optional<int>> h = ParseSide("height", height, limits.max_output_dimension);
  if (!h.ok()) return h.status();
  request.width = *w;
  request.height = *h;
  return request;
}

job::JobSpec VariantSpec(const job::ImageMeta& image, const VariantRequest& request) {
  job::JobSpec spec;
  spec.source.image_id = image.id;
  // Without upscaling, a box at least as large as the image changes nothing.
  const bool fits = (!request.width || *request.width >= image.width) &&
                    (!request.height || *request.height >= image.height);
  if ((request.width || request.height) && !fits) {
    spec.steps.push_back(job::Resize{.width = request.width,
                                     .height = request.height,
                                     .fit = job::Fit::kInside,
                                     .upscale = false});
  }
  spec.output.format = job::WritableFormat(image.format);
  if (request.name == "grayscale") {
    spec.steps.push_back(job::Grayscale{});
  } else if (request.name == "mirror") {
    spec.steps.push_back(job::Mirror{});
  } else {
    spec.output.format = job::ParseFormat(request.name).value_or(job::Format::kJpeg);
  }
  spec.labels["variant"] = request.name;
  return spec;
}

absl::StatusOr<Variant> Service::ResolveVariant(const std::string& image_id,
                                                const VariantRequest& request) {
  absl::StatusOr<job::ImageMeta> image = GetImage(image_id);
  if (!image.ok()) return image.status();
  Variant variant;
  variant.spec = VariantSpec(*image, request);
  variant.output_key = job::OutputKey(image->id, variant.spec);
  variant.output_path =
      store_.OutputPath(variant.output_key, job::FormatExtension(variant.spec.output.format));
  variant.stored = store_.Exists(variant.output_path);
  variant.image = *std::move(image);
  return variant;
}

}  // namespace pixq::api
