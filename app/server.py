"""The ASGI application: ``/graphql`` (POST for operations, GET for GraphiQL), static assets, health."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from cross_web import HTTPException  # what Strawberry's ASGI view turns into a plain HTTP error
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.types import ExecutionResult

from app.auth.cache import KeyCache
from app.config import Settings
from app.graphiql import STATIC_DIR, STATIC_URL_PREFIX, graphiql_html
from app.graphql.context import Context
from app.graphql.plan import CompiledExecutor
from app.graphql.schema import build_schema
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
        self.compiled = CompiledExecutor(build_schema(settings), settings)
        self.keys = KeyCache(engine, settings.key_cache_seconds)

    async def execute_single(
        self,
        request: Request,
        request_adapter: Any,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Reads the compiled executor covers are served by it; everything else by Strawberry (the reference)."""
        if self.settings.compiled_reads and request_adapter.method == "POST":
            data = await self.compiled.execute(
                request_data.query, request_data.variables, request_data.operation_name, context
            )
            if data is not None:
                sub_response.headers[EXECUTOR_HEADER] = "compiled"
                return ExecutionResult(data=data, errors=None)
            # A fresh context: nothing the compiled attempt loaded leaks into the reference's answer.
            context = Context(engine=context.engine, settings=context.settings, principal=context.principal)
        sub_response.headers[EXECUTOR_HEADER] = "reference"
        return await super().execute_single(request, request_adapter, sub_response, context, root_value, request_data)

    async def get_context(self, request: Any, response: Any) -> Context:
        principal = None
        scheme, _, secret = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and secret.strip():
            principal = await self.keys.authenticate(secret.strip())
        return Context(engine=self.engine, settings=self.settings, principal=principal)

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(graphiql_html(endpoint=str(request.url.path)))

    def encode_json(self, data: GraphQLHTTPResponse | list[GraphQLHTTPResponse]) -> bytes:
        return orjson.dumps(data)

    def parse_json(self, data: str | bytes) -> object:
        """Any body that is not one JSON object is the caller's mistake: 400, never a server error."""
        try:
            parsed = json.loads(data)
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

        async def counting_receive() -> dict[str, Any]:
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
        body = {"errors": [{"message": f"request body is larger than {self.limit} bytes",
                            "extensions": {"code": "LIMIT_EXCEEDED"}}]}
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
        yield
        if owned:
            await engine.dispose()

    async def health(_: Request) -> Response:
        return PlainTextResponse("ok")

    graphql = GatewayGraphQL(engine, settings)
    routes = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        Route("/healthz", health),
    ]
    if settings.graphiql:
        routes.append(Mount(STATIC_URL_PREFIX, StaticFiles(directory=STATIC_DIR), name="graphiql-static"))
    app = Starlette(routes=routes, lifespan=lifespan)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.state.engine = engine
    app.state.compiled = graphql.compiled
    return app
