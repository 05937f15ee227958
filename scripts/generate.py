"""Fill a database with N realistic audit events, fast, with a valid hash chain per tenant.

    .venv/bin/python scripts/generate.py --events 1000000 [--tenants 3] [--database-url URL]

The events are the demo's correlated flows (``app.demo``: sign-ins, lock-outs,
role changes, orders → payments → refunds, exports), spread over tenants
``tenant-1`` … ``tenant-N``. Each submission is checked by ``app.ingest.validate``
(the contract models, exactly as the gateway would) and the resulting
``NewEvent`` batches go through ``app.store.append.append`` — the one chained
insert — so the chain verifies and the rows are what the gateway would store.
Only the GraphQL/HTTP layer is skipped. Migrations run first; on PostgreSQL
the table is vacuumed and analysed at the end, as autovacuum would.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterator

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.principal import Principal, Scope
from app.demo import SOURCES, Flow, flows
from app.ingest import Rejected, Submission, validate
from app.store.append import Accepted, append
from app.store.engine import create_engine
from app.store.migrate import upgrade
from app.store.records import NewEvent

DEFAULT_URL = "sqlite+aiosqlite:///./audit.db"


def tenant_names(count: int) -> list[str]:
    return [f"tenant-{n}" for n in range(1, count + 1)]


def writer(tenants: list[str]) -> Principal:
    return Principal(
        key_id="generator",
        name="generator",
        tenants=frozenset(tenants),
        scopes=frozenset({Scope.WRITE}),
        sources=frozenset(SOURCES),
    )


def submissions(total: int, tenants: list[str], seed: int = 7) -> Iterator[Submission]:
    """About ``total`` submissions: one independent stream of demo flows per tenant, interleaved flow by flow."""
    streams: list[tuple[str, Iterator[Flow]]] = [
        (tenant, flows(max(total // len(tenants), 1), seed=seed + index)) for index, tenant in enumerate(tenants)
    ]
    while streams:
        for stream in list(streams):
            tenant, source = stream
            flow = next(source, None)
            if flow is None:
                streams.remove(stream)
                continue
            for step in flow.steps:
                yield Submission(envelope={**step.envelope, "tenant": tenant}, member=step.member, data=step.data)


def new_events(total: int, tenants: list[str], seed: int = 7) -> Iterator[NewEvent]:
    """The validated events, as ``record_events`` would hand them to the store."""
    principal = writer(tenants)
    for submission in submissions(total, tenants, seed):
        event = validate(submission, principal)
        if isinstance(event, Rejected):
            raise RuntimeError(f"generated event {event.event_id} is invalid: {event.problems}")
        yield event


def batches(events: Iterator[NewEvent], size: int) -> Iterator[list[NewEvent]]:
    batch: list[NewEvent] = []
    for event in events:
        batch.append(event)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _produce(total: int, tenants: list[str], seed: int, batch_size: int, queue: multiprocessing.Queue) -> None:
    """In a separate process: build and validate batches while the parent appends the previous ones."""
    try:
        for batch in batches(new_events(total, tenants, seed), batch_size):
            queue.put(batch)
        queue.put(None)
    except BaseException as error:
        queue.put(RuntimeError(f"generator failed: {error!r}"))
        raise


async def fill(
    engine: AsyncEngine,
    total: int,
    tenants: list[str],
    *,
    batch_size: int = 5000,
    seed: int = 7,
    progress: Callable[[int, float], None] | None = None,
) -> int:
    """Append about ``total`` events through the store's append path; returns how many were new.

    Building and validating runs in a child process, appending (chain + insert) in this one. On
    PostgreSQL the table is analysed as it grows (10k, 20k, 40k … events), as autovacuum would: the
    append path's duplicate lookup needs statistics, and some servers run with autovacuum off.
    """
    context = multiprocessing.get_context("spawn")
    queue = context.Queue(maxsize=4)
    producer = context.Process(target=_produce, args=(total, tenants, seed, batch_size, queue), daemon=True)
    producer.start()
    loop = asyncio.get_running_loop()
    started, written, produced, next_analyze = time.perf_counter(), 0, 0, 10_000
    try:
        while True:
            batch = await loop.run_in_executor(None, queue.get, True, 600)
            if batch is None:
                break
            if isinstance(batch, Exception):
                raise batch
            results = await append(engine, batch)
            written += sum(isinstance(result, Accepted) for result in results)
            produced += len(batch)
            if produced >= next_analyze:
                await analyze(engine)
                next_analyze *= 2
            if progress is not None:
                progress(produced, time.perf_counter() - started)
    finally:
        producer.join(timeout=10)
        if producer.is_alive():
            producer.terminate()
            producer.join(timeout=5)
    return written


async def analyze(engine: AsyncEngine) -> None:
    """PostgreSQL: refresh the planner statistics of the events table (SQLite: nothing, the gateway never does)."""
    if engine.dialect.name == "postgresql":
        async with engine.begin() as connection:
            await connection.execute(text("ANALYZE events"))


async def vacuum_analyze(url: str) -> None:
    """PostgreSQL only: what autovacuum would do after a bulk load (visibility map, planner statistics)."""
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"), timeout=10)
    try:
        await connection.execute("VACUUM (ANALYZE) events")
    finally:
        await connection.close()


async def run(url: str, total: int, tenant_count: int, batch_size: int, seed: int) -> None:
    engine = create_engine(url, statement_timeout_ms=600_000)
    try:
        await upgrade(engine)
        last_report = [0.0]

        def progress(done: int, elapsed: float) -> None:
            if elapsed - last_report[0] >= 5 or done >= total:
                last_report[0] = elapsed
                print(f"  {done:>10,} events  {elapsed:7.1f} s  {done / elapsed:9,.0f} events/s", flush=True)

        started = time.perf_counter()
        written = await fill(
            engine, total, tenant_names(tenant_count), batch_size=batch_size, seed=seed, progress=progress
        )
        elapsed = time.perf_counter() - started
        print(f"wrote {written:,} new events in {elapsed:.1f} s: {written / elapsed:,.0f} events/s")
    finally:
        await engine.dispose()
    if url.startswith("postgresql"):
        started = time.perf_counter()
        await vacuum_analyze(url)
        print(f"VACUUM (ANALYZE) events: {time.perf_counter() - started:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("AUDIT_DATABASE_URL", DEFAULT_URL),
        help="default: AUDIT_DATABASE_URL, else the SQLite default",
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--tenants", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if args.events < 1 or args.tenants < 1 or args.batch_size < 1:
        parser.error("--events, --tenants and --batch-size must be positive")
    print(f"generating about {args.events:,} events for {args.tenants} tenant(s) into {args.database_url}")
    asyncio.run(run(args.database_url, args.events, args.tenants, args.batch_size, args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
