#include "pkg/job/output_key.h"

#include <utility>

#include "nlohmann/json.hpp"

#include "pkg/crypto/sha256.h"
#include "pkg/job/wire.h"

namespace pixq::job {

std::string CanonicalJson(const JobSpec& spec) {
  nlohmann::json steps = nlohmann::json::array();
  for (const Step& step : spec.steps) steps.push_back(ToJson(step));
  // nlohmann::json keeps object keys sorted, so dump() is canonical for a given value.
  return nlohmann::json{{"steps", std::move(steps)}, {"output", ToJson(spec.output)}}.dump();
}

std::string OutputKey(std::string_view image_id, const JobSpec& spec) {
  crypto::Sha256 hash;
  hash.Update(image_id);
  hash.Update("\n");
  hash.Update(CanonicalJson(spec));
  return hash.HexDigest();
}

}  // namespace pixq::job
