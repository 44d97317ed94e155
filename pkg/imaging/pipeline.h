#pragma once

// The image pipeline: decode, run the steps, encode. OpenCV does the work and stays inside this
// library (linked PRIVATE; no OpenCV type in a header, every cv::Exception becomes a Status).
//
// Semantics of the steps (../shared/DESIGN.md), with the choices where it is silent:
// - resize: dimensions are rounded to the nearest pixel, at least 1. Without `upscale`, `inside`
//   leaves an image that already fits unchanged; `fill` clamps each side of the box to the
//   image's; `cover` that would need enlarging crops a box of at most the image's size instead.
//   INTER_AREA when reducing, INTER_CUBIC when enlarging.
// - crop: the box is clipped to the image; a box that starts outside it is "InvalidCrop".
// - grayscale: one channel; an image with alpha keeps it (four equal-colour channels + alpha).
// - EXIF orientation is applied on decode (all eight values); no metadata reaches the output.
// - Shrink-on-load: a JPEG whose first step reduces it is decoded at the largest DCT scale (1/2,
//   1/4, 1/8) whose whole 8x8 blocks still cover what the resize needs, and whose partial last
//   block row or column (a side that is not a multiple of the scale) moves the last output row or
//   column by at most 1/8 of the contrast within that block; the output has exactly the
//   dimensions, and the geometry, a full decode would give (pipeline.cc, ScaleFits).
//   PNG, WebP, HEIC, HEIF, AVIF, GIF, TIFF and BMP have no shrink-on-load: libheif 1.15 offers
//   none, an LZW stream has none, and OpenCV's reduced reads of TIFF and BMP decode whole.
// - HEIC, HEIF and AVIF are decoded by libheif (heif_decode.h), which applies their irot and imir;
//   their EXIF orientation is not applied.
// - GIF: its first frame, on its logical screen, transparency as alpha (gif_decode.h).
// - TIFF and BMP are decoded by OpenCV; a TIFF's Orientation tag (274) is applied once, by OpenCV's
//   TIFF decoder (which does so whatever the flags), and counts for the size as shown.
// - More than 8 bits per sample (16-bit PNG and TIFF) are scaled to 8 (v / 257, rounded), not
//   truncated; float TIFF samples (0..1) are scaled by 255.
// - JPEG output of an image with alpha is composited over white.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "pkg/job/spec.h"

namespace pixq::imaging {

struct Limits {
  int64_t max_pixels = 100'000'000;  // width × height of a source, checked before decoding
  int max_output_dimension = 16384;  // no step may produce a larger side
};

struct Interval {
  std::string name;
  absl::Time start;
  absl::Time end;
  [[nodiscard]] absl::Duration duration() const { return end - start; }
};

struct Result {
  std::string bytes;
  job::Format format = job::Format::kJpeg;
  int width = 0;
  int height = 0;
  int quality = 0;       // the quality used (after a maxBytes search); 0 for PNG
  int decode_scale = 1;  // 1, 2, 4 or 8: the DCT reduction used when decoding
  // When each part ran (wall clock), for the job's timings, metrics and trace spans.
  Interval decode;
  std::vector<Interval> steps;  // one per step, in order, named by its op
  Interval encode;
};

// How many threads OpenCV may use inside one operation (process-wide). With several jobs
// running at once, the CPUs are divided among them rather than each job asking for all.
void SetOpenCvThreads(int threads);

// Process-wide: lets glibc keep freed image-sized buffers for the next image instead of handing
// them back to the kernel after every job. By default glibc makes every allocation above 32 MiB at
// most (a decoded 11 MP image) a mapping of its own, unmapped on free, so each job faults its
// buffers in again page by page: about 30% of a 20 MP thumbnail's time in the codec process
// (bench/README.md). Here allocations up to kKeptAllocationBytes come from the heap and up to
// kKeptFreeBytes of free heap is kept; anything larger still goes back, so one huge image does not
// stay resident for good. For processes that run image jobs one after another: the worker's codec
// processes and the benchmarks' pipeline processes.
inline constexpr int kKeptAllocationBytes = 128 << 20;
inline constexpr int kKeptFreeBytes = 256 << 20;
void KeepImageBuffers();

// What runs the pipeline for a job: Pipeline in this process, or isolate::CodecPool in child
// processes that are killed when they run over a time limit.
class Engine {
 public:
  virtual ~Engine() = default;

  // Decodes `input`, applies `steps` in order and encodes as `output`. Thread-safe.
  // Errors, permanent: "UnsupportedMediaType", "CorruptImage", "ImageTooLarge", "InvalidCrop",
  // "OutputTooLarge" (maxBytes cannot be met), "ProcessingFailed"; retriable: "OutOfMemory". An
  // engine may add its own (CodecPool: "TimeLimitExceeded", "CodecCrashed").
  [[nodiscard]] virtual absl::StatusOr<Result> Run(std::string_view input,
                                                   const std::vector<job::Step>& steps,
                                                   const job::OutputSpec& output) const = 0;
};

// Where a run has got to, reported as it happens: after decoding, after the last step.
enum class Stage { kDecoded, kProcessed };
using Progress = std::function<void(Stage)>;

class Pipeline final : public Engine {
 public:
  explicit Pipeline(Limits limits) : limits_(limits) {}

  [[nodiscard]] absl::StatusOr<Result> Run(std::string_view input,
                                           const std::vector<job::Step>& steps,
                                           const job::OutputSpec& output) const override;
  // The same, calling `progress` (on this thread) as each stage ends.
  [[nodiscard]] absl::StatusOr<Result> Run(std::string_view input,
                                           const std::vector<job::Step>& steps,
                                           const job::OutputSpec& output,
                                           const Progress& progress) const;

 private:
  Limits limits_;
};

}  // namespace pixq::imaging
