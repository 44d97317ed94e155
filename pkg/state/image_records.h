#pragma once

// The one place that turns an image into its pixq.images record (key: the image id; value: its
// job::ImageMeta as JSON), for an upload (pkg/api) and for a URL import (pkg/worker) alike, with
// one set of rules for titles and file names: a title is cut at kMaxTitleBytes, a file name at
// kMaxFilenameBytes (as the OpenAPI document says), and both are valid UTF-8, since the records
// are JSON: bytes that are not, and a character the cut split, become U+FFFD. ImageTable
// (tables.h) is the reader of the same topic.

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"

#include "pkg/job/spec.h"
#include "pkg/queue/message.h"
#include "pkg/queue/producer.h"

namespace pixq::state {

inline constexpr size_t kMaxTitleBytes = 512;
inline constexpr size_t kMaxFilenameBytes = 255;

// What is known of an image's bytes once they are sniffed and hashed.
struct ImageFacts {
  std::string id;  // SHA-256 of the bytes, lowercase hex
  job::Format format = job::Format::kJpeg;
  int width = 0;   // as displayed: after EXIF orientation
  int height = 0;  // as displayed
  int64_t bytes = 0;
};

// At most `max` bytes of `text`, as valid UTF-8 (see above). Never longer than `max` unless the
// repair of a cut or invalid sequence lengthened it (U+FFFD is three bytes).
[[nodiscard]] std::string CutToValidUtf8(std::string text, size_t max);

// The image's record, `title` and `filename` cut by the rules above; created at `created_at`.
[[nodiscard]] job::ImageMeta NewImageMeta(ImageFacts facts, std::string title, std::string filename,
                                          absl::Time created_at);

// The file name a URL import gives its image: the last segment of the URL's path, as it appears
// in `redacted_url` (fetch::RedactedUrl: no credentials), or empty when the URL has no path.
// Metadata only, never used as a path. Not cut: NewImageMeta does that.
[[nodiscard]] std::string FilenameFromUrl(std::string_view redacted_url);

// Writes pixq.images records and tombstones. Thread-safe (the producer is).
class ImageWriter final {
 public:
  ImageWriter(queue::Producer& producer, std::string topic);

  // The record for `meta`, for a caller that sends it itself (e.g. behind an admission gate).
  [[nodiscard]] queue::OutgoingMessage Record(const job::ImageMeta& meta) const;
  // The tombstone that forgets the image `image_id` (its delete).
  [[nodiscard]] queue::OutgoingMessage Tombstone(const std::string& image_id) const;

  // Sends the record and waits for the broker's acknowledgement. Errors: the producer's
  // (retriable: "ProduceTimeout", "BrokerUnavailable", "QueueFull").
  [[nodiscard]] absl::Status Write(const job::ImageMeta& meta, absl::Duration timeout);

 private:
  queue::Producer& producer_;
  std::string topic_;
};

}  // namespace pixq::state
