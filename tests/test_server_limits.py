"""Slow and idle clients against a real ``audit-gateway serve`` on 127.0.0.1 (bounded: a few dozen sockets).

The limits are set small here (20 connections, 1 s for headers and keep-alive) so the attacks of #13.5 are
cheap to reproduce: connections that trickle their headers, more connections than the limit, idle
keep-alive connections. /healthz must keep answering once the slow ones are cut off, the excess is refused
with a 503, and the server's log stays short.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

MAX_CONNECTIONS = 20
TIMEOUT = 1.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def guarded_server(tmp_path: Path, *options: str) -> Iterator[tuple[int, Path]]:
    """``audit-gateway serve`` with the small limits above and any further ``options``: its port and its log."""
    port = _free_port()
    log = tmp_path / "server.log"
    env = {
        **os.environ,
        "AUDIT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}",
        "AUDIT_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
        "AUDIT_HEADER_TIMEOUT_SECONDS": str(TIMEOUT),
        "AUDIT_KEEP_ALIVE_SECONDS": str(int(TIMEOUT)),
    }
    command = [sys.executable, "-m", "app", "serve", "--port", str(port), *options]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while _status(port) != 200:
                assert process.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
            yield port, log
        finally:
            process.terminate()
            process.wait(timeout=20)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    with guarded_server(tmp_path) as started:
        yield started


def _status(port: int, path: str = "/healthz") -> int | None:
    """One request on a new connection: its status, or None if the server closed without answering."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n".encode())
            head = s.recv(64)
    except OSError:
        return None
    return int(head.split()[1]) if head.startswith(b"HTTP/1.1 ") else None


def _closed_by_server(s: socket.socket, within: float) -> bool:
    """True when the server closes the connection (reads EOF) within ``within`` seconds."""
    s.settimeout(within)
    try:
        while s.recv(4096):
            pass
    except TimeoutError:
        return False
    except OSError:
        return True
    return True


def _slow(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\nX-Slow: ")  # the headers never end
    return s


def test_connections_that_trickle_their_headers_are_cut_off(server: tuple[int, Path]) -> None:
    port, _ = server
    slow = [_slow(port) for _ in range(5)]
    try:
        started = time.monotonic()
        assert _status(port) == 200, "other clients are served meanwhile"
        assert all(_closed_by_server(s, within=TIMEOUT + 5) for s in slow)
        assert time.monotonic() - started >= TIMEOUT * 0.9, "cut off by the header deadline, not at once"
    finally:
        for s in slow:
            s.close()


def test_more_connections_than_the_limit_are_refused_with_503_and_healthz_recovers(server: tuple[int, Path]) -> None:
    port, log = server
    slow = [_slow(port) for _ in range(MAX_CONNECTIONS)]
    excess = []
    try:
        time.sleep(0.2)  # the server has accepted them all
        for _ in range(10):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            excess.append(s)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
            assert s.recv(64).startswith(b"HTTP/1.1 503 "), "the excess is refused at once"
        assert _status(port) == 503
        assert all(_closed_by_server(s, within=TIMEOUT + 5) for s in slow), "the slow ones are cut off"
        deadline = time.monotonic() + 5
        while _status(port) != 200:
            assert time.monotonic() < deadline, "healthz never answered again"
            time.sleep(0.05)
    finally:
        for s in slow + excess:
            s.close()
    lines = log.read_text(errors="replace").splitlines()
    assert len(lines) < 200, f"{len(lines)} log lines for {MAX_CONNECTIONS + 10} connections"


def test_idle_keep_alive_connections_are_closed(server: tuple[int, Path]) -> None:
    port, _ = server
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 200 ")
        assert _closed_by_server(s, within=TIMEOUT + 5)


def test_headers_larger_than_the_limit_are_refused(server: tuple[int, Path]) -> None:
    """More than AUDIT_MAX_HEADER_BYTES of unfinished headers buffered: refused (h11's incomplete-event limit)."""
    port, _ = server
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        with contextlib.suppress(OSError):
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\nX-Big: " + b"x" * (32 * 1024))
            time.sleep(0.2)
            s.sendall(b"x" * (32 * 1024) + b"\r\n\r\n")
        reply = b""
        with contextlib.suppress(OSError):
            reply = s.recv(64)
        assert reply == b"" or reply.split()[1] in (b"400", b"431"), reply


def test_a_flood_of_server_messages_is_cut_to_a_few_lines(caplog: pytest.LogCaptureFixture) -> None:
    """What asyncio logs for every failed accept when file descriptors run out (#13.5: 327k lines in 70 s)."""
    import logging

    from app.serving import RateLimitedLog

    logger = logging.getLogger("asyncio.flood-test")
    clock = [0.0]  # a clock of the test's own: a loaded machine must not stretch the burst past the window
    limiter = RateLimitedLog(burst=5, window=10.0, clock=lambda: clock[0])
    logger.addFilter(limiter)
    try:
        with caplog.at_level(logging.ERROR, logger="asyncio.flood-test"):
            for _ in range(10_000):
                logger.error("socket.accept() out of system resource")
            clock[0] = 10.0
            logger.error("socket.accept() out of system resource")
    finally:
        logger.removeFilter(limiter)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 6 and "9995 similar messages were suppressed" in messages[-1], messages[-1]
