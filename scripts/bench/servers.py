"""Databases and the real server: ``audit-gateway serve`` in a subprocess on a free 127.0.0.1 port.

Fresh databases (ingestion) are created per run and dropped at the end; the large read logs
(``audit_bench_<size>`` on PostgreSQL, ``<data dir>/audit_bench_<size>.db`` on SQLite) are generated once
through the append path and reused while they hold the right number of events (migrated and analysed
before every run, since the schema moves and PostgreSQL here runs with autovacuum off).
"""

from __future__ import annotations

import asyncio
import functools
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import TracebackType

import asyncpg
import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.demo import SOURCES
from app.server import create_app
from app.store.engine import create_engine
from app.store.tables import events
from scripts import generate

from .measure import log

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
POSTGRES_ADMIN_URL = os.environ.get("AUDIT_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def postgres_url(database: str, *, driver: str = "asyncpg") -> str:
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    if driver:
        base = base.replace("postgresql://", f"postgresql+{driver}://")
    return f"{base}/{database}"


async def admin(statement: str, database: str | None = None) -> object:
    """One statement as the PostgreSQL superuser (on ``database``, else the admin database); its first value."""
    url = postgres_url(database, driver="") if database else POSTGRES_ADMIN_URL
    connection = await asyncpg.connect(url, timeout=10)
    try:
        return await connection.fetchval(statement)
    finally:
        await connection.close()


async def database_exists(name: str) -> bool:
    return bool(await admin(f"SELECT 1 FROM pg_database WHERE datname = '{name}'"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(url: str) -> dict[str, str]:
    return {**os.environ, "AUDIT_DATABASE_URL": url, "AUDIT_LOG_LEVEL": "warning", "AUDIT_HOST": "127.0.0.1"}


def cli(url: str, *arguments: str, timeout: float = 600) -> str:
    """Run ``audit-gateway`` against ``url``; its stdout."""
    done = subprocess.run(
        [str(BIN / "audit-gateway"), *arguments],
        env=environment(url),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"audit-gateway {' '.join(arguments)} failed: {done.stderr.strip()[-2000:]}")
    return done.stdout


def _key_name(role: str) -> str:
    """Key names are unique among a tenant's active keys, and the read logs are reused across runs."""
    return f"{role}-{uuid.uuid4().hex[:8]}"


def writer_key(url: str, tenant: str, sources: list[str] = SOURCES) -> str:
    """``audit-gateway keys create … --scope events:write | tail -n 1``."""
    arguments = [f"--source={source}" for source in sources]
    output = cli(
        url,
        "keys",
        "create",
        "--name",
        _key_name("bench-writer"),
        "--tenant",
        tenant,
        "--scope",
        "events:write",
        *arguments,
    )
    return output.strip().splitlines()[-1]


def reader_key(url: str, tenant: str) -> str:
    output = cli(
        url, "keys", "create", "--name", _key_name("bench-reader"), "--tenant", tenant, "--scope", "events:read"
    )
    return output.strip().splitlines()[-1]


@functools.cache
def workers_supported() -> bool:
    """Whether this gateway's ``serve`` takes ``--workers`` (read from its ``--help``)."""
    return "--workers" in cli("sqlite+aiosqlite:///:memory:", "serve", "--help", timeout=60)


def _descendants(pid: int) -> int:
    """Processes under ``pid`` that serve (multiprocessing's resource tracker is not a worker)."""
    children: dict[int, list[int]] = {}
    helpers: set[int] = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                if b"resource_tracker" in (entry / "cmdline").read_bytes():
                    helpers.add(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    count, todo = 0, [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            count += child not in helpers
            todo.append(child)
    return count


class Server:
    """``audit-gateway serve`` on a free 127.0.0.1 port.

    ``workers``: ``None`` runs the gateway's default; a number passes ``--workers N`` (when ``serve`` has it).
    """

    def __init__(self, url: str, log_path: Path, workers: int | None = 1) -> None:
        self.url = url
        self.log_path = log_path
        self.workers = workers
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.processes = 1

    @property
    def pid(self) -> int | None:
        """The serving process (a supervisor's workers are its descendants)."""
        return None if self.process is None else self.process.pid

    async def __aenter__(self) -> Server:
        command = [str(BIN / "audit-gateway"), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        if self.workers is not None and workers_supported():
            command += ["--workers", str(self.workers)]
        with self.log_path.open("ab") as output:
            self.process = subprocess.Popen(command, env=environment(self.url), stdout=output, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        async with httpx.AsyncClient(base_url=self.base_url, trust_env=False, timeout=2) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the server exited: {self.log_path.read_text()[-2000:]}")
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        await asyncio.sleep(0.5)  # let every worker come up, then count them
                        workers = _descendants(self.process.pid)  # a supervisor's workers, or none
                        self.processes = max(1, workers)
                        return self
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        await self.__aexit__(None, None, None)
        raise RuntimeError(f"the server did not answer within 90 s: {self.log_path.read_text()[-2000:]}")

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            await asyncio.to_thread(self.process.wait, 30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            await asyncio.to_thread(self.process.wait, 10)


def http_client(base_url: str, clients: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=2 * clients, max_keepalive_connections=2 * clients)
    return httpx.AsyncClient(base_url=base_url, trust_env=False, timeout=120, limits=limits)


def in_process_client(url: str, engine: AsyncEngine) -> httpx.AsyncClient:
    """The app without sockets or uvicorn (``httpx.ASGITransport``), on ``engine`` so statements can be counted."""
    app = create_app(Settings(database_url=url), engine=engine)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway", timeout=120)


class FreshDatabases:
    """Empty, migrated databases of one backend for one run (``roles`` → URL), dropped by :meth:`drop`."""

    def __init__(self, backend: str, directory: Path, roles: tuple[str, ...]) -> None:
        self.backend = backend
        self.directory = directory
        self.roles = roles
        self.names: list[str] = []
        self.urls: dict[str, str] = {}

    async def create(self) -> FreshDatabases:
        if self.backend == "sqlite":
            self.directory.mkdir(parents=True, exist_ok=True)
            self.urls = {role: f"sqlite+aiosqlite:///{self.directory / f'{role}.db'}" for role in self.roles}
        else:
            stem = f"audit_bench_{uuid.uuid4().hex[:8]}"
            for role in self.roles:
                name = f"{stem}_{role}"
                await admin(f'CREATE DATABASE "{name}"')
                self.names.append(name)
                self.urls[role] = postgres_url(name)
        for url in self.urls.values():
            cli(url, "db", "upgrade")
        return self

    async def drop(self) -> None:
        for name in self.names:
            try:
                await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except Exception as error:  # report and go on: the other databases must still go
                log(f"could not drop {name}: {error}")
        self.names = []


def size_label(count: int) -> str:
    if count % 1_000_000 == 0:
        return f"{count // 1_000_000}m"
    return f"{count // 1000}k" if count % 1000 == 0 else str(count)


async def count_events(url: str, tenant: str) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            statement = select(func.count()).select_from(events).where(events.c.tenant == tenant)
            return int((await connection.execute(statement)).scalar_one())
    finally:
        await engine.dispose()


async def read_log(backend: str, wanted: int, tenant: str, data_dir: Path) -> tuple[str, dict[str, float] | None]:
    """The URL of a log of about ``wanted`` events in ``tenant``, made through the append path if missing.

    Reused when it exists and holds at least 99% of ``wanted`` (the generator writes whole flows, so "about");
    otherwise (missing, or a generation that was interrupted) it is made again. Returns the URL and, when it was
    generated now, how long that took.
    """
    name = f"audit_bench_{size_label(wanted)}"
    if backend == "sqlite":
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / f"{name}.db"
        url = f"sqlite+aiosqlite:///{path}"
        exists = path.exists()
    else:
        url = postgres_url(name)
        exists = await database_exists(name)
    if exists:
        cli(url, "db", "upgrade")
        held = await count_events(url, tenant)
        if held >= 0.99 * wanted:
            log(f"  {backend}: reusing {name} ({held:,} events in {tenant}); migrated")
            await _analyze(url)
            return url, None
        log(f"  {backend}: {name} holds {held:,} events, not ~{wanted:,}: making it again")
        if backend == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        else:
            await admin(f'DROP DATABASE "{name}" WITH (FORCE)')
    if backend == "postgresql":
        await admin(f'CREATE DATABASE "{name}"')
    cli(url, "db", "upgrade")
    log(f"  {backend}: generating {wanted:,} events into {name} through the append path (once; reused later)")
    engine = create_engine(url, statement_timeout_ms=600_000)
    last = [0.0]

    def progress(done: int, elapsed: float) -> None:
        if elapsed - last[0] >= 30:
            last[0] = elapsed
            log(f"    {done:,} events, {elapsed:.0f} s")

    started = time.perf_counter()
    try:
        written = await generate.fill(engine, wanted, [tenant], progress=progress)
    finally:
        await engine.dispose()
    elapsed = time.perf_counter() - started
    if backend == "postgresql":
        await generate.vacuum_analyze(url)
    log(f"  {backend}: generated {written:,} events in {elapsed:.0f} s ({written / elapsed:,.0f}/s)")
    return url, {"events": written, "seconds": elapsed, "events_per_s": written / elapsed}


async def _analyze(url: str) -> None:
    engine = create_engine(url, statement_timeout_ms=600_000)
    try:
        await generate.analyze(engine)
    finally:
        await engine.dispose()
