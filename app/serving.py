"""The HTTP server's own limits: slow or idle clients cannot hold the process, and its logs stay readable.

uvicorn (0.54) bounds keep-alive idleness and, per request, concurrency, but it waits forever for the headers
of a connection that trickles them in, and accepts connections until the process runs out of file descriptors
(then asyncio logs every failed accept). ``guarded_protocol`` adds what is missing to uvicorn's protocols —
h11 (pure Python) and httptools (C; ``serve --http``): a deadline for a request's headers,
and a cap on open connections beyond which a new connection gets a 503 and is closed at once. Header size is
bounded by h11 itself (``h11_max_incomplete_event_size``); for httptools, which has no such bound, by the
guarded protocol (431). ``RateLimitedLog`` keeps a flood of identical server messages to a few lines per
window.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import time
from collections.abc import Callable
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.config import Settings
from app.errors import Code

log = logging.getLogger("app.serving")

_REFUSAL = json.dumps(
    {
        "errors": [
            {
                "message": "the server has too many open connections; retry shortly",
                "extensions": {"code": Code.OVERLOADED},
            }
        ]
    }
).encode()
REFUSED = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nconnection: close\r\nretry-after: 1\r\n"
    + f"content-length: {len(_REFUSAL)}\r\n\r\n".encode()
    + _REFUSAL
)


_TOO_LARGE = json.dumps(
    {"errors": [{"message": "the request headers are too large", "extensions": {"code": Code.LIMIT_EXCEEDED}}]}
).encode()
HEADERS_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\nconnection: close\r\n"
    + f"content-length: {len(_TOO_LARGE)}\r\n\r\n".encode()
    + _TOO_LARGE
)


class HeaderDeadline:
    """The guards both protocols share: the connection cap (503 at once), and a deadline for the next request's
    headers, which must all arrive within ``header_timeout`` while the connection waits for them (``_waiting``)."""

    header_timeout: float = 10.0
    max_connections: int = 1000
    _header_timer: asyncio.TimerHandle | None = None

    # Provided by the uvicorn protocol this is mixed into.
    connections: set[Any]
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport

    def _waiting(self) -> bool:
        raise NotImplementedError

    def _refused(self, transport: asyncio.Transport) -> bool:
        """Whether this new connection is one too many: it is then answered 503 and closed."""
        if len(self.connections) <= self.max_connections:
            return False
        transport.write(REFUSED)
        transport.close()
        return True

    def _watch_headers(self) -> None:
        if not self._waiting():
            self._stop_header_timer()
        elif self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self._waiting():
            self.transport.close()


class GuardedH11Protocol(HeaderDeadline, H11Protocol):
    """uvicorn's h11 protocol with the shared guards (h11 bounds the header bytes itself)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if not self._refused(transport):
            self._watch_headers()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch_headers()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        super().connection_lost(exc)

    def _waiting(self) -> bool:
        return not self.transport.is_closing() and self.conn.their_state is h11.IDLE


class GuardedHttpToolsProtocol(HeaderDeadline, HttpToolsProtocol):
    """uvicorn's httptools protocol with the shared guards, and a bound on the bytes of unfinished headers.

    A connection awaits headers from its start and from the end of each request message until the next
    request's headers are complete; the deadline runs while it awaits them with no response under way.
    """

    max_header_bytes: int = 16 * 1024

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._awaiting_headers = True
        self._header_bytes = 0
        super().connection_made(transport)
        if not self._refused(transport):
            self._watch_headers()

    def data_received(self, data: bytes) -> None:
        if self._awaiting_headers:
            self._header_bytes += len(data)
        super().data_received(data)
        if self._awaiting_headers and self._header_bytes > self.max_header_bytes and not self.transport.is_closing():
            self.transport.write(HEADERS_TOO_LARGE)
            self.transport.close()
        self._watch_headers()

    def on_headers_complete(self) -> None:
        self._awaiting_headers = False
        self._header_bytes = 0
        self._stop_header_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._awaiting_headers = True

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        super().connection_lost(exc)

    def _waiting(self) -> bool:
        idle = self.cycle is None or self.cycle.response_complete
        return idle and self._awaiting_headers and not self.transport.is_closing()


