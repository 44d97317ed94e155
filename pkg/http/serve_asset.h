#pragma once

// Answers a GET with one of pixq-api's built-in files (assets.h): /docs, /openapi.json and the
// web console's files.

#include <string_view>

#include <pistache/http.h>
#include <pistache/router.h>

#include "pkg/http/assets.h"
#include "pkg/http/request_context.h"

namespace pixq::http {

// 200 with `asset` as `mime`, a strong ETag (its SHA-256), `Cache-Control: no-cache` (it changes
// with the binary, so it is revalidated on every use) and `X-Content-Type-Options: nosniff`; 304
// when If-None-Match names that ETag. Headers the caller set before stay.
void ServeAsset(RequestContext& ctx, const Pistache::Rest::Request& req,
                Pistache::Http::ResponseWriter& w, const Asset& asset, std::string_view mime);

}  // namespace pixq::http
