"""Probe the read path in process: reference vs compiled executor vs the raw SQL + json floor, side by side.

    flock /work/bench.lock .venv/bin/python scripts/probe_reads.py [--events 5000] [--seconds 5] \
        [--pre-ping-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]

Seeds ``--events`` demo events (every contract, correlated flows) into a temporary
SQLite database through the one append path, then times, interleaved round by
round so the three share the machine's state, in one process:

* ``reference``: the gateway app with the compiled executor off (Strawberry/graphql-core);
* ``compiled``: the gateway app as it ships;
* ``floor``: the page's SQL (for ``rel`` also the causes' statement) run raw and serialized with ``json``;
* ``compiled, rows new``: the compiled executor when every row is served for the first time in the
  process (each row's data is then validated against its contract once, as the reference does every time);

for the ``full`` query of ../shared/peer/postgraphile/gwbench.mjs (a page of 100:
envelope and typed data of every contract) and its ``rel`` query (a page of 20,
each with its cause). Requests go through the ASGI app in process (httpx), so the
figures include auth, parsing the body, validation/cache, execution and encoding,
but not sockets. It also counts the SQL statements per request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.keys import create_key
from app.auth.principal import Principal, Scope
from app.config import Settings
from app.demo import SOURCES, flows
from app.graphql.plan import run as plan_run
from app.ingest import Rejected, Submission, validate
from app.server import create_app
from app.store.append import append
from app.store.engine import create_engine
from app.store.migrate import upgrade
from app.store.tables import events

TENANT = "probe"
ENVELOPE = (
    "id eventId tenant source type schemaVersion sequence occurredAt recordedAt actor { type id displayName ip "
    "userAgent } target { type id displayName } outcome correlationId causationId traceparent traceId"
)
DATA = """... on UserSignedIn { data { method mfa sessionId } }
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
  ... on SettingChanged { data { setting changes { field before after } } }"""
FLAT = (
    "sequence tenant eventId source type occurredAt recordedAt actor { type id } target { type id } outcome "
    "correlationId causationId"
)
QUERIES = {
    "full": f"query Page {{ events(first: 100) {{ pageInfo {{ hasNextPage endCursor }} edges {{ cursor node {{ "
    f"__typename ... on AuditEvent {{ {ENVELOPE} }} {DATA} }} }} }} }}",
    "rel": f"query PageCause {{ events(first: 20) {{ pageInfo {{ hasNextPage endCursor }} edges {{ cursor node {{ "
    f"... on AuditEvent {{ {FLAT} causedBy {{ ... on AuditEvent {{ {FLAT} }} }} }} }} }} }} }}",
    # The fixed cost of a request: HTTP in process, auth, the view; its floor is an empty page's statement.
    "tiny": "{ events(first: 0) { pageInfo { hasNextPage } } }",
}
SIZES = {"full": 100, "rel": 20, "tiny": 0}


async def seed(engine: AsyncEngine, total: int) -> None:
    principal = Principal("probe", "probe", frozenset({TENANT}), frozenset({Scope.WRITE}), frozenset(SOURCES))
    batch = []
    for flow in flows(total, seed=3):
        for step in flow.steps:
            new = validate(
                Submission(envelope={**step.envelope, "tenant": TENANT}, member=step.member, data=step.data), principal
            )
            assert not isinstance(new, Rejected), new
            batch.append(new)
            if len(batch) == 1000:
                await append(engine, batch)
                batch = []
    await append(engine, batch)


async def floor(engine: AsyncEngine, size: int) -> bytes:
    """The page's statement (same WHERE, ORDER BY, LIMIT size + 1), rows as dicts, stdlib json."""
    statement = select(events).where(events.c.tenant == TENANT).order_by(events.c.sequence.desc()).limit(size + 1)
    async with engine.connect() as connection:
        rows = [dict(row._mapping) for row in await connection.execute(statement)][:size]
    return json.dumps(rows, default=str).encode()


async def floor_with_causes(engine: AsyncEngine, size: int) -> bytes:
    """The page's statement, then one statement for the causes of its events (as ``rel`` needs), stdlib json."""
    statement = select(events).where(events.c.tenant == TENANT).order_by(events.c.sequence.desc()).limit(size + 1)
    async with engine.connect() as connection:
        rows = [dict(row._mapping) for row in await connection.execute(statement)][:size]
        causes = sorted({row["causation_id"] for row in rows if row["causation_id"]})
        found = {}
        if causes:
            cause_statement = select(events).where(events.c.tenant == TENANT, events.c.event_id.in_(causes))
            found = {row.event_id: dict(row._mapping) for row in await connection.execute(cause_statement)}
    return json.dumps([{**row, "causedBy": found.get(row["causation_id"])} for row in rows], default=str).encode()


