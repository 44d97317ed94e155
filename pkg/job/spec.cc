#include "pkg/job/spec.h"

namespace pixq::job {
namespace {

// The value's first name in `names`: the one pixq writes.
template <typename T, size_t N>
std::string_view FirstNameOf(const std::array<Named<T>, N>& names, T value) {
  for (const Named<T>& named : names) {
    if (named.value == value) return named.name;
  }
  return names.front().name;
}

}  // namespace

std::string_view FitName(Fit fit) { return FirstNameOf(kFitNames, fit); }

std::string_view GravityName(Gravity gravity) { return FirstNameOf(kGravityNames, gravity); }

// The names are literals, so the view's data is NUL-terminated.
const char* FormatName(Format format) {
  if (!IsWritable(format)) return FirstNameOf(kReadOnlyFormatNames, format).data();
  return FirstNameOf(kFormatNames, format).data();
}

const char* FormatExtension(Format format) {
  switch (format) {
    case Format::kJpeg:
      return "jpg";
    case Format::kPng:
      return "png";
    case Format::kWebp:
      return "webp";
    case Format::kHeic:
      return "heic";
    case Format::kHeif:
      return "heif";
    case Format::kAvif:
      return "avif";
    case Format::kGif:
      return "gif";
    case Format::kTiff:
      return "tiff";
    case Format::kBmp:
      return "bmp";
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
    case Format::kHeic:
      return "image/heic";
    case Format::kHeif:
      return "image/heif";
    case Format::kAvif:
      return "image/avif";
    case Format::kGif:
      return "image/gif";
    case Format::kTiff:
      return "image/tiff";
    case Format::kBmp:
      return "image/bmp";
  }
  return "application/octet-stream";
}

std::optional<Format> ParseFormat(std::string_view name) {
  for (const Named<Format>& named : kFormatNames) {
    if (named.name == name) return named.value;
  }
  return std::nullopt;
}

std::optional<Format> ParseImageFormat(std::string_view name) {
  if (std::optional<Format> format = ParseFormat(name)) return format;
  for (const Named<Format>& named : kReadOnlyFormatNames) {
    if (named.name == name) return named.value;
  }
  return std::nullopt;
}

bool IsWritable(Format format) {
  return format == Format::kJpeg || format == Format::kPng || format == Format::kWebp;
}

Format WritableFormat(Format format) { return IsWritable(format) ? format : Format::kJpeg; }

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
    case Format::kHeic:
    case Format::kHeif:
    case Format::kAvif:
    case Format::kGif:
    case Format::kTiff:
    case Format::kBmp:
      break;  // never an output format (ParseFormat)
  }
  return 85;
}

}  // namespace pixq::job
