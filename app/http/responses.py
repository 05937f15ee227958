"""JSON responses and request-level errors of the HTTP routes, and who is calling."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response

from app.auth.keys import authenticate
from app.auth.principal import Principal, Scope, require
from app.errors import Code, Forbidden, Unauthenticated, UserFacingError
from app.http.wire import error_body

log = logging.getLogger("app.http")


class Json(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content)
        except TypeError:  # a lone surrogate quoted from the caller's input: escaped instead
            return json.dumps(content, ensure_ascii=True).encode("ascii")


class HttpError(Exception):
    """A request-level problem: answered as ``{"errors": [{"message", "code"}]}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers

    def response(self) -> Response:
        return Json(error_body(self.code, self.message), status_code=self.status, headers=self.headers)


def internal(error: Exception) -> HttpError:
    """Anything unexpected: logged with an id, answered with that id only (no trace, no SQL)."""
    error_id = uuid.uuid4().hex[:16]
    log.error("internal error %s", error_id, exc_info=error)
    return HttpError(500, Code.INTERNAL, f"Internal error (id {error_id}).")


def user_error(error: UserFacingError, status: int) -> HttpError:
    """The project's own error with its code; 401/403 for the auth errors, ``status`` for the rest."""
    if isinstance(error, Unauthenticated):
        return HttpError(401, error.code, str(error), {"WWW-Authenticate": "Bearer"})
    if isinstance(error, Forbidden):
        return HttpError(403, error.code, str(error))
    return HttpError(status, error.code, str(error))


async def caller(request: Request, engine: AsyncEngine, scope: Scope) -> Principal:
    """The principal behind ``Authorization: Bearer <key>``, holding ``scope`` (else 401/403)."""
    principal = None
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and secret.strip():
        principal = await authenticate(engine, secret.strip())
    try:
        return require(principal, scope)
    except UserFacingError as error:
        raise user_error(error, 400) from None


Handler = Callable[[Request], Awaitable[Response]]


def answers_errors(handler: Handler) -> Handler:
    """Turns an ``HttpError`` raised by ``handler`` into its JSON answer."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except HttpError as error:
            return error.response()

    return endpoint
