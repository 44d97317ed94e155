// The web console (docs/console.md): GET /console, the page, and GET /console/{file}, its styles
// and script modules, all built into the binary (pkg/http/console, assets.h). The page itself
// needs no key; it asks for one when the API answers 401 and sends it as a header.

#include <string>
#include <string_view>
#include <utility>

#include "pkg/http/assets.h"
#include "pkg/http/handlers.h"
#include "pkg/http/responses.h"
#include "pkg/http/serve_asset.h"

namespace pixq::http {
namespace {

// Only pixq's own scripts and styles, and no inline script, style or eval: everything a user
// uploaded (titles, file names) and every reason and message is shown as text, and this policy
// is the second line behind that. Images come from pixq-api, or from blob: URLs when the console
// fetched them with the API key (a key never goes into an image's URL).
constexpr char kConsoleContentSecurityPolicy[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

std::string_view MimeOf(std::string_view name) {
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  return "text/html; charset=utf-8";
}

void ServeConsoleFile(RequestContext& ctx, const Handlers::Request& req,
                      Handlers::ResponseWriter& w, const Asset& asset, std::string_view name) {
  SetHeader<ContentSecurityPolicyHeader>(w, kConsoleContentSecurityPolicy);
  SetHeader<ReferrerPolicyHeader>(w, "no-referrer");
  ServeAsset(ctx, req, w, asset, MimeOf(name));
}

}  // namespace

void Handlers::Console(RequestContext& ctx, const Request& req, ResponseWriter w) {
  ServeConsoleFile(ctx, req, w, *ConsoleFile("index.html"), "index.html");
}

void Handlers::ConsoleAsset(RequestContext& ctx, const Request& req, ResponseWriter w) {
  const std::string name = req.param(":file").as<std::string>();
  const Asset* asset = name == "index.html" ? nullptr : ConsoleFile(name);
  if (asset == nullptr) {
    NoRoute(ctx, req, std::move(w));
    return;
  }
  ServeConsoleFile(ctx, req, w, *asset, name);
}

}  // namespace pixq::http
