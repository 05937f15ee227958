"""Every HTTP request ends at its deadline or when its client goes away, with all the work it started.

``RequestGuard`` runs the application for one request as a task. The task is
cancelled when ``AUDIT_REQUEST_TIMEOUT_MS`` passes (the caller gets a 503 with
``extensions.code = TIMEOUT`` if nothing was sent yet) or when the client
disconnects (ASGI ``http.disconnect``; nobody is left to answer). Tasks the
request starts on the side, such as the DataLoader rounds, register with
``track`` and are cancelled with it, and ``current()`` tells the store's
SQLite progress handler to interrupt a statement of a request that is over.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import Code

log = logging.getLogger("app.request")


@dataclass
class RequestState:
    deadline: float
    """``time.monotonic()`` after which the request's work stops."""
    over: bool = False
    """Set when the request was cancelled (deadline or disconnect): its statements are interrupted."""
    children: set[asyncio.Task[Any]] = field(default_factory=set)


_current: contextvars.ContextVar[RequestState | None] = contextvars.ContextVar("audit_request", default=None)


def current() -> RequestState | None:
    return _current.get()


def track(task: asyncio.Task[Any]) -> asyncio.Task[Any]:
    """Ties a side task to the current request, so it is cancelled when the request is."""
    state = _current.get()
    if state is not None:
        state.children.add(task)
        task.add_done_callback(state.children.discard)
    return task


class RequestGuard:
    def __init__(self, app: ASGIApp, timeout_ms: int) -> None:
        self.app = app
        self.timeout = timeout_ms / 1000

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = RequestState(deadline=time.monotonic() + self.timeout)
        disconnected = asyncio.Event()
        body_read = asyncio.Event()
        started = False

        async def guarded_receive() -> Message:
            if body_read.is_set():
                # The body is in; the watcher owns ``receive`` now and reports the disconnect.
                await disconnected.wait()
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnected.set()
            elif not message.get("more_body", False):
                body_read.set()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        async def watch_disconnect() -> None:
            await body_read.wait()
            while (await receive())["type"] != "http.disconnect":
                pass
            disconnected.set()

        token = _current.set(state)
        try:
            work = asyncio.ensure_future(self.app(scope, guarded_receive, guarded_send))
            watcher = asyncio.ensure_future(watch_disconnect())
        finally:
            _current.reset(token)
        gone = asyncio.ensure_future(disconnected.wait())
        try:
            await asyncio.wait({work, gone}, timeout=self.timeout, return_when=asyncio.FIRST_COMPLETED)
            if work.done():
                work.result()
                return
            await _cancel(state, work)
            if disconnected.is_set():
                log.info("client went away: stopped %s %s", scope.get("method"), scope.get("path"))
                return
            log.warning(
                "request over its %.0f ms deadline: stopped %s %s",
                self.timeout * 1000,
                scope.get("method"),
                scope.get("path"),
            )
            if not started:
                await _timeout_response(self.timeout)(scope, receive, send)
        finally:
            for task in (watcher, gone):
                task.cancel()
            if not work.done():
                await _cancel(state, work)


async def _cancel(state: RequestState, work: asyncio.Task[Any] | asyncio.Future[Any]) -> None:
    state.over = True
    work.cancel()
    children = list(state.children)
    for child in children:
        child.cancel()
    await asyncio.gather(work, *children, return_exceptions=True)


def _timeout_response(timeout: float) -> JSONResponse:
    message = (
        f"the request took longer than {timeout * 1000:.0f} ms (AUDIT_REQUEST_TIMEOUT_MS) and was stopped; "
        "ask for less (smaller pages, fewer nested lists)"
    )
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": Code.TIMEOUT}}]}, status_code=503)
