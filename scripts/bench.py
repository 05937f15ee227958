"""Benchmarks (issue 5): ingestion and reads, side by side with the raw database, on SQLite and PostgreSQL.

    .venv/bin/python scripts/bench.py            # full run: a 1,000,000-event log per backend
    .venv/bin/python scripts/bench.py --quick    # a check run: 100,000 events, short loops

Writes ``docs/benchmarks.md`` (figures, ratios, machine, commit, the command).
Every loop is bounded in count and in time; all traffic stays on 127.0.0.1.
SQLite databases live in a temporary directory; PostgreSQL databases
``audit_bench_<random>_*`` are created on AUDIT_BENCH_POSTGRES_URL (default
postgres@127.0.0.1:5432) and dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import asyncpg
import generate  # scripts/generate.py, beside this file
import httpx
from pyinstrument import Profiler
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.keys import create_key
from app.config import Settings
from app.demo import SOURCES
from app.ingest import Submission
from app.server import create_app
from app.store.engine import WRITE, create_engine
from app.store.event_query import EventQuery, encode_cursor
from app.store.migrate import upgrade
from app.store.read import TenantReader
from app.store.tables import events

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
POSTGRES_ADMIN_URL = os.environ.get("AUDIT_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
INGEST_TENANT = "bench"
READ_TENANT = "tenant-1"
CLIENTS = 4


@dataclass(frozen=True)
class Plan:
    read_events: int
    ingest: dict[int, tuple[int, float]]
    """Batch size → (at most this many events, at most this many seconds)."""
    rounds: tuple[int, float]
    """Read latency: at most this many rounds or seconds; a round runs every query once each way, in turn."""
    load_seconds: float
    """Concurrent clients per read query, this long (and at most 20,000 requests)."""
    profile_seconds: float


FULL = Plan(
    read_events=1_000_000,
    ingest={1: (3_000, 15.0), 100: (40_000, 20.0), 500: (100_000, 20.0)},
    rounds=(300, 90.0),
    load_seconds=8.0,
    profile_seconds=10.0,
)
QUICK = Plan(
    read_events=100_000,
    ingest={1: (200, 4.0), 100: (3_000, 4.0), 500: (6_000, 4.0)},
    rounds=(40, 10.0),
    load_seconds=3.0,
    profile_seconds=3.0,
)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- GraphQL documents -------------------------------------------------------------------

ENVELOPE = (
    "id eventId tenant source type schemaVersion sequence occurredAt recordedAt "
    "actor { type id displayName ip userAgent } target { type id displayName } "
    "outcome correlationId causationId traceparent traceId"
)
DATA = """
  ... on UserSignedIn { data { method mfa sessionId } }
  ... on UserSignInFailed { data { method failureReason attempt } }
  ... on RoleGranted { data { role granteeId scope } }
  ... on RoleRevoked { data { role granteeId scope reason } }
  ... on ApiKeyCreated { data { keyId name scopes expiresAt } }
  ... on ApiKeyRevoked { data { keyId reason } }
  ... on OrderPlaced { data { orderId total { amountMinor currency } itemCount channel } }
  ... on PaymentCaptured { data { paymentId orderId amount { amountMinor currency } provider } }
  ... on PaymentFailed { data { paymentId orderId amount { amountMinor currency } failureCode } }
  ... on RefundIssued { data { refundId paymentId amount { amountMinor currency } reason } }
  ... on DataExported { data { dataset format recordCount destination } }
  ... on SettingChanged { data { setting changes { field before after } } }
