"""HTTP rules for ``/graphql``: an exact media type for operations, and safe headers for the GraphiQL page."""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

GRAPHIQL_HEADERS = {
    # Everything the page needs comes from the gateway itself; inline <style> is the page's own layout, and
    # GraphiQL's fonts are embedded as data: URLs. Nothing may frame the page (clickjacking).
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def json_media_type(value: str) -> str | None:
    """Why ``value`` is not ``application/json`` (optional parameters, charset utf-8 if given), or None.

    >>> json_media_type("Application/JSON; charset=UTF-8") is None
    True
    >>> json_media_type("application/json-patch+json")
    "the media type is 'application/json-patch+json', not application/json"
    """
    media_type, *parameters = value.split(";")
    media_type = media_type.strip().lower()
    if media_type != "application/json":
        return f"the media type is {media_type!r}, not application/json"
    for parameter in parameters:
        name, _, given = parameter.partition("=")
        if name.strip().lower() == "charset" and given.strip().strip('"').lower() not in ("utf-8", "utf8"):
            return f"the charset is {given.strip()!r}; bodies are UTF-8 only"
    return None


class JsonOperations:
    """POST /graphql takes ``application/json`` only; anything else is a 415 before the body is read."""

    def __init__(self, app: ASGIApp, path: str = "/graphql") -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == self.path:
            given = [value for name, value in scope["headers"] if name == b"content-type"]
            if given == [b"application/json"]:  # already the one spelling (most clients): no copy of the scope
                await self.app(scope, receive, send)
                return
            problem = (
                "send Content-Type: application/json"
                if len(given) != 1
                else json_media_type(given[0].decode("latin-1"))
            )
            if problem is not None:
                body = {
                    "errors": [
                        {
                            "message": f"{problem}: operations are POSTed as application/json (UTF-8)",
                            "extensions": {"code": "UNSUPPORTED_MEDIA_TYPE"},
                        }
                    ]
                }
                await JSONResponse(body, status_code=415)(scope, receive, send)
                return
            # Strawberry matches the type by substring; hand it the one spelling it knows.
            headers = [(name, value) for name, value in scope["headers"] if name != b"content-type"]
            scope = {**scope, "headers": [*headers, (b"content-type", b"application/json")]}
        await self.app(scope, receive, send)
