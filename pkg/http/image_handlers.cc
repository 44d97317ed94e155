// The images: POST /v1/images, GET /v1/images/{id} and its content, the catalogue, DELETE.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

#include "pkg/api/listing.h"
#include "pkg/errors/errors.h"
#include "pkg/http/handlers.h"
#include "pkg/http/responses.h"
#include "pkg/job/json.h"
#include "pkg/multipart/multipart.h"
#include "pkg/storage/store.h"

namespace pixq::http {

void Handlers::UploadImage(RequestContext& ctx, const Request& req, ResponseWriter w) {
  absl::StatusOr<api::UploadResult> result = Upload(ctx, req);
  if (!result.ok()) {
    SendProblem(ctx, w, result.status());
    return;
  }
  w.headers().add<Pistache::Http::Header::Location>(absl::StrCat("/v1/images/", result->meta.id));
  SendJson(ctx, w, result->created ? 201 : 200, ImageJson(result->meta));
}

// Multipart (`image` or `file`, and `title`) or the raw bytes.
absl::StatusOr<api::UploadResult> Handlers::Upload(const RequestContext& ctx, const Request& req) {
  const std::string& body = req.body();
  if (static_cast<int64_t>(body.size()) > options_.max_body_bytes) {
    return errors::Make(errors::Reason::kPayloadTooLarge,
                        absl::StrCat("uploads are limited to ", options_.max_body_bytes, " bytes"));
  }
  const std::string content_type = ContentTypeOf(req);
  std::string_view bytes;
  // Percent-decoded: Pistache hands query values over as sent ("Big%20Cat").
  std::string title = DecodedParam(req, "title").value_or("");
  std::string filename = DecodedParam(req, "filename").value_or("");
  if (content_type.rfind("multipart/form-data", 0) == 0) {
    absl::StatusOr<std::vector<multipart::MultipartPart>> parts =
        multipart::ParseMultipart(content_type, body);
    if (!parts.ok()) return parts.status();
    bool found = false;
    for (const multipart::MultipartPart& part : *parts) {
      if ((part.name == "image" || part.name == "file") && !found) {
        bytes = part.body;
        filename = part.filename;
        found = true;
      } else if (part.name == "title") {
        title = std::string(part.body);
      }
    }
    if (!found) {
      return errors::Make(errors::Reason::kMissingImage,
                          "multipart upload needs a part named \"image\"");
    }
  } else {
    bytes = body;
  }
  if (bytes.empty())
    return errors::Make(errors::Reason::kEmptyBody, "no image bytes in the request");
  // Hashed while it arrived (upload_stream.h), if these very bytes were: the image's id.
  std::optional<std::string> sha256;
  if (const std::optional<BodyDigest>& digest = ctx.body_digest;
      digest && bytes.data() == body.data() + digest->offset && bytes.size() == digest->size) {
    sha256 = digest->sha256;
  }
  return service_.UploadImage(bytes, std::move(title), std::move(filename), sha256);
}

void Handlers::GetImage(RequestContext& ctx, const Request& req, ResponseWriter w) {
  absl::StatusOr<job::ImageMeta> meta = service_.GetImage(req.param(":id").as<std::string>());
  if (!meta.ok()) {
    SendProblem(ctx, w, meta.status());
    return;
  }
  SendJson(ctx, w, 200, ImageJson(*meta));
}

void Handlers::GetImageContent(RequestContext& ctx, const Request& req, ResponseWriter w) {
  absl::StatusOr<job::ImageMeta> meta = service_.GetImage(req.param(":id").as<std::string>());
  if (!meta.ok()) {
    SendProblem(ctx, w, meta.status());
    return;
  }
  ServeStored(ctx, w, HeaderValue(req, "If-None-Match"), storage::OriginalRelativePath(meta->id),
              meta->id, job::FormatMimeType(meta->format));
}

void Handlers::ListImages(RequestContext& ctx, const Request& req, ResponseWriter w) {
  absl::StatusOr<int> limit = api::ParseLimit(QueryParam(req, "limit"));
  if (!limit.ok()) {
    SendProblem(ctx, w, limit.status());
    return;
  }
  absl::StatusOr<api::ImagePage> page =
      service_.ListImages({.title = DecodedParam(req, "title").value_or(""),
                           .limit = *limit,
                           .page_token = DecodedParam(req, "pageToken").value_or("")});
  if (!page.ok()) {
    SendProblem(ctx, w, page.status());
    return;
  }
  SendJson(ctx, w, 200,
           Page(*page, [this](const job::ImageMeta& meta) { return ImageJson(meta); }));
}

void Handlers::DeleteImage(RequestContext& ctx, const Request& req, ResponseWriter w) {
  absl::StatusOr<api::DeleteImageResult> deleted =
      service_.DeleteImage(req.param(":id").as<std::string>());
  if (!deleted.ok()) {
    SendProblem(ctx, w, deleted.status());
    return;
  }
  SendEmpty(ctx, w, 204);
}

}  // namespace pixq::http
