"""HTTP-level errors from ``/graphql`` in the GraphQL response shape, so every JSON client can read them.

Strawberry refuses a request it cannot run (no query, bad JSON, wrong method or
content type) with a plain-text body; clients that always parse JSON then fail
on the parse instead of showing the reason. Here every such refusal becomes
``{"errors": [{"message": ..., "extensions": {"code": ...}}]}`` with the same status.
"""

from __future__ import annotations

import logging
import uuid

from starlette.responses import JSONResponse

from app.errors import Code

log = logging.getLogger("app.errors")

CODES = {
    400: Code.BAD_REQUEST,
    404: Code.NOT_FOUND,
    405: Code.METHOD_NOT_ALLOWED,
    413: Code.LIMIT_EXCEEDED,
    415: Code.UNSUPPORTED_MEDIA_TYPE,
}
ALLOWED_METHODS = "GET, POST"


def error_response(status_code: int, message: str) -> JSONResponse:
    """One error, coded by its status; a 405 names the methods that are allowed."""
    code = CODES.get(status_code, Code.BAD_REQUEST if status_code < 500 else Code.INTERNAL)
    headers = {"Allow": ALLOWED_METHODS} if status_code == 405 else None
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return JSONResponse(body, status_code=status_code, headers=headers)


def internal_error_response(error: BaseException) -> JSONResponse:
    """An unexpected failure outside GraphQL execution: logged with an id, masked like a resolver's."""
    error_id = uuid.uuid4().hex[:16]
    log.error("internal error %s outside GraphQL execution", error_id, exc_info=error)
    body = {
        "errors": [
            {"message": f"Internal error (id {error_id}).", "extensions": {"code": Code.INTERNAL, "errorId": error_id}}
        ]
    }
    return JSONResponse(body, status_code=500)
