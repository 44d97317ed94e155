#pragma once

// The ImageJob resource of ../shared/DESIGN.md: what a client asks for (JobSpec), what pixq reports
// about it (JobStatus), and the image catalogue entry (ImageMeta). Plain value types and their wire
// names; what clients send is read by pkg/job/spec_parser.h, records are written and read by
// pkg/job/wire.h, and where an output is stored is pkg/job/output_key.h.

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace pixq::job {

// What pixq writes (kJpeg, kPng, kWebp) and, after them, what it only reads: HEIF files by their
// codec (kHeic HEVC, kAvif AV1, kHeif any other), GIF (its first frame), TIFF and BMP. The values
// are stored as numbers (pkg/state), so a new format goes at the end.
enum class Format { kJpeg, kPng, kWebp, kHeic, kHeif, kAvif, kGif, kTiff, kBmp };
enum class Fit { kInside, kCover, kFill };
enum class Gravity {
  kCenter,
  kNorth,
  kSouth,
  kEast,
  kWest,
  kNorthEast,
  kNorthWest,
  kSouthEast,
  kSouthWest
};

// resize: width and/or height (at least one). inside keeps the aspect and fits within the box,
// cover fills the box and crops the overflow around the centre, fill stretches to the box. A
// missing side follows from the aspect ratio. Never upscales unless `upscale`.
struct Resize {
  std::optional<int> width;
  std::optional<int> height;
  Fit fit = Fit::kInside;
  bool upscale = false;
};

// crop: a box at (x, y), or a width × height placed by gravity when x and y are absent. The box is
// clipped to the image; a box entirely outside it is an error at run time.
struct Crop {
  std::optional<int> x;
  std::optional<int> y;
  int width = 0;
  int height = 0;
  Gravity gravity = Gravity::kCenter;
};

struct Rotate {
  int degrees = 90;  // 90, 180 or 270, clockwise
};
struct Mirror {};     // left-right
struct Flip {};       // top-bottom
struct Grayscale {};  // one channel (alpha kept where the output format has it)
struct Blur {
  double sigma = 1.0;  // Gaussian, 0.1 .. 100
};
struct Sharpen {
  double sigma = 1.0;   // radius of the unsharp mask, 0.1 .. 10
  double amount = 1.0;  // strength, 0 .. 10
};

using Step = std::variant<Resize, Crop, Rotate, Mirror, Flip, Grayscale, Blur, Sharpen>;

struct OutputSpec {
  Format format = Format::kJpeg;
  // 1..100. Absent means the format's default: JPEG 85, WebP 80. PNG is lossless; quality is
  // ignored for it.
  std::optional<int> quality;
  // When set, the highest quality whose encoding fits in this many bytes (JPEG and WebP).
  std::optional<int64_t> max_bytes;
};

struct Source {
  std::string image_id;  // an uploaded image, or
  std::string url;       // http(s) URL the worker downloads. Exactly one is set.
};

struct JobSpec {
  Source source;
  std::vector<Step> steps;
  OutputSpec output;
  std::string callback_url;                   // optional webhook
  std::map<std::string, std::string> labels;  // metadata.labels
};

enum class Phase { kPending, kRunning, kSucceeded, kFailed };

struct OutputInfo {
  std::string path;  // relative to the volume root, e.g. outputs/ab/<key>.webp
  Format format = Format::kJpeg;
  int width = 0;
  int height = 0;
  int64_t bytes = 0;
};

// Milliseconds spent in each stage of a job.
struct Timings {
  int64_t queue_ms = 0;
  int64_t fetch_ms = 0;
  int64_t decode_ms = 0;
  int64_t process_ms = 0;
  int64_t encode_ms = 0;
  int64_t store_ms = 0;
};

struct JobStatus {
  Phase phase = Phase::kPending;
  // The worker's attempts since the job was last submitted (created, or retried: a retry starts
  // again at 1 with the whole budget of automatic retries).
  int attempts = 0;
  // How many times a client asked to run the job again after it failed (POST
  // /v1/jobs/{id}/retry).
  int retries = 0;
  // Stable, machine-readable; set when Failed, and on a Pending job whose last attempt failed
  // with a transient error and that waits for its next one (the attempt count says how many).
  std::string reason;
  std::string message;  // for people
  std::optional<OutputInfo> output;
  bool cache_hit = false;
  std::string started_at;   // RFC 3339, empty when not started
  std::string finished_at;  // RFC 3339, empty when not finished
  Timings timings;
  std::string worker;  // which worker process ran it (its name), empty before Running
  // The image the job read, once known: for a URL source, the downloaded image (now in the
  // catalogue under this id).
  std::string image_id;
};

// The record kept per job on pixq.job-status: everything needed to answer GET /v1/jobs/{id}.
struct JobRecord {
  std::string id;
  std::string created_at;  // RFC 3339
  std::string output_key;  // sha256(image id + canonical steps and output)
  // Idempotency-Key of the request that created it (scoped to the caller; empty: none) and the
  // SHA-256 of that request's body, so that the same key with another body can be told apart.
  std::string idempotency_key;
  std::string request_hash;
  // The same for the request that last retried it (POST /v1/jobs/{id}/retry), so that its
  // repeat answers the same instead of retrying again.
  std::string retry_idempotency_key;
  std::string retry_request_hash;
  // The batch it belongs to (POST /v1/batches), and its place in the batch's request.
  std::string batch_id;
  int batch_index = -1;
  // The W3C trace id (32 lowercase hex) of the request that submitted the job, and so of the
  // worker's spans that ran it: set at creation, set anew by each retry; empty when that request
  // was not traced.
  std::string trace_id;
  JobSpec spec;
  JobStatus status;
};

// The record kept per image on pixq.images.
struct ImageMeta {
  std::string id;  // sha256 of the bytes
  std::string title;
  std::string filename;  // as the client named it; never used as a path
  Format format = Format::kJpeg;
  int width = 0;   // as displayed, i.e. after EXIF orientation
  int height = 0;  // as displayed
  int64_t bytes = 0;
  std::string created_at;  // RFC 3339
};

// A name on the wire and the value it stands for. Where a value has several names, the first
// in its table is the one pixq writes and the others are aliases it accepts.
template <typename T>
struct Named {
  std::string_view name;
  T value;
};

// The names of each enum, in the order a client is told them ("must be one of ...").
inline constexpr std::array<Named<Fit>, 3> kFitNames = {
    {{"inside", Fit::kInside}, {"cover", Fit::kCover}, {"fill", Fit::kFill}}};
inline constexpr std::array<Named<Gravity>, 9> kGravityNames = {
    {{"center", Gravity::kCenter},
     {"north", Gravity::kNorth},
     {"south", Gravity::kSouth},
     {"east", Gravity::kEast},
     {"west", Gravity::kWest},
     {"northeast", Gravity::kNorthEast},
     {"northwest", Gravity::kNorthWest},
     {"southeast", Gravity::kSouthEast},
     {"southwest", Gravity::kSouthWest}}};
// The output formats (output.format, variants, file extensions): what pixq can write.
inline constexpr std::array<Named<Format>, 4> kFormatNames = {{{"jpeg", Format::kJpeg},
                                                               {"png", Format::kPng},
                                                               {"webp", Format::kWebp},
                                                               {"jpg", Format::kJpeg}}};
// The formats pixq reads but does not write: an image's format in the catalogue may be one.
inline constexpr std::array<Named<Format>, 6> kReadOnlyFormatNames = {{{"heic", Format::kHeic},
                                                                       {"heif", Format::kHeif},
                                                                       {"avif", Format::kAvif},
                                                                       {"gif", Format::kGif},
                                                                       {"tiff", Format::kTiff},
                                                                       {"bmp", Format::kBmp}}};

// Names as they appear on the wire.
[[nodiscard]] std::string_view FitName(Fit fit);              // "inside", "cover", "fill"
[[nodiscard]] std::string_view GravityName(Gravity gravity);  // "center", "north", ...
[[nodiscard]] const char* FormatName(Format format);          // "jpeg", "png", "webp", "heic", ...
[[nodiscard]] const char* FormatExtension(Format format);     // "jpg", "png", "webp", "heic", ...
[[nodiscard]] const char* FormatMimeType(Format format);      // "image/jpeg", ...
// An output format by name (kFormatNames; accepts "jpg" too): never a read-only one.
[[nodiscard]] std::optional<Format> ParseFormat(std::string_view name);
// Any format by name, read-only ones included: an image's, as the catalogue records it.
[[nodiscard]] std::optional<Format> ParseImageFormat(std::string_view name);
// Whether pixq can write `format`, and the format an output "in the image's own format" takes:
// the image's, or JPEG for one pixq only reads (a HEIC's grayscale variant is a JPEG).
[[nodiscard]] bool IsWritable(Format format);
[[nodiscard]] Format WritableFormat(Format format);
[[nodiscard]] const char* PhaseName(Phase phase);  // "Pending", ...
[[nodiscard]] std::optional<Phase> ParsePhase(std::string_view name);
[[nodiscard]] bool IsTerminal(Phase phase);

// The "op" of each Step alternative, in the variant's order.
inline constexpr std::array<std::string_view, 8> kStepOps = {
    "resize", "crop", "rotate", "mirror", "flip", "grayscale", "blur", "sharpen"};
static_assert(std::variant_size_v<Step> == kStepOps.size());
[[nodiscard]] inline std::string_view OpName(const Step& step) { return kStepOps[step.index()]; }

// The quality actually used when encoding: the spec's, or the format's default.
[[nodiscard]] int EffectiveQuality(const OutputSpec& output);

}  // namespace pixq::job
