"""Group commit A/B in process: concurrent appenders through ``append`` (grouped) and each batch alone.

    flock /work/bench.lock .venv/bin/python -m scripts.probe_group_commit --url postgresql+asyncpg://…/db
    flock /work/bench.lock .venv/bin/python -m scripts.probe_group_commit --url sqlite+aiosqlite:////tmp/x.db

``--clients`` appenders (one tenant, the generator's validated events, fresh ids) each append ``--batches``
batches of ``--size`` events, through ``app.store.append.append`` with one call in flight (``grouped1``) and
two (``grouped2``, ``group_commit.IN_FLIGHT``), and through the append path called directly per batch
(``alone``: ``_dispatch``, what every request did before), rotating the order per round. Prints events/s
(wall), CPU µs per event of this process and (PostgreSQL on this machine, read from /proc) of the database's
backends, per mode and round, and the flushes and batches per flush of the grouped runs. The database must be
migrated (``audit-gateway db upgrade``).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.store import group_commit
from app.store.append import _dispatch, append
from app.store.engine import create_engine
from app.store.records import NewEvent
from scripts import generate


async def _grouped1(engine: AsyncEngine, batch: Sequence[NewEvent]) -> object:
    group_commit.IN_FLIGHT = 1
    return await append(engine, batch)


async def _grouped2(engine: AsyncEngine, batch: Sequence[NewEvent]) -> object:
    group_commit.IN_FLIGHT = 2
    return await append(engine, batch)


async def _alone(engine: AsyncEngine, batch: Sequence[NewEvent]) -> object:
    return await _dispatch(engine, batch, None)


async def _backend_cpu(engine: AsyncEngine) -> float:
    """CPU seconds so far of the PostgreSQL backends serving this database (same machine: /proc), 0 on SQLite."""
    if engine.dialect.name != "postgresql":
        return 0.0
    async with engine.connect() as connection:
        pids = (
            await connection.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
            )
        ).scalars()
        total = 0.0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total


async def _run(
    engine: AsyncEngine,
    call: Callable[[AsyncEngine, Sequence[NewEvent]], Awaitable[object]],
    work: list[list[list[NewEvent]]],
) -> tuple[float, float, float]:
    """Events/s (wall), and µs per event of this process's CPU and of the database backends' CPU."""

    async def client(batches: list[list[NewEvent]]) -> None:
        for batch in batches:
            await call(engine, batch)

    events = sum(len(b) for batches in work for b in batches)
    backend = await _backend_cpu(engine)
    cpu, start = time.process_time(), time.perf_counter()
    await asyncio.gather(*[client(batches) for batches in work])
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    backend = await _backend_cpu(engine) - backend
    return events / wall, cpu / events * 1e6, backend / events * 1e6


async def main(url: str, clients: int, batches: int, size: int, rounds: int) -> None:
    engine = create_engine(url)
    total = clients * batches * size
    template = list(generate.new_events(total, ["probe-group"]))[:total]
    modes = {"grouped1": _grouped1, "grouped2": _grouped2, "alone": _alone}
    rates: dict[str, list[float]] = {name: [] for name in modes}
    cpus: dict[str, list[float]] = {name: [] for name in modes}
    try:
        for number in range(rounds):
            names = list(modes)
            order = names[number % 3 :] + names[: number % 3]
            for name in order:
                tag = uuid.uuid4().hex[:8]
                events = [dataclasses.replace(e, event_id=f"{e.event_id}-{tag}") for e in template]
                chunks = [events[i : i + size] for i in range(0, len(events), size)]
                work = [chunks[c::clients] for c in range(clients)]
                before = dict(group_commit.FLUSHES)
                rate, ours, theirs = await _run(engine, modes[name], work)
                rates[name].append(rate)
                cpus[name].append(ours + theirs)
                flushes = group_commit.FLUSHES["flushes"] - before.get("flushes", 0)
                carried = group_commit.FLUSHES["batches"] - before.get("batches", 0)
                extra = f" flushes {flushes}, batches/flush {carried / flushes:.2f}" if flushes else ""
                print(
                    f"round {number + 1} {name}: {rate:,.0f} events/s, CPU µs/event {ours:.1f} here + "
                    f"{theirs:.1f} database{extra}",
                    flush=True,
                )
    finally:
        await engine.dispose()
    alone, alone_cpu = statistics.median(rates["alone"]), statistics.median(cpus["alone"])
    for name in ("grouped1", "grouped2"):
        grouped, grouped_cpu = statistics.median(rates[name]), statistics.median(cpus[name])
        print(
            f"median {name} {grouped:,.0f} / alone {alone:,.0f} events/s: ÷ alone {grouped / alone:.2f}; "
            f"CPU µs/event (here + database) {grouped_cpu:.1f} / {alone_cpu:.1f}: ÷ alone {grouped_cpu / alone_cpu:.2f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=4)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.url, arguments.clients, arguments.batches, arguments.size, arguments.rounds))
