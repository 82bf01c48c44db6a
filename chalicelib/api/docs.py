"""`GET /docs`: Swagger UI over this API's /openapi.json, from the Swagger UI files Powertools ships (no CDN).

Plain Chalice routes, not `Router` ones: they answer HTML and assets, so they stay out of the OpenAPI
document. SHELF_DOCS=0 switches them off (they answer 404 like any unknown resource).
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

from chalice import Blueprint, Response

from .. import config
from .http import problem

docs = Blueprint(__name__)

# Scripts and styles only from this API; Swagger UI sets inline styles and draws icons from data: URIs.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

_SWAGGER_UI = "aws_lambda_powertools.event_handler.openapi.swagger_ui"
_ASSETS = {
    "swagger-ui.css": ("swagger-ui.min.css", "text/css; charset=utf-8"),
    "swagger-ui-bundle.js": ("swagger-ui-bundle.min.js", "text/javascript; charset=utf-8"),
}

# Relative URLs throughout: behind API Gateway the page lives under the stage (/api/docs).
_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Shelf API reference</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="docs/swagger-ui.css?v={version}">
</head>
<body>
  <div id="swagger-ui"><p style="font-family: sans-serif; padding: 1rem">Loading the API reference&hellip;</p></div>
  <script src="docs/swagger-ui-bundle.js?v={version}"></script>
  <script src="docs/init.js?v={version}"></script>
</body>
</html>
"""

# The spec has no `servers`: tell Swagger UI the API's base is the folder this page is in, so "Try it out"
# reaches the API under API Gateway's stage prefix as well as locally.
_INIT_JS = """"use strict";
(function () {
  var base = new URL(".", window.location.href);
  fetch(new URL("openapi.json", base), {headers: {Accept: "application/json"}})
    .then(function (r) { if (!r.ok) { throw new Error("openapi.json: HTTP " + r.status); } return r.json(); })
    .then(function (spec) {
      spec.servers = [{url: base.href.replace(/\\/$/, ""), description: "this API"}];
      window.ui = SwaggerUIBundle({
        spec: spec, dom_id: "#swagger-ui", deepLinking: true, docExpansion: "list", filter: true,
        persistAuthorization: false, displayRequestDuration: true, layout: "BaseLayout",
        presets: [SwaggerUIBundle.presets.apis]
      });
    })
    .catch(function (e) { document.getElementById("swagger-ui").textContent = String(e); });
})();
"""


@lru_cache(maxsize=None)
def _asset(name: str) -> str:
    return resources.files(_SWAGGER_UI).joinpath(name).read_text(encoding="utf-8")


def _version() -> str:
    from aws_lambda_powertools.shared.version import VERSION

    return VERSION


def _answer(body: str, content_type: str, cache: str) -> Response:
    if not config.docs_enabled():
        return problem(404, "the API reference is switched off here (SHELF_DOCS=0)")
    return Response(body=body, status_code=200, headers={
        "Content-Type": content_type, "Cache-Control": cache, "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"})


# Assets carry ?v=<powertools version>: cached for a day, replaced when the version changes.
_ASSET_CACHE = "public, max-age=86400"


@docs.route("/docs", methods=["GET"])
def docs_page():
    return _answer(_PAGE.format(version=_version()), "text/html; charset=utf-8", "no-cache")


@docs.route("/docs/init.js", methods=["GET"])
def docs_init():
    return _answer(_INIT_JS, "text/javascript; charset=utf-8", _ASSET_CACHE)


@docs.route("/docs/swagger-ui.css", methods=["GET"])
def docs_css():
    name, content_type = _ASSETS["swagger-ui.css"]
    return _answer(_asset(name), content_type, _ASSET_CACHE)


@docs.route("/docs/swagger-ui-bundle.js", methods=["GET"])
def docs_js():
    name, content_type = _ASSETS["swagger-ui-bundle.js"]
    return _answer(_asset(name), content_type, _ASSET_CACHE)
