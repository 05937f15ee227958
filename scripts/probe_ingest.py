"""Probe the ingestion path in process: CPU per event, stage by stage, and the whole request against Core.

    .venv/bin/python -m scripts.probe_ingest [--rounds 6] [--profile 500] [--postgresql]

With the benchmark's bodies (scripts/bench/workload.py: every contract, the generator's mix), for batches of
500 and 100, in one process and interleaved round by round, prints the median µs per event of:

* ``parse``: the request body → JSON (as the view parses it);
* ``coerce``: the ``$events`` variable through the fast path's compiled coercion, and ``submissions``;
* ``validate``: ``app.ingest.validate`` of every submission (contracts, rules, authorization, ``NewEvent``);
* ``chain``: ``content``/``canonical_bytes`` + SHA-256 link, ``EventRecord.chained`` and ``row()``;
* ``answer``: the response built from the plan and encoded (orjson);
* ``http``: the whole request through the ASGI app (httpx.ASGITransport) into SQLite;
* ``core``: a bare Core ``events.insert()`` executemany of the same rows (one transaction per batch) into SQLite;

and ``http ÷ core`` as the benchmark computes it (events/s ÷ rows/s = core µs ÷ http µs). Times are this
process's CPU time (all its threads) unless ``--wall``: on a shared machine, others' load does not count.
``--profile N`` instead runs cProfile over the HTTP requests of batch N and prints the top functions.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import dataclasses
import datetime as dt
import gc
import json
import pstats
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from app.auth.keys import create_key
from app.auth.principal import Principal, Scope
from app.config import Settings
from app.demo import SOURCES
from app.gc_tuning import tune_collector
from app.graphql.fast_ingest import FastIngest, Plan, _payload, _submission
from app.graphql.schema import build_schema
from app.ingest import Rejected, validate
from app.server import create_app
from app.store.append import Accepted, append
from app.store.chain import GENESIS_HASH, canonical_bytes, link
from app.store.engine import WRITE, create_engine
from app.store.migrate import upgrade
from app.store.records import EventRecord, NewEvent
from app.store.tables import events
from scripts import generate
from scripts.bench.servers import admin, postgres_url
from scripts.bench.workload import RECORD_MUTATION, record_body, take

TENANT = "probe"
CLOCK = time.process_time
"""CPU seconds of this process (every thread: the aiosqlite worker too), not wall time: the machine is shared,
and other processes' load must not count. ``--wall`` measures wall time instead."""


def per_event(call: Callable[[], Any], events_count: int) -> float:
    start = CLOCK()
    call()
    return (CLOCK() - start) / events_count * 1e6


def lap(start: float, events_count: int) -> float:
    return (CLOCK() - start) / events_count * 1e6