"""
PAGE_QUERY = (
    "query Page($after: String) { events(first: 100, after: $after) { "
    f"edges {{ cursor node {{ __typename ... on AuditEvent {{ {ENVELOPE} }} {DATA} }} }} "
    "pageInfo { hasNextPage endCursor } } }"
)
RELATED = "id eventId type source occurredAt"
RELATIONS_QUERY = (
    "query Related { events(first: 20) { edges { node { __typename ... on AuditEvent { "
    f"{ENVELOPE} "
    f"causedBy {{ ... on AuditEvent {{ {RELATED} }} }} "
    f"effects {{ ... on AuditEvent {{ {RELATED} }} }} "
    f"correlated {{ ... on AuditEvent {{ {RELATED} }} }} "
    "} } } } }"
)
RECORD_MUTATION = (
    "mutation Record($events: [RecordEventInput!]!) { recordEvents(events: $events) { "
    "acceptedCount duplicateCount rejectedCount "
    "results { __typename ... on EventRejected { index eventId errors { path code message } } } } }"
)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _graphql_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {_camel(key): _graphql_value(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_graphql_value(item) for item in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def record_input(submission: Submission) -> dict[str, Any]:
    """A submission as a ``RecordEventInput`` value, the way a producer would send it."""
    document = _graphql_value(dict(submission.envelope))
    document["data"] = {submission.member: _graphql_value(dict(submission.data))}
    return document


# --- measuring ----------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))]


@dataclass
class Timing:
    latencies: list[float]
    elapsed: float

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies) * 1000

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies, 0.99) * 1000


async def sequential(call: Callable[[], Awaitable[object]], count: int, seconds: float) -> Timing:
    latencies: list[float] = []
    started = time.perf_counter()
    deadline = started + seconds
    while len(latencies) < count and time.perf_counter() < deadline:
        begun = time.perf_counter()
        await call()
        latencies.append(time.perf_counter() - begun)
    return Timing(latencies, time.perf_counter() - started)


async def interleaved(calls: dict[str, Callable[[], Awaitable[object]]], rounds: int, seconds: float
                      ) -> dict[str, Timing]:
    """Sequential calls in rounds, each call once per round: slow drifts of a noisy machine hit all alike.

    A timing's ``elapsed`` is the sum of its own latencies, so its rate is that of one sequential client.
    """
    latencies: dict[str, list[float]] = {name: [] for name in calls}
    deadline = time.perf_counter() + seconds
    for _ in range(rounds):
        if time.perf_counter() >= deadline:
            break
        for name, call in calls.items():
            begun = time.perf_counter()
            await call()
            latencies[name].append(time.perf_counter() - begun)
    return {name: Timing(values, sum(values)) for name, values in latencies.items()}


async def concurrent(call: Callable[[], Awaitable[object]], clients: int, seconds: float, count: int) -> Timing:
    latencies: list[float] = []
    issued = [0]
    started = time.perf_counter()
    deadline = started + seconds

    async def client() -> None:
        while issued[0] < count and time.perf_counter() < deadline:
            issued[0] += 1
            begun = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - begun)

    await asyncio.gather(*(client() for _ in range(clients)))
    return Timing(latencies, time.perf_counter() - started)


def graphql_data(response: httpx.Response) -> dict[str, Any]:
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(f"GraphQL errors: {body['errors'][:2]}")
    return body["data"]


class StatementCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement != "BEGIN" and not statement.startswith("BEGIN "):
            self.count += 1


# --- databases and the server -------------------------------------------------------------


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=10)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


class Databases:
    """Fresh databases of one backend: ``ingest`` (behind the server), ``core`` (the floor) and ``read``."""

    ROLES = ("ingest", "core", "read")

    def __init__(self, backend: str, directory: Path) -> None:
        self.backend = backend
        self.directory = directory
        self.names: list[str] = []
        self.urls: dict[str, str] = {}

    async def create(self) -> None:
        if self.backend == "sqlite":
            self.urls = {role: f"sqlite+aiosqlite:///{self.directory / f'{role}.db'}" for role in self.ROLES}
            return
        stem = f"audit_bench_{uuid.uuid4().hex[:8]}"
        base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        for role in self.ROLES:
            name = f"{stem}_{role}"
            await _admin(f'CREATE DATABASE "{name}"')
            self.names.append(name)
            self.urls[role] = f"{base}/{name}"

    async def drop(self) -> None:
        for name in self.names:
            try:
                await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except Exception as error:  # report and go on: the other databases must still go
                log(f"could not drop {name}: {error}")
        self.names = []


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _environment(url: str) -> dict[str, str]:
    return {**os.environ, "AUDIT_DATABASE_URL": url, "AUDIT_LOG_LEVEL": "warning", "AUDIT_HOST": "127.0.0.1"}


def cli(url: str, *arguments: str) -> str:
    """Run ``audit-gateway`` against ``url``; its stdout."""
    done = subprocess.run([str(BIN / "audit-gateway"), *arguments], env=_environment(url), capture_output=True,
                          text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"audit-gateway {' '.join(arguments)} failed: {done.stderr.strip()[-2000:]}")
    return done.stdout


def writer_key(url: str, tenant: str) -> str:
    """``audit-gateway keys create … | tail -n 1``."""
    sources = [f"--source={source}" for source in SOURCES]
    output = cli(url, "keys", "create", "--name", "bench-writer", "--tenant", tenant, "--scope", "events:write",
                 *sources)
    return output.strip().splitlines()[-1]


class Server:
    """``audit-gateway serve`` in a subprocess on 127.0.0.1 (uvicorn, one process)."""

    def __init__(self, url: str, log_path: Path) -> None:
        self.url = url
        self.log_path = log_path
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.base_url = f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Server:
        with self.log_path.open("ab") as output:
            self.process = subprocess.Popen(
                [str(BIN / "audit-gateway"), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=_environment(self.url), stdout=output, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(base_url=self.base_url, trust_env=False, timeout=2) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the server exited: {self.log_path.read_text()[-2000:]}")
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        await self.__aexit__()
        raise RuntimeError(f"the server did not answer within 60 s: {self.log_path.read_text()[-2000:]}")

    async def __aexit__(self, *_: object) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            await asyncio.to_thread(self.process.wait, 30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            await asyncio.to_thread(self.process.wait, 10)


def http_client(base_url: str) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=2 * CLIENTS, max_keepalive_connections=2 * CLIENTS)
    return httpx.AsyncClient(base_url=base_url, trust_env=False, timeout=120, limits=limits)


def in_process_client(url: str, engine: AsyncEngine) -> httpx.AsyncClient:
    app = create_app(Settings(database_url=url), engine=engine)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway", timeout=120)


# --- ingestion ----------------------------------------------------------------------------


@dataclass
class IngestResult:
    batch: int
    sent_events: int
    gateway_events_per_s: float
    gateway_p50_ms: float
    core_rows: int
    core_rows_per_s: float

    @property
    def ratio(self) -> float:
        return self.gateway_events_per_s / self.core_rows_per_s if self.core_rows_per_s else 0.0


def ingest_bodies(plan: Plan, seed: int) -> dict[int, list[tuple[bytes, int]]]:
    """Pre-serialized ``recordEvents`` request bodies per batch size (distinct events for each)."""
    wanted = sum(count for count, _ in plan.ingest.values()) + 50
    stream: Iterator[Submission] = generate.submissions(wanted, [INGEST_TENANT], seed=seed)
    bodies: dict[int, list[tuple[bytes, int]]] = {}
    for size, (count, _) in [(0, (20, 0.0)), *sorted(plan.ingest.items())]:  # batch 0: the warm-up, one by one
        chunk = max(size, 1)
        prepared = []
        for _ in range(0, count, chunk):
            inputs = [record_input(submission) for submission in _take(stream, chunk)]
            if not inputs:
                break
            body = {"query": RECORD_MUTATION, "variables": {"events": inputs}}
            prepared.append((json.dumps(body).encode(), len(inputs)))
        bodies[size] = prepared
    return bodies


def _take(stream: Iterator[Submission], count: int) -> list[Submission]:
    return [item for _, item in zip(range(count), stream, strict=False)]


async def _head(engine: AsyncEngine, tenant: str) -> int:
    async with engine.connect() as connection:
        statement = select(func.coalesce(func.max(events.c.sequence), 0)).where(events.c.tenant == tenant)
        return int((await connection.execute(statement)).scalar_one())


async def _send_all(client: httpx.AsyncClient, key: str, bodies: list[tuple[bytes, int]], seconds: float
                    ) -> tuple[int, Timing]:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    queue = iter(bodies)
    accepted = [0]

    async def one() -> None:
        body, count = next(queue)
        result = graphql_data(await client.post("/graphql", content=body, headers=headers))["recordEvents"]
        if result["acceptedCount"] != count:
            raise RuntimeError(f"recordEvents did not accept every event: {json.dumps(result)[:1000]}")
        accepted[0] += count

    timing = await concurrent(one, CLIENTS, seconds, len(bodies))
    return accepted[0], timing


async def core_insert(engine: AsyncEngine, rows: list[dict[str, Any]], batch: int, seconds: float
                      ) -> tuple[int, Timing]:
    """The floor: SQLAlchemy Core ``insert()`` (executemany), same batches and clients, one transaction each."""
    chunks = [rows[i : i + batch] for i in range(0, len(rows), batch)]
    queue = iter(chunks)
    inserted = [0]

    async def one() -> None:
        chunk = next(queue)
        async with engine.connect() as connection:
            connection = await connection.execution_options(**WRITE)
            async with connection.begin():
                await connection.execute(events.insert(), chunk)
        inserted[0] += len(chunk)

    timing = await concurrent(one, CLIENTS, seconds, len(chunks))
    return inserted[0], timing


async def ingestion(databases: Databases, plan: Plan, directory: Path) -> list[IngestResult]:
    url, core_url = databases.urls["ingest"], databases.urls["core"]
    cli(url, "db", "upgrade")
    key = writer_key(url, INGEST_TENANT)
    core_engine = create_engine(core_url)
    gateway_engine = create_engine(url)
    await upgrade(core_engine)
    bodies = ingest_bodies(plan, seed=101)
    results: list[IngestResult] = []
    try:
        async with Server(url, directory / f"server-ingest-{databases.backend}.log") as server, http_client(
            server.base_url
        ) as client:
            await _send_all(client, key, bodies[0], 60)  # warm-up: connections, caches, prepared statements
            for size, (_, seconds) in sorted(plan.ingest.items()):
                for engine in (gateway_engine, core_engine):  # what autovacuum would have done by now
                    await generate.analyze(engine)
                before = await _head(gateway_engine, INGEST_TENANT)
                sent, timing = await _send_all(client, key, bodies[size], seconds)
                after = await _head(gateway_engine, INGEST_TENANT)
                if after - before != sent:
                    raise RuntimeError(f"batch {size}: {sent} events acknowledged, {after - before} stored")
                async with gateway_engine.connect() as connection:
                    stored = await connection.execute(
                        select(events)
                        .where(events.c.tenant == INGEST_TENANT, events.c.sequence > before,
                               events.c.sequence <= after)
                        .order_by(events.c.sequence)
                    )
                    rows = [dict(row._mapping) for row in stored]
                core_rows, core = await core_insert(core_engine, rows, size, seconds)
                result = IngestResult(size, sent, sent / timing.elapsed, timing.p50_ms, core_rows,
                                      core_rows / core.elapsed)
                log(f"  {databases.backend} ingest batch {size}: gateway {result.gateway_events_per_s:,.0f} ev/s, "
                    f"Core {result.core_rows_per_s:,.0f} rows/s, ratio {result.ratio:.3f}")
                results.append(result)
    finally:
        await core_engine.dispose()
        await gateway_engine.dispose()
    return results


# --- reads ----------------------------------------------------------------------------------


@dataclass
class ReadResult:
    name: str
    body: bytes
    http: Timing
    load: Timing
    in_process: Timing
    statements: int
    raw: Timing
    notes: list[str] = field(default_factory=list)

    @property
    def gateway_over_raw(self) -> float:
        return self.http.p50_ms / self.raw.p50_ms

    @property
    def in_process_over_raw(self) -> float:
        return self.in_process.p50_ms / self.raw.p50_ms


def _row(row: Any) -> dict[str, Any]:
    return dict(row._mapping)


async def raw_page(engine: AsyncEngine, size: int, before_sequence: int | None) -> bytes:
    """The SQL of a page (same WHERE, ORDER BY, LIMIT size + 1), serialized with the stdlib json."""
    conditions = [events.c.tenant == READ_TENANT]
    if before_sequence is not None:
        conditions.append(events.c.sequence < before_sequence)
    statement = select(events).where(*conditions).order_by(events.c.sequence.desc()).limit(size + 1)
    async with engine.connect() as connection:
        rows = [_row(row) for row in await connection.execute(statement)][:size]
    return json.dumps(rows, default=str).encode()


async def raw_relations(engine: AsyncEngine) -> bytes:
    """The SQL of a page of 20 with causedBy, effects and correlated: the page, then one statement per field."""
    reader = TenantReader(engine, READ_TENANT)
    page_statement = (
        select(events).where(events.c.tenant == READ_TENANT).order_by(events.c.sequence.desc()).limit(21)
    )
    async with engine.connect() as connection:
        page = [_row(row) for row in await connection.execute(page_statement)][:20]
        causes = sorted({row["causation_id"] for row in page if row["causation_id"]})
        by_id: dict[str, dict[str, Any]] = {}
        if causes:
            statement = select(events).where(events.c.tenant == READ_TENANT, events.c.event_id.in_(causes))
            by_id = {row.event_id: _row(row) for row in await connection.execute(statement)}
        effects: dict[str, list[dict[str, Any]]] = {row["event_id"]: [] for row in page}
        statement = reader.first_per_key_statement(events.c.causation_id, sorted(effects), 50)
        for row in await connection.execute(statement):
            effects[row.causation_id].append(_row(row))
        correlations = sorted({row["correlation_id"] for row in page if row["correlation_id"]})
        correlated: dict[str, list[dict[str, Any]]] = {cid: [] for cid in correlations}
        if correlations:
            statement = reader.first_per_key_statement(events.c.correlation_id, correlations, 51)
            for row in await connection.execute(statement):
                correlated[row.correlation_id].append(_row(row))
    document = [
        {
            **row,
            "causedBy": by_id.get(row["causation_id"]),
            "effects": effects[row["event_id"]],
            "correlated": [r for r in correlated.get(row["correlation_id"], []) if r["sequence"] != row["sequence"]],
        }
        for row in page
    ]
    return json.dumps(document, default=str).encode()


@dataclass
class ReadQuery:
    name: str
    body: bytes
    expect_edges: int
    raw: Callable[[AsyncEngine], Awaitable[bytes]]


async def _check(client: httpx.AsyncClient, key: str, query: ReadQuery) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    data = graphql_data(await client.post("/graphql", content=query.body, headers=headers))
    edges = data["events"]["edges"]
    if len(edges) != query.expect_edges:
        raise RuntimeError(f"{query.name}: expected {query.expect_edges} edges, got {len(edges)}")
    return data


async def reads(databases: Databases, plan: Plan, directory: Path, generated: dict[str, Any]) -> list[ReadResult]:
    url = databases.urls["read"]
    engine = create_engine(url, statement_timeout_ms=600_000)
    try:
        await upgrade(engine)
        started = time.perf_counter()
        written = await generate.fill(engine, plan.read_events, [READ_TENANT])
        elapsed = time.perf_counter() - started
        if url.startswith("postgresql"):
            await generate.vacuum_analyze(url)
        generated[databases.backend] = {"events": written, "seconds": elapsed, "events_per_s": written / elapsed}
        log(f"  {databases.backend}: generated {written:,} events in {elapsed:.0f} s ({written / elapsed:,.0f}/s)")
        _, key = await create_key(engine, name="bench-reader", tenants=[READ_TENANT], scopes=["events:read"],
                                  sources=[])
        head = await _head(engine, READ_TENANT)
        # 90% depth, newest first: the page after the event at sequence head - 0.9 × head. The cursor is made
        # with the gateway's own codec (app.store.event_query.encode_cursor) for the default query; checked below.
        deep_sequence = head - int(0.9 * head)
        deep_cursor = encode_cursor((deep_sequence,), EventQuery().digest(READ_TENANT))
        queries = [
            ReadQuery("page of 100 (newest)", json.dumps({"query": PAGE_QUERY}).encode(), 100,
                      lambda e: raw_page(e, 100, None)),
            ReadQuery("page of 100 at 90% depth",
                      json.dumps({"query": PAGE_QUERY, "variables": {"after": deep_cursor}}).encode(), 100,
                      lambda e: raw_page(e, 100, deep_sequence)),
            ReadQuery("page of 20 + causedBy/effects/correlated", json.dumps({"query": RELATIONS_QUERY}).encode(),
                      20, raw_relations),
        ]
        results: list[ReadResult] = []
        async with Server(url, directory / f"server-read-{databases.backend}.log") as server, http_client(
            server.base_url
        ) as client, in_process_client(url, engine) as local:
            deep = await _check(client, key, queries[1])
            first_sequence = int(deep["events"]["edges"][0]["node"]["sequence"])
            if first_sequence != deep_sequence - 1:
                raise RuntimeError(f"the deep cursor starts at {first_sequence}, expected {deep_sequence - 1}")
            for _ in range(5):  # warm every path up before measuring any
                for query in queries:
                    await _check(client, key, query)
                    await _check(local, key, query)
                    await query.raw(engine)
            results = await _measure_reads(queries, client, local, engine, key, plan)
            for r in results:
                log(f"  {databases.backend} {r.name}: HTTP p50 {r.http.p50_ms:.1f} ms, in-process "
                    f"{r.in_process.p50_ms:.1f} ms, raw {r.raw.p50_ms:.2f} ms, {r.statements} statements, "
                    f"{r.load.rate:.0f} req/s with {CLIENTS} clients")
        return results
    finally:
        await engine.dispose()


async def _measure_reads(
    queries: list[ReadQuery],
    client: httpx.AsyncClient,
    local: httpx.AsyncClient,
    engine: AsyncEngine,
    key: str,
    plan: Plan,
) -> list[ReadResult]:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def post(to: httpx.AsyncClient, body: bytes) -> Callable[[], Awaitable[None]]:
        async def call() -> None:
            (await to.post("/graphql", content=body, headers=headers)).raise_for_status()

        return call

    def raw(query: ReadQuery) -> Callable[[], Awaitable[bytes]]:
        return lambda: query.raw(engine)

    calls: dict[str, Callable[[], Awaitable[object]]] = {}
    for query in queries:
        calls[f"http {query.name}"] = post(client, query.body)
        calls[f"local {query.name}"] = post(local, query.body)
        calls[f"raw {query.name}"] = raw(query)
    timings = await interleaved(calls, *plan.rounds)
    results = []
    for query in queries:
        load = await concurrent(post(client, query.body), CLIENTS, plan.load_seconds, 20_000)
        counter = StatementCounter()
        event.listen(engine.sync_engine, "before_cursor_execute", counter)
        try:
            await _check(local, key, query)
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", counter)
        results.append(ReadResult(query.name, query.body, timings[f"http {query.name}"], load,
                                  timings[f"local {query.name}"], counter.count, timings[f"raw {query.name}"]))
    return results


# --- profile ----------------------------------------------------------------------------------


@dataclass
class ProfileReport:
    title: str
    requests: int
    seconds: float
    buckets: list[tuple[str, float]]
    functions: list[tuple[str, float]]
    tree: str


def _bucket(file_path: str | None, function: str) -> str | None:
    if not file_path or file_path.startswith("<"):
        return None  # a built-in: counted with its caller
    if function in {"poll", "select"} and file_path.endswith("selectors.py"):
        return "event loop idle (awaiting the database)"
    path = file_path.replace("\\", "/")
    if "/site-packages/" in path:
        package = path.split("/site-packages/", 1)[1].split("/", 1)[0]
        package = package.removesuffix(".py")
        return "httpx/httpcore (benchmark client)" if package in {"httpx", "httpcore"} else package
    if path.startswith(f"{ROOT}/app/"):
        return "app (gateway code)"
    if "/scripts/" in path:
        return "benchmark script"
    module = Path(path).stem if Path(path).parent.name.startswith("python3") else Path(path).parent.name
    return f"stdlib {module}"


def summarize(profiler: Profiler, title: str, requests: int, seconds: float) -> ProfileReport:
    session = profiler.last_session
    assert session is not None
    root = session.root_frame()
    assert root is not None
    total = root.time or 1.0
    buckets: dict[str, float] = {}
    functions: dict[str, float] = {}

    def walk(frame: Any, inherited: str) -> None:
        if frame.is_synthetic:
            return
        bucket = _bucket(frame.file_path, frame.function) or inherited
        own = frame.time - sum(child.time for child in frame.children if not child.is_synthetic)
        buckets[bucket] = buckets.get(bucket, 0.0) + own
        name = f"{frame.function}  {frame.file_path_short}:{frame.line_no}"
        functions[name] = functions.get(name, 0.0) + own
        for child in frame.children:
            walk(child, bucket)

    walk(root, "other")
    text = profiler.output_text(unicode=False, color=False, time="percent_of_total")
    kept = [line for line in text.splitlines() if (m := re.search(r"(\d+\.\d)%", line)) and float(m[1]) >= 2.0]
    return ProfileReport(
        title,
        requests,
        seconds,
        sorted(((k, v / total) for k, v in buckets.items()), key=lambda kv: -kv[1])[:14],
        sorted(((k, v / total) for k, v in functions.items()), key=lambda kv: -kv[1])[:20],
        "\n".join(kept[:70]),
    )


async def profile_read(url: str, body: bytes, title: str, seconds: float) -> ProfileReport:
    engine = create_engine(url)
    try:
        _, key = await create_key(engine, name="bench-profile", tenants=[READ_TENANT], scopes=["events:read"],
                                  sources=[])
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        async with in_process_client(url, engine) as client:
            for _ in range(5):
                (await client.post("/graphql", content=body, headers=headers)).raise_for_status()
            profiler = Profiler(interval=0.0005, async_mode="enabled")
            profiler.start()
            timing = await sequential(
                lambda: client.post("/graphql", content=body, headers=headers), 2_000, seconds
            )
            profiler.stop()
        return summarize(profiler, title, timing.count, timing.elapsed)
    finally:
        await engine.dispose()


async def profile_write(url: str, seconds: float) -> ProfileReport:
    engine = create_engine(url)
    tenant = "bench-profile"
    try:
        _, key = await create_key(engine, name="bench-profile-writer", tenants=[tenant], scopes=["events:write"],
                                  sources=SOURCES)
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        stream = generate.submissions(100 * 500, [tenant], seed=202)
        bodies = iter([
            json.dumps({"query": RECORD_MUTATION,
                        "variables": {"events": [record_input(s) for s in _take(stream, 500)]}}).encode()
            for _ in range(100)
        ])
        async with in_process_client(url, engine) as client:
            graphql_data(await client.post("/graphql", content=next(bodies), headers=headers))
            profiler = Profiler(interval=0.0005, async_mode="enabled")
            profiler.start()
            timing = await sequential(
                lambda: client.post("/graphql", content=next(bodies), headers=headers), 99, seconds
            )
            profiler.stop()
        return summarize(profiler, "recordEvents, batches of 500 (in-process)", timing.count, timing.elapsed)
    finally:
        await engine.dispose()


# --- report ---------------------------------------------------------------------------------


def _run(command: list[str]) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=10, check=False, cwd=ROOT).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def machine() -> dict[str, str]:
    cpu = "?"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "?"
    with open("/proc/meminfo") as info:
        for line in info:
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    dirty = " (with uncommitted changes)" if _run(["git", "status", "--porcelain", "--untracked-files=no"]) else ""
    versions = ", ".join(
        f"{name} {metadata.version(name)}"
        for name in ("strawberry-graphql", "pydantic", "sqlalchemy", "asyncpg", "aiosqlite", "uvicorn", "starlette")
    )
    return {
        "commit": _run(["git", "rev-parse", "HEAD"]) + dirty,
        "nproc": _run(["nproc"]),
        "cpu": cpu,
        "memory": memory,
        "python": platform.python_version(),
        "os": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "packages": versions,
    }


async def postgres_version() -> str:
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=10)
    try:
        settings = [
            f"{name}={await connection.fetchval(f'SHOW {name}')}"
            for name in ("autovacuum", "shared_buffers", "synchronous_commit")
        ]
        return f"{await connection.fetchval('SHOW server_version')} ({', '.join(settings)})"
    finally:
        await connection.close()


def _ms(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def render(
    *,
    command: str,
    quick: bool,
    started: dt.datetime,
    runtime: float,
    info: dict[str, str],
    plan: Plan,
    generated: dict[str, Any],
    ingest: dict[str, list[IngestResult]],
    read: dict[str, list[ReadResult]],
    profiles: list[ProfileReport],
    slowest: str,
) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Produced by `scripts/bench.py` on {started:%Y-%m-%d %H:%M} UTC in {runtime / 60:.1f} minutes"
        + (" — **quick check run** (small log, short loops; figures are indicative only)." if quick else "."),
        "",
        f"- Command: `{command}`",
        f"- Commit: `{info['commit']}`",
        f"- Machine: {info['nproc']} CPUs ({info['cpu']}), {info['memory']} RAM, {info['os']}",
        f"- Python {info['python']}; SQLite {info['sqlite']}; PostgreSQL {info.get('postgresql', '-')}",
        f"- Packages: {info['packages']}",
        "",
        "The machine is shared and noisy: compare the **ratios** within this run, not absolute figures across"
        " runs. Client, server and database share the same CPUs. On PostgreSQL the benchmark runs `ANALYZE events`"
        " itself while tables grow (before each ingestion measurement, and at 10k, 20k, 40k … events while"
        " generating), as autovacuum would: without statistics the append path's duplicate lookup"
        " (`tenant = … AND event_id IN (…)`) turns into a scan of the tenant and takes seconds per batch.",
        "",
        "## Ingestion",
        "",
        f"`recordEvents` through the real server (`audit-gateway serve`, uvicorn, one process, log level warning)"
        f" from {CLIENTS} concurrent asyncio httpx clients, each request one batch, each selecting the counts and"
        " any rejections. Bodies are serialized before the clock starts. The floor is a bare SQLAlchemy Core"
        f" `insert()` (executemany) of **the same rows** (read back from the gateway's database) into a fresh,"
        f" identically migrated database of the same backend, in the same batch sizes, one transaction per batch,"
        f" {CLIENTS} concurrent tasks. Both use the application's engine settings (SQLite WAL with"
        " `synchronous=FULL`, PostgreSQL `synchronous_commit=on`). Each measurement is bounded: batch size →"
        f" (max events, max seconds) = {', '.join(f'{b} → ({n:,}, {s:g} s)' for b, (n, s) in plan.ingest.items())}.",
        "",
    ]
    for backend, results in ingest.items():
        lines += [
            f"### {backend}",
            "",
            "| batch | events sent | gateway events/s | request p50 (ms) | Core rows/s | **gateway ÷ Core** |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {r.batch} | {r.sent_events:,} | {r.gateway_events_per_s:,.0f} | {_ms(r.gateway_p50_ms)} "
            f"| {r.core_rows_per_s:,.0f} | **{r.ratio:.3f}** |"
            for r in results
        ]
        lines.append("")
    lines += [
        "## Reads",
        "",
        f"A log of {plan.read_events:,} events in one tenant (`{READ_TENANT}`), written by `scripts/generate.py`'s"
        " logic (the demo's correlated flows, validated by `app.ingest.validate`, chained by"
        " `app.store.append.append`); on PostgreSQL followed by `VACUUM (ANALYZE) events`, as autovacuum would."
        " Generation: "
        + "; ".join(f"{b} {g['events']:,} events in {g['seconds']:.0f} s ({g['events_per_s']:,.0f} events/s)"
                    for b, g in generated.items())
        + ".",
        "",
        "- Latencies are measured in interleaved rounds (at most"
        f" {plan.rounds[0]} rounds or {plan.rounds[1]:g} s): each round runs every query once over HTTP, once"
        " in-process and once raw, one request at a time, so the drift of a noisy machine hits every column"
        " alike. *req/s (1 client)* is 1 ÷ mean HTTP latency; *req/s"
        f" ({CLIENTS} clients)*: {CLIENTS} concurrent clients on the real server for {plan.load_seconds:g} s per"
        " query.",
        "- *HTTP*: the real server (`audit-gateway serve`, uvicorn, one process) over 127.0.0.1.",
        "- *in-process p50*: the same request through `httpx.ASGITransport(app=create_app(settings, engine=engine))`"
        " (no sockets, no uvicorn); *SQL/request*: statements counted there with a `before_cursor_execute`"
        " listener on `engine.sync_engine` (the API-key lookup included, `BEGIN` excluded).",
        "- *raw*: the same SQL (SQLAlchemy Core `select` with the same WHERE / ORDER BY / LIMIT; for the relations"
        " query the page, then the `causedBy`, `effects` and `correlated` statements built by `TenantReader`, on one"
        " connection) with rows serialized by the stdlib `json` — no GraphQL, no HTTP, no API-key check.",
        "- The page at 90% depth uses a keyset cursor for the default order (sequence, newest first) positioned"
        " 0.9 × N events from the top. It is made with the gateway's own codec"
        " (`encode_cursor((sequence,), EventQuery().digest(tenant))`) rather than by paging 900,000 events, and"
        " checked: the page's first event is the expected one.",
        "- Pages select the whole envelope and every contract's `data` (inline fragments for all 12 types); the"
        " relations query selects the envelope plus `id eventId type source occurredAt` of each related event.",
        "",
    ]
    for backend, results in read.items():
        lines += [
            f"### {backend}",
            "",
            f"| query | HTTP p50 (ms) | HTTP p99 (ms) | req/s (1 client) | req/s ({CLIENTS} clients) "
            "| in-process p50 (ms) | SQL/request | raw p50 (ms) | raw ops/s | **HTTP ÷ raw** (p50) "
            "| in-process ÷ raw |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {r.name} | {_ms(r.http.p50_ms)} | {_ms(r.http.p99_ms)} | {r.http.rate:,.0f} | {r.load.rate:,.0f} "
            f"| {_ms(r.in_process.p50_ms)} | {r.statements} | {_ms(r.raw.p50_ms)} | {r.raw.rate:,.0f} "
            f"| **{r.gateway_over_raw:.1f}×** | {r.in_process_over_raw:.1f}× |"
            for r in results
        ]
        first, deep = results[0], results[1]
        lines += [
            "",
            f"Deep ÷ first (HTTP p50): **{deep.http.p50_ms / first.http.p50_ms:.2f}**; raw deep ÷ first:"
            f" {deep.raw.p50_ms / first.raw.p50_ms:.2f}.",
            "",
        ]
    lines += [
        "## Profile",
        "",
        f"Slowest path relative to its floor in this run: **{slowest}**. Profiled in-process with pyinstrument"
        " (async mode, 0.5 ms interval) on"
        f" {'PostgreSQL' if 'postgresql' in read else 'SQLite'}; the client is in the same process, so"
        " httpx/httpcore frames are the benchmark's own. *Self time* is time spent in a frame's own code"
        " (built-ins are charged to their caller's package); percentages are of the profiled wall time.",
        "",
    ]
    for report in profiles:
        lines += [
            f"### {report.title}",
            "",
            f"{report.requests} requests in {report.seconds:.1f} s under the profiler. Time goes to: "
            + ", ".join(f"{name} {share:.0%}" for name, share in report.buckets[:5]) + ".",
            "",
            "| where (self time, by package) | share |",
            "|---|---:|",
            *(f"| {name} | {share:.1%} |" for name, share in report.buckets),
            "",
            "| top functions by self time | share |",
            "|---|---:|",
            *(f"| `{name}` | {share:.1%} |" for name, share in report.functions),
            "",
            "<details><summary>call tree (frames ≥ 2% of the time, library internals collapsed)</summary>",
            "",
            "```",
            report.tree,
            "```",
            "",
            "</details>",
            "",
        ]
    return "\n".join(lines)


# --- main -------------------------------------------------------------------------------------


async def main_async(args: argparse.Namespace) -> None:
    plan = QUICK if args.quick else FULL
    if args.read_events:
        plan = Plan(**{**plan.__dict__, "read_events": args.read_events})
    started_at = dt.datetime.now(dt.UTC)
    started = time.perf_counter()
    info = machine()
    backends = args.backends
    if "postgresql" in backends:
        info["postgresql"] = await postgres_version()
    directory = Path(tempfile.mkdtemp(prefix="audit-bench-"))
    generated: dict[str, Any] = {}
    ingest: dict[str, list[IngestResult]] = {}
    read: dict[str, list[ReadResult]] = {}
    profiles: list[ProfileReport] = []
    slowest = "-"
    all_databases = [Databases(backend, directory) for backend in backends]
    try:
        for databases in all_databases:
            await databases.create()
            log(f"{databases.backend}: ingestion")
            ingest[databases.backend] = await ingestion(databases, plan, directory)
            log(f"{databases.backend}: reads on a {plan.read_events:,}-event log")
            read[databases.backend] = await reads(databases, plan, directory, generated)
        profiled = all_databases[-1]
        worst = max(read[profiled.backend], key=lambda r: r.gateway_over_raw)
        worst_ingest = min((r for results in ingest.values() for r in results), key=lambda r: r.ratio)
        slowest = (
            f"{worst.name} ({profiled.backend}, {worst.gateway_over_raw:.1f}× its raw floor); on writes,"
            f" batches of {worst_ingest.batch} reach {worst_ingest.ratio:.1%} of the Core floor"
        )
        if not args.no_profile:
            log(f"profiling on {profiled.backend}")
            profiles.append(await profile_read(profiled.urls["read"], worst.body, f"{worst.name} (in-process)",
                                               plan.profile_seconds))
            profiles.append(await profile_write(profiled.urls["ingest"], plan.profile_seconds))
    finally:
        for databases in all_databases:
            await databases.drop()
        shutil.rmtree(directory, ignore_errors=True)
    runtime = time.perf_counter() - started
    command = ".venv/bin/python scripts/bench.py" + "".join(f" {a}" for a in sys.argv[1:])
    text = render(command=command, quick=args.quick, started=started_at, runtime=runtime, info=info, plan=plan,
                  generated=generated, ingest=ingest, read=read, profiles=profiles, slowest=slowest)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text + "\n")
    log(f"wrote {output} ({runtime / 60:.1f} min)")
    if args.json:
        figures = {
            "command": command, "started": started_at.isoformat(), "machine": info, "generated": generated,
            "ingest": {b: [{**r.__dict__, "ratio": r.ratio} for r in rs] for b, rs in ingest.items()},
            "read": {
                b: [{"name": r.name, "http_p50_ms": r.http.p50_ms, "http_p99_ms": r.http.p99_ms,
                     "http_rps": r.http.rate, "load_rps": r.load.rate, "in_process_p50_ms": r.in_process.p50_ms,
                     "statements": r.statements, "raw_p50_ms": r.raw.p50_ms, "raw_ops": r.raw.rate,
                     "gateway_over_raw": r.gateway_over_raw} for r in rs]
                for b, rs in read.items()
            },
        }
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a 100,000-event log and short loops (a check run)")
    parser.add_argument("--backends", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"])
    parser.add_argument("--read-events", type=int, help="override the size of the read log")
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks.md"))
    parser.add_argument("--json", help="also write the figures as JSON here (to compare runs)")
    parser.add_argument("--no-profile", action="store_true")
    asyncio.run(main_async(parser.parse_args()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
