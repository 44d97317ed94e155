#pragma once

// Job specs as clients write them, shared by the tests of pkg/job.

#include <string>

namespace pixq::job::samples {

inline const std::string kImageId(64, 'a');

// `"source":{"imageId":"aaa…"}`, to put inside an object.
inline const std::string kSrc = R"("source":{"imageId":")" + kImageId + R"("})";

// A bare spec on kImageId with these steps and output.
inline std::string WithSteps(const std::string& steps,
                             const std::string& output = R"({"format":"png"})") {
  return "{" + kSrc + R"(,"steps":)" + steps + R"(,"output":)" + output + "}";
}

}  // namespace pixq::job::samples
