#include "pkg/job/spec.h"

namespace pixq::job {

const char* FormatName(Format format) {
  switch (format) {
    case Format::kJpeg:
      return "jpeg";
    case Format::kPng:
      return "png";
    case Format::kWebp:
      return "webp";
  }
  return "jpeg";
}

const char* FormatExtension(Format format) {
  switch (format) {
    case Format::kJpeg:
      return "jpg";
    case Format::kPng:
      return "png";
    case Format::kWebp:
      return "webp";
  }
  return "jpg";
}

const char* FormatMimeType(Format format) {
  switch (format) {
    case Format::kJpeg:
      return "image/jpeg";
    case Format::kPng:
      return "image/png";
    case Format::kWebp:
      return "image/webp";
  }
  return "application/octet-stream";
}

std::optional<Format> ParseFormat(std::string_view name) {
  if (name == "jpeg" || name == "jpg") return Format::kJpeg;
  if (name == "png") return Format::kPng;
  if (name == "webp") return Format::kWebp;
  return std::nullopt;
}

const char* PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kPending:
      return "Pending";
    case Phase::kRunning:
      return "Running";
    case Phase::kSucceeded:
      return "Succeeded";
    case Phase::kFailed:
      return "Failed";
  }
  return "Pending";
}

std::optional<Phase> ParsePhase(std::string_view name) {
  if (name == "Pending") return Phase::kPending;
  if (name == "Running") return Phase::kRunning;
  if (name == "Succeeded") return Phase::kSucceeded;
  if (name == "Failed") return Phase::kFailed;
  return std::nullopt;
}

bool IsTerminal(Phase phase) { return phase == Phase::kSucceeded || phase == Phase::kFailed; }

int EffectiveQuality(const OutputSpec& output) {
  if (output.quality) return *output.quality;
  switch (output.format) {
    case Format::kJpeg:
      return 85;
    case Format::kWebp:
      return 80;
    case Format::kPng:
      return 100;
  }
  return 85;
}

}  // namespace pixq::job
