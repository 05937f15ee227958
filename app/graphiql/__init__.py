"""Offline GraphiQL: the IDE page plus vendored assets served by the gateway itself.

Nothing on the page comes from a CDN or any other host: React, ReactDOM, GraphiQL
(JS + CSS, with its Roboto / Fira Code fonts embedded as ``data:`` URLs) live in
``STATIC_DIR`` and are referenced only by absolute local paths under
``STATIC_URL_PREFIX``. Wire it up with::

    from starlette.routing import Mount
    from starlette.staticfiles import StaticFiles
    from app.graphiql import STATIC_DIR, STATIC_URL_PREFIX, graphiql_html

    Mount(STATIC_URL_PREFIX, app=StaticFiles(directory=STATIC_DIR), name="graphiql-static")
    # ... and answer GET /graphql (Accept: text/html) with HTMLResponse(graphiql_html()),
    # e.g. by overriding strawberry.asgi.GraphQL.render_graphql_ide.

See ``static/VERSIONS.txt`` for the vendored package versions and licenses.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

__all__ = [
    "GRAPHIQL_VERSION",
    "STATIC_DIR",
    "STATIC_URL_PREFIX",
    "graphiql_html",
]

STATIC_DIR: Path = Path(__file__).resolve().parent / "static"
STATIC_URL_PREFIX = "/graphiql/static"

#: Version of the vendored ``graphiql`` npm package (also used to bust browser caches).
GRAPHIQL_VERSION = "3.8.3"

DEFAULT_QUERY = """\
# Welcome to the audit gateway's GraphiQL.
#
# Every request needs your API key. Open the "Headers" tab below this
# editor and paste:
#
#   {"Authorization": "Bearer <your API key>"}
#
# The headers are kept in this browser's local storage, so you only paste
# the key once (clear it from the Headers tab when you are done).
#
# Write a query here and press Ctrl-Enter (or the run button) to execute it;
# the Docs button on the left shows the schema.

"""

# Scripts in load order: React and ReactDOM (UMD globals), then the GraphiQL UMD
# bundle (expects window.React / window.ReactDOM), then our bootstrap.
_SCRIPTS = (
    "react.production.min.js",
    "react-dom.production.min.js",
    "graphiql.min.js",
    "graphiql-init.js",
)
_STYLESHEETS = ("graphiql.min.css",)


def _asset_url(name: str) -> str:
    return f"{STATIC_URL_PREFIX}/{name}?v={GRAPHIQL_VERSION}"


def _json_for_html(value: object) -> str:
    """JSON that is safe inside a ``<script type="application/json">`` element.

    ``ensure_ascii`` also escapes U+2028/U+2029; ``<``, ``>`` and ``&`` are escaped so
    the text can never close the element (``</script>``) or open a comment (``<!--``).
    """
    text = json.dumps(value, ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _check_endpoint(endpoint: str) -> str:
    """Same-origin absolute path only: the page must never point the browser at another host.

    Leading runs of ``/`` or ``\\`` are collapsed to one ``/`` (``//host/graphql`` would
    otherwise be protocol-relative), and anything that is not a URL character is
    percent-encoded.
    """
    if not isinstance(endpoint, str) or not endpoint.startswith("/"):
        raise ValueError(f"endpoint must be a same-origin absolute path like '/graphql', got {endpoint!r}")
    endpoint = "/" + endpoint.lstrip("/\\")
    return quote(endpoint, safe="/?#[]@!$&'()*+,;=:-._~%")


def _normalise_headers(default_headers: str) -> str:
    try:
        parsed = json.loads(default_headers)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"default_headers must be a JSON object string: {exc}") from exc
    if not isinstance(parsed, dict):
        raise ValueError('default_headers must be a JSON object, e.g. \'{"Authorization": "Bearer ..."}\'')
    return json.dumps(parsed, indent=2, ensure_ascii=False)


def graphiql_html(endpoint: str = "/graphql", default_headers: str | None = None) -> str:
    """Return the complete GraphiQL HTML page.

    ``endpoint`` is the same-origin path GraphiQL sends queries to. ``default_headers``
    (a JSON object as a string, e.g. ``'{"Authorization": "Bearer <key>"}'``) pre-fills
    the Headers editor for a browser that has no headers stored yet.

    The page references assets only as ``/graphiql/static/...``; all interpolated values
    travel in a JSON block escaped for HTML, never as raw markup or JS source.
    """
    config: dict[str, object] = {
        "endpoint": _check_endpoint(endpoint),
        "defaultQuery": DEFAULT_QUERY,
        "defaultHeaders": None if default_headers is None else _normalise_headers(default_headers),
    }
    styles = "\n".join(f'    <link rel="stylesheet" href="{_asset_url(name)}">' for name in _STYLESHEETS)
    scripts = "\n".join(f'    <script src="{_asset_url(name)}"></script>' for name in _SCRIPTS)
    return f"""<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta name="referrer" content="no-referrer">
    <title>Audit gateway - GraphiQL</title>
    <link rel="icon" href="data:,">
{styles}
    <style>
      html, body {{ height: 100%; margin: 0; overflow: hidden; }}
      #graphiql {{ height: 100vh; }}
    </style>
  </head>
  <body>
    <div id="graphiql">Loading GraphiQL&hellip;</div>
    <noscript>GraphiQL needs JavaScript.</noscript>
    <script id="graphiql-config" type="application/json">{_json_for_html(config)}</script>
{scripts}
  </body>
</html>
"""
