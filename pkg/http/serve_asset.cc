#include "pkg/http/serve_asset.h"

#include <string>

#include "absl/strings/str_cat.h"

#include "pkg/errors/errors.h"
#include "pkg/http/responses.h"

namespace pixq::http {

void ServeAsset(RequestContext& ctx, const Pistache::Rest::Request& req,
                Pistache::Http::ResponseWriter& w, const Asset& asset, std::string_view mime) {
  const std::string etag = absl::StrCat("\"", errors::Sv(asset.sha256), "\"");
  SetHeader<ETagHeader>(w, etag);
  SetHeader<CacheControlHeader>(w, "no-cache");
  SetHeader<ContentTypeOptionsHeader>(w, "nosniff");
  if (auto inm = HeaderValue(req, "If-None-Match"); inm && inm->find(etag) != std::string::npos) {
    SendNotModified(ctx, w);
    return;
  }
  Send(ctx, w, 200, std::string(asset.bytes), std::string(mime));
}

}  // namespace pixq::http
