#include "pkg/state/image_records.h"

#include <utility>

#include "nlohmann/json.hpp"

#include "pkg/job/ids.h"
#include "pkg/job/json.h"

namespace pixq::state {

std::string CutToValidUtf8(std::string text, size_t max) {
  if (text.size() > max) text.resize(max);
  // nlohmann's serializer replaces what is not UTF-8 (also the tail of a character the cut
  // split) by U+FFFD, as the API did since its first release; parsing it back gives the text.
  using nlohmann::json;
  return json::parse(json(std::move(text)).dump(-1, ' ', false, json::error_handler_t::replace))
      .get<std::string>();
}

job::ImageMeta NewImageMeta(ImageFacts facts, std::string title, std::string filename,
                            absl::Time created_at) {
  return job::ImageMeta{.id = std::move(facts.id),
                        .title = CutToValidUtf8(std::move(title), kMaxTitleBytes),
                        .filename = CutToValidUtf8(std::move(filename), kMaxFilenameBytes),
                        .format = facts.format,
                        .width = facts.width,
                        .height = facts.height,
                        .bytes = facts.bytes,
                        .created_at = job::UnixMillisToRfc3339(absl::ToUnixMillis(created_at))};
}

std::string FilenameFromUrl(std::string_view redacted_url) {
  const size_t scheme = redacted_url.find("://");
  const size_t slash = redacted_url.rfind('/');
  // A slash of the scheme's "//" is no path: "https://host" has no file name.
  const bool has_path =
      slash != std::string_view::npos && (scheme == std::string_view::npos || slash > scheme + 2);
  return has_path ? std::string(redacted_url.substr(slash + 1)) : std::string();
}

ImageWriter::ImageWriter(queue::Producer& producer, std::string topic)
    : producer_(producer), topic_(std::move(topic)) {}

queue::OutgoingMessage ImageWriter::Record(const job::ImageMeta& meta) const {
  return {.topic = topic_, .key = meta.id, .value = job::ToJson(meta).dump()};
}

queue::OutgoingMessage ImageWriter::Tombstone(const std::string& image_id) const {
  return {.topic = topic_, .key = image_id, .tombstone = true};
}

absl::Status ImageWriter::Write(const job::ImageMeta& meta, absl::Duration timeout) {
  return producer_.Send(Record(meta), timeout);
}

}  // namespace pixq::state