def _limits(settings: Settings) -> dict[str, Any]:
    return {
        "header_timeout": settings.header_timeout_seconds,
        "max_connections": settings.max_connections,
        "max_header_bytes": settings.max_header_bytes,
    }


def guarded_protocol(settings: Settings, http: str = "httptools") -> type[asyncio.Protocol]:
    """The guarded protocol class for ``http`` (``httptools`` or ``h11``), its limits from ``settings``."""
    if http == "h11":
        return type("GatewayH11Protocol", (GuardedH11Protocol,), _limits(settings))
    return type("GatewayHttpToolsProtocol", (GuardedHttpToolsProtocol,), _limits(settings))


class EnvironmentH11Protocol(GuardedH11Protocol):
    """The guarded protocol with its limits from the ``AUDIT_*`` environment, for ``serve --workers N``."""

    header_timeout = Settings().header_timeout_seconds
    max_connections = Settings().max_connections


class EnvironmentHttpToolsProtocol(GuardedHttpToolsProtocol):
    """The guarded httptools protocol with its limits from the ``AUDIT_*`` environment, for ``--workers N``."""

    header_timeout = Settings().header_timeout_seconds
    max_connections = Settings().max_connections
    max_header_bytes = Settings().max_header_bytes


ENVIRONMENT_PROTOCOLS = {
    "h11": "app.serving:EnvironmentH11Protocol",
    "httptools": "app.serving:EnvironmentHttpToolsProtocol",
}
"""The guarded protocols by import path, so that each worker process builds its own."""


def uvicorn_options(settings: Settings, http: str = "httptools", loop: str = "uvloop") -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run``: every limit comes from an ``AUDIT_*`` setting."""
    return {
        "http": guarded_protocol(settings, http),
        "loop": loop,
        "timeout_keep_alive": settings.keep_alive_seconds,
        # uvicorn answers 503 once this many connections or requests are open; the protocol refuses more
        # connections than max_connections at once, so every accepted one can be served.
        "limit_concurrency": settings.max_connections + 1,
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        "timeout_graceful_shutdown": settings.graceful_shutdown_seconds,
        "backlog": min(2048, settings.max_connections),
    }


def raise_file_limit(settings: Settings) -> None:
    """Make room for ``max_connections`` sockets plus the database pool, logs and files (soft ≤ hard limit)."""
    needed = settings.max_connections + 2 * settings.pool_size + 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        if target < needed:
            log.warning(
                "open-file limit %d is below the %d that AUDIT_MAX_CONNECTIONS=%d needs; "
                "lower AUDIT_MAX_CONNECTIONS or raise the limit (ulimit -n)",
                target,
                needed,
                settings.max_connections,
            )


class RateLimitedLog(logging.Filter):
    """At most ``burst`` records per ``window`` seconds pass; the next one after a window says how many were dropped."""

    def __init__(self, burst: int = 20, window: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.burst = burst
        self.window = window
        self.clock = clock
        self.started = clock()
        self.passed = 0
        self.dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        now = self.clock()
        if now - self.started >= self.window:
            self.started, self.passed = now, 0
        if self.passed >= self.burst:
            self.dropped += 1
            return False
        self.passed += 1
        if self.dropped:
            record.msg = f"{record.msg} [{self.dropped} similar messages were suppressed]"
            self.dropped = 0
        return True


FLOODABLE_LOGGERS = ("asyncio", "uvicorn.error")


def limit_server_logs() -> None:
    """One filter per logger whose messages an outside client can trigger at will (accept errors, bad requests)."""
    for name in FLOODABLE_LOGGERS:
        target = logging.getLogger(name)
        if not any(isinstance(f, RateLimitedLog) for f in target.filters):
            target.addFilter(RateLimitedLog())
