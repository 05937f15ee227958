"""The ASGI application: ``/graphql`` (POST for operations, GET for GraphiQL), static assets, health."""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from cross_web import (
    AsyncHTTPRequestAdapter,
    HTTPException,  # what Strawberry's ASGI view turns into a plain HTTP error
)
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLRequestData
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

from app import json_body
from app.auth.cache import KeyCache
from app.config import Settings
from app.errors import Code
from app.gc_tuning import tune_collector
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
from app.store import group_commit
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
        self.direct_lane = settings.compiled_reads and not self._stream_transport_map
        """Whether reads the compiled executor answers skip Strawberry's view (``_direct``); tests compare both."""
        self.lane: Counter[str] = Counter()
        """Requests the direct lane answered (``direct``) and handed to Strawberry (``handover``)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """As Strawberry's, except that every refusal and failure is a JSON error body (app/http_errors.py).

        A read the compiled executor answers takes the direct lane (``_direct``); every other request, and every
        one the lane hands over, is Strawberry's.
        """
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        token = None
        direct: bytes | None = None
        try:
            lane = await self._direct(request) if self.direct_lane and _posts_json(scope) else None
            if isinstance(lane, bytes):
                self.lane["direct"] += 1
                direct = lane
            else:
                if lane is not None:
                    self.lane["handover"] += 1
                token = _HANDOVER.set(lane)
                context: Any = UNSET if lane is None or lane.context is None else lane.context
                response = await self.run(request, context=context)
        except HTTPException as error:
            response = error_response(error.status_code, error.reason)
        except _BodyTooLarge:
            raise  # BodyLimit answers it
        except Exception as error:
            response = internal_error_response(error)
        finally:
            if token is not None:
                _HANDOVER.reset(token)
        if direct is not None:
            # What ``Response(direct, media_type="application/json")`` with the executor header sends (as
            # Strawberry's view answers the compiled executor), without building the response object.
            headers = [(b"content-length", b"%d" % len(direct)), _JSON_TYPE, _COMPILED_HEADER]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": direct})
            return
        await response(scope, receive, send)

    async def _direct(self, request: Request) -> bytes | Handover | None:
        """The direct lane: the body of the compiled executor's answer, or what Strawberry is handed to go on.

        Strawberry's view would answer these requests with the same bytes (tests/test_direct_lane.py) but spends
        a tenth of a millisecond on its request, adapter and response objects. The lane takes only POSTed JSON
        objects whose fields Strawberry would accept and whose document is one the compiled executor prepared
        as a query; the rest — bad bodies, mutations, invalid documents, failed authentication, anything the
        executor declines — goes on in Strawberry with what was done so far (the parsed body; the context and
        that the executor declined), so nothing is parsed, authenticated or counted twice.
        """
        body = await request.body()
        try:
            data = json_body.loads(body)
        except (ValueError, RecursionError):
            return None  # Strawberry answers with its 400
        if not isinstance(data, dict):
            return None
        handover = Handover(body, data)
        query, variables, operation_name = data.get("query"), data.get("variables"), data.get("operationName")
        if not (
            isinstance(query, str)
            and isinstance(variables, dict | None)
            and isinstance(operation_name, str | None)
            and isinstance(data.get("extensions"), dict | None)
        ):
            return handover
        if self.compiled.prepare(query, operation_name).refused is not None:
            return handover  # not a query the plans cover: Strawberry counts and serves it, as ever
        handover.context = context = await self._context(request.headers.get("authorization", ""))
        if context.auth_failure is not None:
            return handover
        answer = await self.compiled.execute(query, variables, operation_name, context)
        if answer is None:
            handover.compiled_declined = True
            handover.context = Context(engine=context.engine, settings=context.settings, principal=context.principal)
            return handover
        return self.encode_json({"data": answer})

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        return await self._context(request.headers.get("authorization", ""))

    async def _context(self, authorization: str) -> Context:
        principal = None
        scheme, _, secret = authorization.partition(" ")
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
        handover = _HANDOVER.get()
        declined = handover is not None and handover.compiled_declined
        if (
            self.settings.compiled_reads
            and request_adapter.method == "POST"
            and context.auth_failure is None
            and not declined
        ):
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
        handover = _HANDOVER.get()
        if handover is not None and handover.body is data:
            return handover.data  # the direct lane parsed this very body
        try:
            # Exactly json.loads(data.decode("utf-8")): UTF-8 only (json.loads would also guess UTF-16 and
            # UTF-32 from bytes), orjson where it is provably the same (app/json_body.py).
            parsed = json_body.loads(data)
        except (ValueError, RecursionError):  # bad JSON or UTF-8, too deep, a number with too many digits
            raise HTTPException(400, "the request body must be a JSON object with a query") from None
        if not isinstance(parsed, dict):
            raise HTTPException(400, "the request body must be a JSON object; batched operations are not accepted")
        return parsed


@dataclass(eq=False)
class Handover:
    """What the direct lane did with a request before handing it to Strawberry."""

    body: bytes
    data: dict[str, Any]
    """The parsed body: Strawberry's ``parse_json`` returns it for this very ``body``."""
    context: Context | None = None
    """The caller's context, when the lane authenticated them (Strawberry's ``get_context`` is then skipped)."""
    compiled_declined: bool = False
    """The compiled executor declined (and counted why): ``execute_single`` goes straight to the reference."""


