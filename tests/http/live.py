"""A real ``audit-gateway serve`` process on 127.0.0.1:<free port>, for tests that need one (curl, the client)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx

from app.auth.keys import create_key
from app.store.engine import create_engine

STARTUP_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_key(url: str, tenant: str, scopes: list[str], sources: list[str]) -> str:
    async def make() -> str:
        engine = create_engine(url)
        try:
            name = f"live-{uuid.uuid4().hex[:8]}"  # key names are unique among a tenant's active keys
            return (await create_key(engine, name=name, tenants=[tenant], scopes=scopes, sources=sources))[1]
        finally:
            await engine.dispose()

    return asyncio.run(make())


class Gateway:
    """``start()``, ``kill()`` (SIGKILL: no shutdown, no flush) and ``start()`` again on the same port."""

    def __init__(self, database_url: str, log: Path, port: int | None = None) -> None:
        self.database_url = database_url
        self.port = port or free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "AUDIT_DATABASE_URL": self.database_url, "AUDIT_LOG_LEVEL": "warning"}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the gateway exited with {self.process.returncode}:\n{self.log.read_text()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.origin}/healthz", timeout=1).text == "ok":
                    return
            time.sleep(0.1)
        raise TimeoutError(f"the gateway did not start:\n{self.log.read_text()}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@contextlib.contextmanager
def running(database_url: str, log: Path) -> Iterator[Gateway]:
    gateway = Gateway(database_url, log)
    gateway.start()
    try:
        yield gateway
    finally:
        gateway.stop()
