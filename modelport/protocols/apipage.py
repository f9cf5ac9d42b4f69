"""The interactive API page: ``GET /swagger`` renders the service's OpenAPI document (v1 and V2
routes, ``/swagger.json?version=3``) with Swagger UI, whose assets the service serves itself from
the ``swagger-ui-bundle`` package (no CDN).

The page and its assets need no credentials (a browser cannot send a Bearer header when it opens
a page); the document and every call still do. With auth on, the page asks for the service key
once, keeps it in the tab's ``sessionStorage`` and adds ``Authorization: Bearer <key>`` to the
document's request and to every "Try it out" call.
"""

from __future__ import annotations

import functools
from pathlib import Path

import orjson

from modelport.errors import ModelportError, NotFoundError
from modelport.protocols import Call, Protocol, Reply, Route
from modelport.protocols.v1 import error_value

__all__ = ["ASSETS", "ApiPage"]

ASSETS = {
    "swagger-ui.css": b"text/css; charset=utf-8",
    "swagger-ui-bundle.js": b"application/javascript; charset=utf-8",
    "favicon-32x32.png": b"image/png",
    "favicon-16x16.png": b"image/png",
}
"""The Swagger UI files served under ``/swagger/``, with their content types."""
_HTML = b"text/html; charset=utf-8"
_CACHE = [(b"cache-control", b"public, max-age=86400")]
_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title} - API</title>
  <link rel="stylesheet" href="swagger/swagger-ui.css">
  <link rel="icon" type="image/png" href="swagger/favicon-32x32.png" sizes="32x32">
  <style>
    body {{ margin: 0; font-family: sans-serif; }}
    #key-bar {{ padding: 8px 20px; background: #fafafa; border-bottom: 1px solid #ddd; }}
    #key-bar input {{ width: 28em; }}
  </style>
</head>
<body>
  <div id="key-bar" {key_bar_hidden}>
    <label>Service key: <input id="service-key" type="password" autocomplete="off"></label>
    <button id="use-key" type="button">Use key</button>
    <span id="key-state"></span>
  </div>
  <div id="swagger-ui"></div>
  <script src="swagger/swagger-ui-bundle.js"></script>
  <script>
    const STORE = "modelport-service-key";
    function key() {{ return sessionStorage.getItem(STORE) || ""; }}
    function load() {{
      window.ui = SwaggerUIBundle({{
        url: "swagger.json?version=3",
        dom_id: "#swagger-ui",
        deepLinking: true,
        presets: [SwaggerUIBundle.presets.apis],
        requestInterceptor: (request) => {{
          if (key() && !request.headers["Authorization"]) {{
            request.headers["Authorization"] = "Bearer " + key();
          }}
          return request;
        }},
      }});
      document.getElementById("key-state").textContent = key() ? "key in use" : "";
    }}
    document.getElementById("use-key").addEventListener("click", () => {{
      sessionStorage.setItem(STORE, document.getElementById("service-key").value.trim());
      document.getElementById("service-key").value = "";
      load();
    }});
    load();
  </script>
</body>
</html>
"""


@functools.cache
def _asset(name: str) -> bytes:
    from swagger_ui_bundle import swagger_ui_path

    return (Path(str(swagger_ui_path)) / name).read_bytes()


class ApiPage(Protocol):
    """``/swagger`` and its assets. Errors are v1's (the page is not an inference protocol)."""

    name = "api-page"

    def routes(self) -> list[Route]:
        return [
            Route("/swagger", ("GET",), False, self.page),
            Route("/swagger/{asset}", ("GET",), False, self.asset),
        ]

    def error_body(self, exc: ModelportError | None, debug: bool = False) -> bytes:
        return orjson.dumps(error_value(exc, debug))

    async def page(self, call: Call) -> Reply:
        """``GET /swagger``: the page (a key box when the service needs one)."""
        html = _PAGE.format(
            title=_escape(self.host.service_name),
            key_bar_hidden="" if self.host.auth_enabled else "hidden",
        )
        return Reply(200, html.encode(), _HTML)

    async def asset(self, call: Call) -> Reply:
        """``GET /swagger/<file>``: one of Swagger UI's files (404 for anything else)."""
        name = (call.params or {}).get("asset", "")
        content_type = ASSETS.get(name)
        if content_type is None:
            raise NotFoundError(f"no file /swagger/{name}: the page is GET /swagger")
        return Reply(200, _asset(name), content_type, list(_CACHE))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
