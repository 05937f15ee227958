"""Ingestion probe: ``recordEvents`` over HTTP, fast path and reference path, against a bare Core insert.

Side by side in one run, per backend (SQLite, PostgreSQL) and batch size (100, 500):

- *fast*: ``audit-gateway serve`` (uvicorn, one process, 127.0.0.1) with the ingestion fast path on (default);
- *reference*: the same server with ``AUDIT_FAST_INGEST=false`` (Strawberry's input conversion and execution);
- *Core*: SQLAlchemy Core ``insert()`` (executemany) of the very rows the fast server stored, same batches,
  same number of concurrent clients, one transaction per batch — the floor ``scripts/bench.py`` uses.

Each server has its own fresh database; both receive the same pre-serialized request bodies (distinct
events, 4 concurrent clients), so they do the same work. PostgreSQL databases are named
``audit_probe_ingest_*`` and dropped at the end. Run it under ``flock /work/bench.lock``::

    flock /work/bench.lock .venv/bin/python scripts/probe_ingest.py [--quick] [--backends sqlite postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import bench  # scripts/bench.py: bodies, clients, servers and the Core floor, shared with the full benchmark
from sqlalchemy import select

from app.store.engine import create_engine
from app.store.migrate import upgrade
from app.store.tables import events

SIZES = (100, 500)


@dataclass
class Row:
    backend: str
    batch: int
    events: int
    fast: float
    reference: float
    core: float


async def _database(backend: str, directory: Path, role: str, created: list[str]) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{directory / f'{role}.db'}"
    name = f"audit_probe_ingest_{uuid.uuid4().hex[:8]}_{role}"
    await bench._admin(f'CREATE DATABASE "{name}"')
    created.append(name)
    base = bench.POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


async def _serve(url: str, log_path: Path, fast: bool) -> bench.Server:
    os.environ["AUDIT_FAST_INGEST"] = "true" if fast else "false"
    try:
        return await bench.Server(url, log_path).__aenter__()
    finally:
        os.environ.pop("AUDIT_FAST_INGEST", None)


async def probe(backend: str, plan: bench.Plan, directory: Path) -> list[Row]:
    created: list[str] = []
    rows: list[Row] = []
    servers: list[bench.Server] = []
    try:
        urls = {role: await _database(backend, directory, role, created) for role in ("fast", "reference", "core")}
        keys = {}
        for role in ("fast", "reference"):
            bench.cli(urls[role], "db", "upgrade")
            keys[role] = bench.writer_key(urls[role], bench.INGEST_TENANT)
        core_engine = create_engine(urls["core"])
        fast_engine = create_engine(urls["fast"])
        await upgrade(core_engine)
        bodies = bench.ingest_bodies(plan, seed=211)
        fast_server = await _serve(urls["fast"], directory / f"fast-{backend}.log", fast=True)
        servers.append(fast_server)
        reference_server = await _serve(urls["reference"], directory / f"reference-{backend}.log", fast=False)
        servers.append(reference_server)
        async with bench.http_client(fast_server.base_url) as fast, bench.http_client(
            reference_server.base_url
        ) as reference:
            for client, role in ((fast, "fast"), (reference, "reference")):
                await bench._send_all(client, keys[role], bodies[0], 60)  # warm-up
                response = await client.post("/graphql", content=bodies[0][0][0], headers={
                    "Authorization": f"Bearer {keys[role]}", "Content-Type": "application/json"})
                executor = response.headers.get("x-audit-executor")
                expected = "fast-ingest" if role == "fast" else None
                if executor != expected:
                    raise RuntimeError(f"{role} server answered with executor {executor!r}")
            for size in sorted(plan.ingest):
                _, seconds = plan.ingest[size]
                for engine in (fast_engine, core_engine):
                    await bench.generate.analyze(engine)
                before = await bench._head(fast_engine, bench.INGEST_TENANT)
                sent, fast_timing = await bench._send_all(fast, keys["fast"], bodies[size], seconds)
                after = await bench._head(fast_engine, bench.INGEST_TENANT)
                if after - before != sent:
                    raise RuntimeError(f"batch {size}: {sent} events acknowledged, {after - before} stored")
                reference_sent, reference_timing = await bench._send_all(
                    reference, keys["reference"], bodies[size][: len(fast_timing.latencies)], seconds
                )
                async with fast_engine.connect() as connection:
                    stored = await connection.execute(
                        select(events)
                        .where(events.c.tenant == bench.INGEST_TENANT, events.c.sequence > before,
                               events.c.sequence <= after)
                        .order_by(events.c.sequence)
                    )
                    floor_rows = [dict(row._mapping) for row in stored]
                core_rows, core = await bench.core_insert(core_engine, floor_rows, size, seconds)
                row = Row(backend, size, sent, sent / fast_timing.elapsed,
                          reference_sent / reference_timing.elapsed, core_rows / core.elapsed)
                bench.log(f"{backend} batch {size}: fast {row.fast:,.0f} ev/s, reference {row.reference:,.0f} ev/s, "
                          f"Core {row.core:,.0f} rows/s; fast ÷ Core {row.fast / row.core:.2f}, "
                          f"reference ÷ Core {row.reference / row.core:.2f}, fast ÷ reference "
                          f"{row.fast / row.reference:.1f}×")
                rows.append(row)
        await core_engine.dispose()
        await fast_engine.dispose()
    finally:
        for server in servers:
            await server.__aexit__()
        for name in created:
            await bench._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return rows


async def main_async(args: argparse.Namespace) -> None:
    count, seconds = (3_000, 5.0) if args.quick else (20_000, 15.0)
    plan = bench.Plan(read_events=0, ingest={size: (count, seconds) for size in SIZES}, rounds=(0, 0.0),
                      load_seconds=0.0, profile_seconds=0.0)
    directory = Path(tempfile.mkdtemp(prefix="audit-probe-ingest-"))
    started = time.perf_counter()
    rows: list[Row] = []
    try:
        for backend in args.backends:
            rows += await probe(backend, plan, directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    print(f"\n{' '.join(['.venv/bin/python scripts/probe_ingest.py', *sys.argv[1:]])}  "
          f"({time.perf_counter() - started:.0f} s, {bench.CLIENTS} clients)")
    print("| backend | batch | events | fast ev/s | reference ev/s | Core rows/s | fast ÷ Core | reference ÷ Core |"
          " fast ÷ reference |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r.backend} | {r.batch} | {r.events:,} | {r.fast:,.0f} | {r.reference:,.0f} | {r.core:,.0f} | "
              f"**{r.fast / r.core:.2f}** | {r.reference / r.core:.2f} | {r.fast / r.reference:.1f}× |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3,000 events per size, 5 s at most each")
    parser.add_argument("--backends", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"])
    asyncio.run(main_async(parser.parse_args()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
