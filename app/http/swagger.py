"""Swagger UI at ``/docs``, with its assets vendored in ``static/swagger`` (see VERSIONS.txt there): no CDN."""

from __future__ import annotations

import json
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

STATIC_DIR: Path = Path(__file__).resolve().parent / "static" / "swagger"
STATIC_URL_PREFIX = "/docs/static"
SWAGGER_UI_VERSION = "5.35.0"

# Swagger UI sets inline styles and shows data: images; nothing may come from another origin.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def _asset(name: str) -> str:
    return f"{STATIC_URL_PREFIX}/{name}?v={SWAGGER_UI_VERSION}"


def docs_html(openapi_url: str = "/openapi.json") -> str:
    config = json.dumps({"url": openapi_url}).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f"""<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta name="referrer" content="no-referrer">
    <title>Audit gateway - HTTP API</title>
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href="{_asset("swagger-ui.css")}">
  </head>
  <body>
    <div id="swagger-ui">Loading Swagger UI&hellip;</div>
    <noscript>Swagger UI needs JavaScript; the document itself is at {openapi_url}.</noscript>
    <script id="swagger-config" type="application/json">{config}</script>
    <script src="{_asset("swagger-ui-bundle.js")}"></script>
    <script src="{_asset("swagger-init.js")}"></script>
  </body>
</html>
"""


async def docs(_: Request) -> Response:
    return HTMLResponse(docs_html(), headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY})
