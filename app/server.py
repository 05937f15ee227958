"""The ASGI application: ``/graphql`` (POST for operations, GET for GraphiQL), static assets, health."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from cross_web import (
    AsyncHTTPRequestAdapter,
    HTTPException,  # what Strawberry's ASGI view turns into a plain HTTP error
)
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLRequestData
from strawberry.types import ExecutionResult

from app import json_body
from app.auth.cache import KeyCache
from app.config import Settings
from app.errors import Code
from app.graphiql import STATIC_DIR, STATIC_URL_PREFIX, graphiql_html
from app.graphql.context import Context
from app.graphql.fast_ingest import FastIngest
from app.graphql.plan import CompiledExecutor
from app.graphql.possible_types import possible_types
from app.graphql.schema import build_schema
from app.http import routes as http_routes
from app.http_errors import error_response, internal_error_response
from app.http_rules import GRAPHIQL_HEADERS, JsonOperations
from app.request_guard import RequestGuard
from app.serving import limit_server_logs
from app.store.engine import create_engine

log = logging.getLogger("app.server")

EXECUTOR_HEADER = "x-audit-executor"
"""Which executor answered: ``compiled`` or ``reference``."""


class GatewayGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view with our context, our offline GraphiQL and orjson encoding."""

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql" if settings.graphiql else None,
            allow_queries_via_get=False,
            multipart_uploads_enabled=False,
        )
        self.engine = engine
        self.settings = settings
        self.fast_ingest = FastIngest(build_schema(settings)) if settings.fast_ingest else None
        self.compiled = CompiledExecutor(build_schema(settings), settings)
        self.keys = KeyCache(engine, settings.key_cache_seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """As Strawberry's, except that every refusal and failure is a JSON error body (app/http_errors.py)."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope=scope, receive=receive))
        except HTTPException as error:
            response = error_response(error.status_code, error.reason)
        except _BodyTooLarge:
            raise  # BodyLimit answers it
        except Exception as error:
            response = internal_error_response(error)
        await response(scope, receive, send)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        principal = None
        scheme, _, secret = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and secret.strip():
            try:
                principal = await self.keys.authenticate(secret.strip())
            except Exception as error:  # the database failed: every field that needs the caller reports it
                return Context(engine=self.engine, settings=self.settings, principal=None, auth_failure=error)
        return Context(engine=self.engine, settings=self.settings, principal=principal)

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Each request is served by the first executor that covers it, and says which (``x-audit-executor``).

        ``recordEvents`` by the ingestion fast path (app.graphql.fast_ingest); the reads it covers by the compiled
        executor (app.graphql.plan); everything else, and every error path, by Strawberry (the reference).
        """
        if self.fast_ingest is not None and request_adapter.method == "POST":
            answer = await self.fast_ingest.execute(request_data, context, sub_response.headers)
            if answer is not None:
                return answer
        if self.settings.compiled_reads and request_adapter.method == "POST" and context.auth_failure is None:
            data = await self.compiled.execute(
                request_data.query, request_data.variables, request_data.operation_name, context
            )
            if data is not None:
                sub_response.headers[EXECUTOR_HEADER] = "compiled"
                return ExecutionResult(data=data, errors=None)
            # A fresh context: nothing the compiled attempt loaded leaks into the reference's answer.
            context = Context(engine=context.engine, settings=context.settings, principal=context.principal)
        sub_response.headers.setdefault(EXECUTOR_HEADER, "reference")
        return await super().execute_single(request, request_adapter, sub_response, context, root_value, request_data)

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(graphiql_html(endpoint=str(request.url.path)), headers=GRAPHIQL_HEADERS)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def parse_json(self, data: str | bytes) -> object:
        """Any body that is not one JSON object is the caller's mistake: 400, never a server error."""
        try:
            # Exactly json.loads(data.decode("utf-8")): UTF-8 only (json.loads would also guess UTF-16 and
            # UTF-32 from bytes), orjson where it is provably the same (app/json_body.py).
            parsed = json_body.loads(data)
        except (ValueError, RecursionError):  # bad JSON or UTF-8, too deep, a number with too many digits
            raise HTTPException(400, "the request body must be a JSON object with a query") from None
        if not isinstance(parsed, dict):
            raise HTTPException(400, "the request body must be a JSON object; batched operations are not accepted")
        return parsed


class BodyLimit:
    """Refuses a request body over ``limit`` bytes with 413, without reading it whole."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, counting_receive, send)
        except _BodyTooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"request body is larger than {self.limit} bytes"
        body: dict[str, Any] = {"errors": [{"message": message, "extensions": {"code": Code.LIMIT_EXCEEDED}}]}
        if scope["path"].startswith("/v1/"):  # the HTTP routes' error shape
            body = {"errors": [{"message": message, "code": Code.LIMIT_EXCEEDED}]}
        await JSONResponse(body, status_code=413)(scope, receive, send)


class _BodyTooLarge(Exception):
    pass


def create_app(settings: Settings | None = None, engine: AsyncEngine | None = None) -> Starlette:
    settings = settings or Settings()
    owned = engine is None
    engine = engine or create_engine(
        settings.database_url, statement_timeout_ms=settings.statement_timeout_ms, pool_size=settings.pool_size
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        limit_server_logs()  # uvicorn has configured its loggers by now, in every worker process
        yield
        if owned:
            await engine.dispose()

    async def health(_: Request) -> Response:
        return PlainTextResponse("ok")

    graphql = GatewayGraphQL(engine, settings)
    routes: list[BaseRoute] = [
        Route("/graphql", graphql),  # any method: the view answers 405 itself, as JSON
        Route("/healthz", health),
        *http_routes(engine, settings),
    ]
    if settings.introspection:  # the same facts as introspection, so the same switch

        async def possible_types_json(_: Request) -> Response:
            return JSONResponse(possible_types(build_schema(settings)))  # both cached: one map per schema

        routes.append(Route("/graphql/possible-types.json", possible_types_json, methods=["GET"]))
    if settings.graphiql:
        routes.append(Mount(STATIC_URL_PREFIX, StaticFiles(directory=STATIC_DIR), name="graphiql-static"))
    app = Starlette(routes=routes, lifespan=lifespan)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(JsonOperations)
    app.add_middleware(RequestGuard, timeout_ms=settings.request_timeout_ms)  # outermost: covers everything
    app.state.engine = engine
    app.state.compiled = graphql.compiled
    return app
