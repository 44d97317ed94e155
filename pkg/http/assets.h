#pragma once

// The files pixq-api serves from its own binary, embedded at build time by
// pkg/http/embed_assets.cmake: the OpenAPI 3.1 description of the API (pkg/http/openapi.json,
// GET /openapi.json) and the documentation page (pkg/http/docs.html, GET /docs) with the Redoc
// script it loads (GET /docs/redoc.standalone.js, from the npm package locked in
// pkg/http/redoc/package-lock.json), and the web console's files (pkg/http/console, GET /console).
// Nothing is read from disk and nothing is fetched at run time.
//
// Thread-safe: constants.

#include <string_view>

namespace pixq::http {

struct Asset {
  std::string_view bytes;   // the file's exact content
  std::string_view sha256;  // of `bytes`, lowercase hex (the strong ETag)
};

// pkg/http/openapi.json.
[[nodiscard]] const Asset& OpenApiJson();
// pkg/http/docs.html: the page that renders OpenApiJson() with DocsScript().
[[nodiscard]] const Asset& DocsPage();
// Redoc's standalone bundle, with its licence and those of what it bundles in front.
[[nodiscard]] const Asset& DocsScript();
// The version of the embedded Redoc, e.g. "2.5.4".
[[nodiscard]] std::string_view RedocVersion();
// A file of the web console (pkg/http/console, GET /console/{file}) by its name, e.g. "app.js";
// null for a name it does not have.
[[nodiscard]] const Asset* ConsoleFile(std::string_view name);

}  // namespace pixq::http