async def timed(call: Callable[[], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    await call()
    return (time.perf_counter() - start) * 1000


async def pre_ping_cost(url: str, count: int = 500) -> None:
    """What ``pool_pre_ping`` costs on PostgreSQL: a pooled checkout plus one statement, with and without it."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    results = {}
    for ping in (True, False, True, False):
        engine = create_async_engine(url, pool_size=5, pool_pre_ping=ping)
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        start = time.perf_counter()
        for _ in range(count):
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        results.setdefault(ping, []).append((time.perf_counter() - start) / count * 1e6)
        await engine.dispose()
    print(
        f"PostgreSQL checkout + SELECT 1: {min(results[True]):.0f} µs with pre-ping, "
        f"{min(results[False]):.0f} µs without (the gateway checks out one connection per statement)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=5.0, help="per query, all three interleaved")
    parser.add_argument("--pre-ping-url", help="also measure pool_pre_ping on this postgresql+asyncpg:// URL")
    args = parser.parse_args()
    if args.pre_ping_url:
        await pre_ping_cost(args.pre_ping_url)
    directory = tempfile.mkdtemp(prefix="probe-reads-")
    url = f"sqlite+aiosqlite:///{directory}/probe.db"
    engine = create_engine(url)
    await upgrade(engine)
    await seed(engine, args.events)
    _, key = await create_key(engine, name="probe", tenants=[TENANT], scopes=["events:read"], sources=[])
    settings = Settings(database_url=url)
    headers = {"Authorization": f"Bearer {key}", "content-type": "application/json"}
    statements: list[str] = []
    # Every statement but SQLite's explicit BEGIN (as tests/conftest.py counts them).
    event.listen(
        engine.sync_engine,
        "before_cursor_execute",
        lambda *a: None if a[2].startswith("BEGIN") else statements.append(a[2]),
    )
    clients = {
        name: httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(s, engine=engine)), base_url="http://p")
        for name, s in (("reference", settings.model_copy(update={"compiled_reads": False})), ("compiled", settings))
    }
    print(f"{args.events} events in SQLite ({directory}); per-request milliseconds, median (p90), interleaved")
    print(
        f"{'query':6} {'reference':>16} {'compiled':>16} {'floor':>16} {'compiled, rows new':>19} {'ref/comp':>9}"
        f" {'comp/floor':>10}  statements ref/comp  identical"
    )
    for name, query in QUERIES.items():
        body = json.dumps({"query": query}).encode()
        answers = {}
        counts = {}
        for executor, client in clients.items():
            before = len(statements)
            response = await client.post("/graphql", content=body, headers=headers)
            assert response.headers["x-audit-executor"] == executor and b'"errors"' not in response.content
            answers[executor] = response.content
            before = len(statements)  # (the first request also looked the key up; later ones use the cache)
            await client.post("/graphql", content=body, headers=headers)
            counts[executor] = len(statements) - before

        async def post(client: httpx.AsyncClient, body: bytes = body) -> None:
            (await client.post("/graphql", content=body, headers=headers)).raise_for_status()

        async def cold() -> None:
            plan_run._DECODED.clear()  # as for rows served the first time: each is validated as the reference does
            await post(clients["compiled"])

        calls: dict[str, Callable[[], Awaitable[Any]]] = {
            "reference": lambda: post(clients["reference"]),
            "compiled": lambda: post(clients["compiled"]),
            "floor": lambda size=SIZES[name], name=name: (floor_with_causes if name == "rel" else floor)(engine, size),
            "cold": cold,
        }
        times: dict[str, list[float]] = {k: [] for k in calls}
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline or len(times["reference"]) < 5:
            for label, call in calls.items():
                times[label].append(await timed(call))
        median = {label: statistics.median(values) for label, values in times.items()}
        p90 = {label: statistics.quantiles(values, n=10)[-1] for label, values in times.items()}
        cells = " ".join(f"{median[k]:8.2f} ({p90[k]:5.2f})" for k in calls)
        print(
            f"{name:6} {cells} {median['reference'] / median['compiled']:9.1f} "
            f"{median['compiled'] / median['floor']:10.2f}  {counts['reference']:>10}/{counts['compiled']:<4}"
            f"  {answers['reference'] == answers['compiled']}"
        )
    for client in clients.values():
        await client.aclose()
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
