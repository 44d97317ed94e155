#pragma once

// Variants: the seed services' shortcuts (GET /v1/images/{id}/{variant}, GET /{id}/{variant}) as
// job specs. A variant of an image is one job spec, always the same for the same request, so its
// output key (job::OutputKey) names the same file every time: made once, then served.
//
//   jpeg, png, webp   the image converted to that format
//   grayscale         one channel, in the image's own format
//   mirror            left-right, in the image's own format
//
// With `width` and/or `height`, a resize that fits inside that box (aspect kept, never
// upscaled) comes first; a box the image already fits in asks for nothing, so it is left out and
// every such request shares the output of the unsized variant. Pure functions; thread-safe.

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

#include "pkg/job/json.h"
#include "pkg/job/spec.h"

namespace pixq::api {

// The names, in the order the API documents them.
inline constexpr std::string_view kVariants[] = {"jpeg", "png", "webp", "grayscale", "mirror"};

struct VariantRequest {
  std::string name;  // one of kVariants
  std::optional<int> width;
  std::optional<int> height;
};

// Parses the path segment and the `width`/`height` query parameters. Errors: "UnknownVariant"
// (404) for a name not in kVariants; "InvalidArgument" (400) for a size that is not an integer
// 1..limits.max_output_dimension.
[[nodiscard]] absl::StatusOr<VariantRequest> ParseVariant(std::string_view name,
                                                          const std::optional<std::string>& width,
                                                          const std::optional<std::string>& height,
                                                          const job::ValidationLimits& limits);

// The job that makes `request` of `image` (its id, format and displayed size). Labelled
// `variant: <name>` so that job listings show where it came from (labels are not part of the
// output key).
[[nodiscard]] job::JobSpec VariantSpec(const job::ImageMeta& image, const VariantRequest& request);

}  // namespace pixq::api