_HANDOVER: contextvars.ContextVar[Handover | None] = contextvars.ContextVar("audit_handover", default=None)
"""Set around Strawberry's ``run`` for one request (a context variable: Strawberry passes no state through)."""

_COMPILED_HEADER = (EXECUTOR_HEADER.encode(), b"compiled")
_JSON_TYPE = (b"content-type", b"application/json")


def _posts_json(scope: Scope) -> bool:
    """A POST whose one media type is ``application/json`` (JsonOperations leaves exactly this spelling)."""
    if scope["method"] != "POST":
        return False
    types = [value for name, value in scope["headers"] if name == b"content-type"]
    return types == [b"application/json"]


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


class Gateway(Starlette):
    """Starlette, with each request for exactly ``/graphql`` taken straight to its route.

    Starlette's stack for a request is ServerErrorMiddleware, the app's middleware, ExceptionMiddleware, the
    router, the route. For ``/graphql`` — the first route, whose endpoint catches every exception itself — the
    last three only find the route and set ``router``, ``endpoint`` and ``path_params`` in the scope (40–80 µs
    per request). The shortcut sets the same scope keys and runs the same middleware instances' twin chain
    (ServerErrorMiddleware and the app's middleware, built from the same list) around the endpoint. Any other
    path, a ``root_path``, or an app with exception handlers or a body limit of Starlette's own goes the whole
    way. tests/test_direct_lane.py compares every response with an app that has it switched off
    (``graphql_shortcut = False``); ``shortcut_requests`` counts the requests it took.
    """

    graphql_shortcut = True

    def __init__(self, *, graphql: ASGIApp, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._graphql = graphql
        self._shortcut: ASGIApp | None = None
        self._built = False
        self.shortcut_requests = 0

    def _build_shortcut(self) -> ASGIApp | None:
        first = self.router.routes[0]
        if self.exception_handlers or self.max_body_size is not None:
            return None
        if not (isinstance(first, Route) and first.path == GRAPHQL_PATH and first.endpoint is self._graphql):
            return None
        app: ASGIApp = self._graphql
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        return ServerErrorMiddleware(app, handler=None, debug=self.debug)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == GRAPHQL_PATH
            and not scope.get("root_path")
            and self.graphql_shortcut
        ):
            if not self._built:
                self._shortcut, self._built = self._build_shortcut(), True
            if self._shortcut is not None:
                self.shortcut_requests += 1
                scope["app"] = self
                scope.setdefault("router", self.router)  # as Router.app and Route.matches set them
                scope["endpoint"] = self._graphql
                scope["path_params"] = dict(scope.get("path_params", {}))
                await self._shortcut(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


GRAPHQL_PATH = "/graphql"


def create_app(settings: Settings | None = None, engine: AsyncEngine | None = None) -> Gateway:
    settings = settings or Settings()
    owned = engine is None
    engine = engine or create_engine(
        settings.database_url, statement_timeout_ms=settings.statement_timeout_ms, pool_size=settings.pool_size
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        limit_server_logs()  # uvicorn has configured its loggers by now, in every worker process
        tune_collector(settings.gc_threshold)  # start-up is over: its heap is frozen, garbage collected less often
        yield
        if owned:
            await engine.dispose()

    async def health(_: Request) -> Response:
        return PlainTextResponse("ok")

    if not settings.group_commit:
        group_commit.switch_off(engine)
    graphql = GatewayGraphQL(engine, settings)
    routes: list[BaseRoute] = [
        Route(GRAPHQL_PATH, graphql),  # any method: the view answers 405 itself, as JSON (first: Gateway)
        Route("/healthz", health),
        *http_routes(engine, settings),
    ]
    if settings.introspection:  # the same facts as introspection, so the same switch

        async def possible_types_json(_: Request) -> Response:
            return JSONResponse(possible_types(build_schema(settings)))  # both cached: one map per schema

        routes.append(Route("/graphql/possible-types.json", possible_types_json, methods=["GET"]))
    if settings.graphiql:
        routes.append(Mount(STATIC_URL_PREFIX, StaticFiles(directory=STATIC_DIR), name="graphiql-static"))
    app = Gateway(graphql=graphql, routes=routes, lifespan=lifespan)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(JsonOperations)
    app.add_middleware(RequestGuard, timeout_ms=settings.request_timeout_ms)  # outermost: covers everything
    app.state.engine = engine
    app.state.compiled = graphql.compiled
    app.state.graphql = graphql
    return app
