#include <algorithm>
#include <limits>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

#include "pkg/api/listing.h"
#include "pkg/api/service.h"
#include "pkg/crypto/sha256.h"
#include "pkg/errors/errors.h"
#include "pkg/imaging/sniff.h"
#include "pkg/job/ids.h"
#include "pkg/observability/log.h"

// api::Service's images: upload, read, list, delete.

namespace pixq::api {
absl::StatusOr<UploadResult> Service::UploadImage(std::string_view bytes, std::string title,
                                                  std::string filename,
                                                  const std::optional<std::string>& sha256) {
  absl::StatusOr<imaging::ImageInfo> info = imaging::SniffWithin(bytes, options_.max_pixels);
  if (!info.ok()) return info.status();
  const std::string id = sha256 ? *sha256 : crypto::Sha256Hex(bytes);
  // Known, unless it was just deleted (its original gone, the tombstone not yet read here).
  // Stored but unknown: uploaded a moment ago, here or elsewhere, its metadata not read yet.
  absl::StatusOr<std::optional<job::ImageMeta>> known =
      LookCatchingUp([&] { return images_.Get(id); },
                     [&](const std::optional<job::ImageMeta>& meta) {
                       return meta.has_value() || !store_.HasOriginal(id);
                     });
  if (!known.ok()) return known.status();
  if (*known && store_.HasOriginal(id)) {
    metrics_.CountUpload(false, static_cast<int64_t>(bytes.size()));
    return UploadResult{.meta = **known, .created = false};
  }
  if (options_.admit) PIXQ_RETURN_IF_ERROR(options_.admit());
  PIXQ_RETURN_IF_ERROR(store_.PutOriginal(id, bytes));
  job::ImageMeta meta = state::NewImageMeta({.id = id,
                                             .format = info->format,
                                             .width = info->DisplayWidth(),
                                             .height = info->DisplayHeight(),
                                             .bytes = static_cast<int64_t>(bytes.size())},
                                            std::move(title), std::move(filename), clock_.Now());
  PIXQ_RETURN_IF_ERROR(Send(image_records_.Record(meta)));
  metrics_.CountUpload(true, static_cast<int64_t>(bytes.size()));
  return UploadResult{.meta = std::move(meta), .created = true};
}

absl::StatusOr<job::ImageMeta> Service::GetImage(const std::string& id) {
  if (!job::IsSha256Hex(id)) return errors::Make(errors::Reason::kImageNotFound, "no such image");
  absl::StatusOr<std::optional<job::ImageMeta>> meta =
      LookCatchingUp([&] { return images_.Get(id); });
  if (!meta.ok()) return meta.status();
  if (!*meta) return errors::Make(errors::Reason::kImageNotFound, absl::StrCat("no image ", id));
  return **meta;
}

absl::StatusOr<ImagePage> Service::ListImages(const ImageQuery& query) {
  // The filter as the token remembers it: the title compared without case.
  const std::string filter = absl::AsciiStrToLower(query.title);
  std::optional<state::ImageTable::Position> after;
  if (query.page_token.empty()) {
    PIXQ_RETURN_IF_ERROR(catch_up_(options_.catch_up_timeout));
  } else {
    absl::StatusOr<PageCursor> cursor = DecodePageToken(query.page_token, "images", filter);
    if (!cursor.ok()) return cursor.status();
    after = state::ImageTable::Position(cursor->created_ms, cursor->id);
  }
  // The title compared lower-cased, from the order index's copy of it.
  state::ImageTable::Page page =
      images_.ListByTitle(after, static_cast<size_t>(std::max(query.limit, 1)), filter);
  ImagePage out;
  if (page.more && !page.items.empty()) {
    const state::ImageTable::Position last = state::ImageTable::PositionOf(page.items.back());
    out.next_page_token =
        EncodePageToken("images", filter, {.created_ms = last.first, .id = last.second});
  }
  out.items = std::move(page.items);
  return out;
}

absl::StatusOr<DeleteImageResult> Service::DeleteImage(const std::string& id) {
  absl::StatusOr<job::ImageMeta> meta = GetImage(id);
  if (!meta.ok()) return meta.status();
  // Nothing is removed while Kafka is known to be unreachable: the tombstone could not follow.
  if (options_.admit) PIXQ_RETURN_IF_ERROR(options_.admit());

  // Every output made from it: an output key is a hash over the image id, so these files belong
  // to this image alone. Its jobs come from the image index, not a walk over every job.
  const state::JobTable::Page jobs =
      jobs_.ListJobs("", std::numeric_limits<size_t>::max() - 1, {.image_id = id});
  std::set<std::string> paths;
  for (const job::JobRecord& record : jobs.items) {
    if (record.status.output && !record.status.output->path.empty()) {
      paths.insert(record.status.output->path);
    }
    if (!record.output_key.empty()) {
      paths.insert(
          store_.OutputPath(record.output_key, job::FormatExtension(record.spec.output.format)));
    }
  }
  DeleteImageResult result;
  // The files first and the tombstone last: if anything fails, the image is still listed and
  // deleting it again finishes the work.
  for (const std::string& path : paths) {
    const bool existed = store_.Exists(path);
    PIXQ_RETURN_IF_ERROR(store_.Remove(path));
    if (existed) ++result.outputs_removed;
  }
  PIXQ_RETURN_IF_ERROR(store_.RemoveOriginal(id));
  PIXQ_RETURN_IF_ERROR(Send(image_records_.Tombstone(id)));
  // This replica's next read should not show it any more; the delete is done either way.
  if (absl::Status caught_up = catch_up_(options_.catch_up_timeout); !caught_up.ok()) {
    observability::LogWarn("no catch-up after a delete",
                           {{"image_id", id}, {"error", std::string(caught_up.message())}});
  }
  observability::LogInfo("image deleted", {{"image_id", id},
                                           {"jobs", static_cast<int64_t>(jobs.items.size())},
                                           {"outputs_removed", result.outputs_removed}});
  return result;
}

}  // namespace pixq::api