def chain(batch: list[NewEvent]) -> list[dict[str, object]]:
    """What append does per event between the lookup and the insert (app/store/append.py)."""
    recorded_at = dt.datetime.now(dt.UTC)
    previous, rows = GENESIS_HASH, []
    for sequence, event in enumerate(batch, 1):
        canonical = canonical_bytes(event, tenant=event.tenant, sequence=sequence, recorded_at=recorded_at)
        record = EventRecord.chained(
            event, sequence=sequence, recorded_at=recorded_at, hash=link(previous, canonical), previous_hash=previous
        )
        previous = record.hash
        rows.append(record.row())
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--requests", type=int, default=4, help="HTTP requests per batch size and round")
    parser.add_argument("--profile", type=int, help="cProfile the HTTP requests of this batch size instead")
    parser.add_argument(
        "--gc-threshold",
        type=int,
        default=Settings().gc_threshold,
        help="the collector as a serving process sets it (app/gc_tuning.py); 0: Python's defaults",
    )
    parser.add_argument("--wall", action="store_true", help="wall-clock time instead of this process's CPU time")
    parser.add_argument(
        "--postgresql",
        action="store_true",
        help="PostgreSQL (two fresh databases on AUDIT_BENCH_POSTGRES_URL's server, dropped at the end) "
        "instead of SQLite: this process's CPU then leaves out the server's",
    )
    args = parser.parse_args()
    if args.wall:
        global CLOCK
        CLOCK = time.perf_counter
    if args.postgresql:
        names = [f"probe_ingest_{uuid.uuid4().hex[:8]}_{side}" for side in ("gateway", "core")]
        for name in names:
            await admin(f'CREATE DATABASE "{name}"')
        url, core_url = (postgres_url(name) for name in names)
    else:
        names = []
        directory = tempfile.mkdtemp(prefix="probe-ingest-")
        url, core_url = f"sqlite+aiosqlite:///{directory}/probe.db", f"sqlite+aiosqlite:///{directory}/core.db"
    try:
        await probe(args, url, core_url)
    finally:
        for name in names:
            await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def probe(args: argparse.Namespace, url: str, core_url: str) -> None:
    engine, core_engine = create_engine(url), create_engine(core_url)
    await upgrade(engine)
    await upgrade(core_engine)
    _, key = await create_key(engine, name="probe", tenants=[TENANT], scopes=["events:write"], sources=list(SOURCES))
    principal = Principal("probe", "probe", frozenset({TENANT}), frozenset({Scope.WRITE}), frozenset(SOURCES))
    headers = {"Authorization": f"Bearer {key}", "content-type": "application/json"}
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(Settings(database_url=url), engine=engine)),
        base_url="http://p",
        timeout=120,
    )
    fast = FastIngest(build_schema(Settings(database_url=url)))
    plan = fast.plan(RECORD_MUTATION, None)
    assert isinstance(plan, Plan)
    sizes = (500, 100)
    total = (args.rounds + 2) * args.requests * sum(sizes) + 1000
    stream = generate.submissions(total, [TENANT], seed=11)
    bodies = {
        size: [record_body(take(stream, size)) for _ in range((args.rounds + 2) * args.requests)] for size in sizes
    }
    sample = {size: bodies[size][0] for size in sizes}
    for size in sizes:  # warm-up: caches, statements, plans
        response = await client.post("/graphql", content=bodies[size].pop(), headers=headers)
        assert response.headers["x-audit-executor"] == "fast-ingest", response.headers

    async def http(size: int) -> float:
        start, collected = CLOCK(), collecting[0]
        for _ in range(args.requests):
            response = await client.post("/graphql", content=bodies[size].pop(), headers=headers)
            result = response.json()["data"]["recordEvents"]
            assert result["acceptedCount"] == size, result
        gc_figures[size].append((collecting[0] - collected) / (args.requests * size) * 1e6)
        return (CLOCK() - start) / (args.requests * size) * 1e6

    core_batches = [0]
    gc_figures: dict[int, list[float]] = {size: [] for size in sizes}

    async def core(rows: list[dict[str, Any]], size: int) -> float:
        prepared = []
        for _ in range(args.requests):
            core_batches[0] += 1
            prepared.append([{**row, "tenant": f"core-{core_batches[0]}"} for row in rows])
        start = CLOCK()
        for batch in prepared:
            async with core_engine.connect() as connection:
                connection = await connection.execution_options(**WRITE)
                async with connection.begin():
                    await connection.execute(events.insert(), batch)
        return (CLOCK() - start) / (args.requests * size) * 1e6

    async def appended(valid: list[NewEvent], size: int) -> float:
        prepared = []
        for _ in range(args.requests):
            core_batches[0] += 1
            prepared.append([dataclasses.replace(event, tenant=f"append-{core_batches[0]}") for event in valid])
        start = CLOCK()
        for batch in prepared:
            await append(engine, batch)
        return (CLOCK() - start) / (args.requests * size) * 1e6

    tune_collector(args.gc_threshold)
    collecting = [0.0, 0.0]

    def timed(phase: str, _: dict[str, int]) -> None:
        if phase == "start":
            collecting[1] = CLOCK()
        else:
            collecting[0] += CLOCK() - collecting[1]

    gc.callbacks.append(timed)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.rounds):
            await http(args.profile)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(40)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(60)
        return

    stage_names = ("parse", "coerce", "submissions", "validate", "chain", "answer", "append", "http", "core")
    figures: dict[int, dict[str, list[float]]] = {size: {name: [] for name in stage_names} for size in sizes}
    core_rows: dict[int, list[dict[str, Any]]] = {}
    for size in sizes:
        checked = [
            validate(s, principal)
            for s in [_submission(e) for e in fast.coerce(orjson.loads(sample[size])["variables"]["events"])]
        ]
        valid = [e for e in checked if isinstance(e, NewEvent)]
        assert len(valid) == size, [e for e in checked if isinstance(e, Rejected)][:3]
        rows = chain(valid)
        core_rows[size] = rows
    for _ in range(args.rounds):
        for size in sizes:
            body = sample[size]
            row = figures[size]
            row["parse"].append(per_event(lambda body=body: json.loads(body.decode("utf-8")), size))
            variables = json.loads(body)["variables"]["events"]
            start = CLOCK()
            coerced = fast.coerce(variables)
            row["coerce"].append(lap(start, size))
            start = CLOCK()
            submissions = [_submission(e) for e in coerced]
            row["submissions"].append(lap(start, size))
            start = CLOCK()
            checked = [validate(s, principal) for s in submissions]
            row["validate"].append(lap(start, size))
            valid = [e for e in checked if isinstance(e, NewEvent)]
            start = CLOCK()
            rows = chain(valid)
            row["chain"].append(lap(start, size))
            outcomes = [Accepted(EventRecord(**r)) for r in rows]  # type: ignore[arg-type]
            start = CLOCK()
            orjson.dumps({"data": {plan.key: plan.build(_payload(outcomes))}})
            row["answer"].append(lap(start, size))
            row["append"].append(await appended(valid, size))
            row["http"].append(await http(size))
            row["core"].append(await core(core_rows[size], size))
    kind = "wall" if args.wall else "CPU"
    backend = "PostgreSQL" if args.postgresql else "SQLite"
    print(f"median {kind} µs per event over {args.rounds} interleaved rounds ({backend}, in process)")
    print(
        f"{'batch':>5} " + " ".join(f"{name:>11}" for name in stage_names) + "  http÷core ratio(core/http) gc-in-http"
    )
    for size in sizes:
        medians = {name: statistics.median(values) for name, values in figures[size].items()}
        print(
            f"{size:>5} "
            + " ".join(f"{medians[name]:>11.1f}" for name in stage_names)
            + f"  {medians['http'] / medians['core']:>9.2f} {medians['core'] / medians['http']:>6.3f}"
            + f" {statistics.median(gc_figures[size]):>10.1f}"
        )
    await client.aclose()
    await engine.dispose()
    await core_engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
