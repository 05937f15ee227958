"""The server's guards hold for every HTTP parser and event loop ``serve`` offers, not only the default.

tests/test_server_limits.py runs its attacks against ``serve`` as it starts by default (httptools on
uvloop); here the same tests run against every combination of ``--http`` and ``--loop``, and a few more
cover what the guards of each parser must not get wrong (pipelining, a large body in the same packet as
small headers, a body that comes late).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.cli import EVENT_LOOPS, HTTP_PROTOCOLS
from tests.test_server_limits import (
    TIMEOUT,
    guarded_server,
    test_connections_that_trickle_their_headers_are_cut_off,  # noqa: F401
    test_headers_larger_than_the_limit_are_refused,  # noqa: F401
    test_idle_keep_alive_connections_are_closed,  # noqa: F401
    test_more_connections_than_the_limit_are_refused_with_503_and_healthz_recovers,  # noqa: F401
)

COMBINATIONS = [(http, loop) for http in HTTP_PROTOCOLS for loop in EVENT_LOOPS]


@pytest.fixture(params=COMBINATIONS, ids=["-".join(c) for c in COMBINATIONS])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[int, Path]]:
    http, loop = request.param
    with guarded_server(tmp_path, "--http", http, "--loop", loop) as started:
        yield started


def _read_until(s: socket.socket, done: Callable[[bytes], bool]) -> bytes:
    received = b""
    while not done(received):
        chunk = s.recv(65536)
        if not chunk:
            break
        received += chunk
    return received


def _exchange(port: int, data: bytes, responses: int) -> bytes:
    """Sends ``data`` at once and reads until ``responses`` responses with a body of ``ok`` came back."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        return _read_until(s, lambda got: got.count(b"HTTP/1.1 ") >= responses and got.endswith(b"ok"))


def test_pipelined_requests_are_answered_in_order(server: tuple[int, Path]) -> None:
    port, _ = server
    one = b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n"
    received = _exchange(port, one * 3, 3)
    assert received.count(b"HTTP/1.1 200 OK") == 3, received


def test_a_large_body_after_small_headers_is_not_taken_for_headers(server: tuple[int, Path]) -> None:
    """Headers and a body far over AUDIT_MAX_HEADER_BYTES in one packet: the request reaches the app."""
    port, _ = server
    body = b'{"query": "{ __typename }", "padding": "' + b"x" * 200_000 + b'"}'
    head = f"POST /graphql HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(head.encode() + b"\r\n\r\n" + body)
        reply = _read_until(s, lambda got: got.endswith(b"}}"))
    assert reply.startswith(b"HTTP/1.1 200 "), reply[:200]
    assert reply.endswith(b'{"data":{"__typename":"Query"}}'), reply[-200:]


def test_a_slow_response_is_not_cut_off_by_the_header_deadline(server: tuple[int, Path]) -> None:
    """The header deadline runs only while a connection awaits a request's headers, not while it is served."""
    port, _ = server
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n"
        )
        time.sleep(TIMEOUT * 1.5)  # the body is late: not the headers' deadline
        s.sendall(b'{"query": "{ __typename }"}'.ljust(40))
        reply = _read_until(s, lambda got: got.endswith(b"}}"))
    assert reply.startswith(b"HTTP/1.1 200 "), reply[:200]
