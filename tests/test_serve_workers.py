"""``serve --workers``: several processes answer on one port; the default suits the backend."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx

from app.cli import default_workers
from app.config import Settings


def test_default_workers_are_one_on_sqlite_and_one_per_cpu_on_postgresql() -> None:
    assert default_workers(Settings(database_url="sqlite+aiosqlite:///x.db")) == 1
    cpus = len(os.sched_getaffinity(0))
    assert default_workers(Settings(database_url="postgresql+asyncpg://u@h/db")) == cpus


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_two_workers_serve_requests(sqlite_url: str) -> None:
    port = _free_port()
    env = {**os.environ, "AUDIT_DATABASE_URL": sqlite_url, "AUDIT_LOG_LEVEL": "info"}
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        answered = 0
        while time.monotonic() < deadline and answered < 5:
            try:
                response = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": "{ __typename }"}, timeout=5)
            except httpx.TransportError:
                time.sleep(0.2)
                continue
            assert response.status_code == 200 and response.json() == {"data": {"__typename": "Query"}}
            answered += 1
        assert answered == 5
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert output.count("Started server process") == 2, output
