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
from collections import Counter
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


WATCH_AFTER = 0.02
"""Seconds after which a request still at work starts watching for its client's disconnect (see RequestGuard)."""

WATCHERS: Counter[str] = Counter()
"""Watcher tasks ``started`` (tests count them)."""


class RequestGuard:
    """Runs each HTTP request as a task that ends at its deadline or when its client goes away.

    Per request: the work task, one future that the first of its three endings resolves (the work is done,
    the deadline timer fires, the watcher sees the client go), one timer, and — for a request still at work
    ``WATCH_AFTER`` seconds after it started, with its body read (so never for one whose body nobody reads) —
    the watcher task that owns ``receive`` from then on. Most reads end well within ``WATCH_AFTER``: a watcher
    they would cancel unstarted was a task, its two steps and its cancellation per request. The app's own
    ``receive`` after the body starts the watcher at once (as before, the app then hears of the disconnect
    from it).
    """

    def __init__(self, app: ASGIApp, timeout_ms: int) -> None:
        self.app = app
        self.timeout = timeout_ms / 1000

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        state = RequestState(deadline=time.monotonic() + self.timeout)
        ended: asyncio.Future[None] = loop.create_future()
        disconnected = asyncio.Event()
        watcher: asyncio.Task[None] | None = None
        body_read = False
        due = False
        """``WATCH_AFTER`` has passed: the watcher starts as soon as the body is in."""
        started = False
        expires = loop.time() + self.timeout
        deadline: asyncio.TimerHandle  # armed below: ``tick`` first, then the deadline itself

        def end(_: object = None) -> None:
            if not ended.done():
                ended.set_result(None)

        async def watch_disconnect() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            disconnected.set()
            end()

        def watch() -> None:
            nonlocal watcher
            if watcher is None:
                WATCHERS["started"] += 1
                watcher = asyncio.ensure_future(watch_disconnect())

        def tick() -> None:
            """``WATCH_AFTER`` in: still at work, so watch the client (once the body is in) until the deadline."""
            nonlocal deadline, due
            if ended.done():
                return
            due = True
            if body_read:
                watch()
            deadline = loop.call_at(expires, end)

        async def guarded_receive() -> Message:
            nonlocal body_read
            if body_read:
                # The body is in; the watcher owns ``receive`` now and reports the disconnect.
                watch()
                await disconnected.wait()
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnected.set()
                end()
            elif not message.get("more_body", False):
                body_read = True
                if due:
                    watch()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        token = _current.set(state)
        try:
            work = asyncio.ensure_future(self.app(scope, guarded_receive, guarded_send))
        finally:
            _current.reset(token)
        work.add_done_callback(end)
        deadline = loop.call_at(expires, end) if self.timeout <= WATCH_AFTER else loop.call_later(WATCH_AFTER, tick)
        try:
            await ended
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
            deadline.cancel()
            if watcher is not None:
                watcher.cancel()
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
