// libFuzzer target: the job spec parser and validator (JSON and every field check) on any bytes,
// read as JSON and as YAML. It must answer every input with a spec or an error, never crash, hang
// or read out of bounds.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "pkg/job/document.h"
#include "pkg/job/output_key.h"
#include "pkg/job/spec.h"
#include "pkg/job/spec_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<pixq::job::JobSpec> spec =
      pixq::job::ParseJobSpec(text, pixq::job::ValidationLimits{});
  if (spec.ok()) {
    // A spec that parsed has a canonical output key and serialises back.
    (void)pixq::job::OutputKey(std::string(64, 'a'), *spec);
  }
  absl::StatusOr<nlohmann::json> yaml =
      pixq::job::ParseDocument(text, pixq::job::BodyFormat::kYaml);
  if (yaml.ok()) (void)pixq::job::JobSpecFromJson(*yaml, pixq::job::ValidationLimits{});
  return 0;
}
