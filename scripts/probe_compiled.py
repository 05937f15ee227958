"""Probe the compiled read path below the HTTP view: executor + orjson vs the raw SQL + json floor, interleaved.

    .venv/bin/python scripts/probe_compiled.py [--events 3000] [--seconds 3] \
        [--url postgresql+asyncpg://postgres@127.0.0.1:5432/probe_db]

``scripts/probe_reads.py`` times whole requests through the ASGI app (auth, the view, encoding); this one
calls ``CompiledExecutor.execute`` with a ready context and encodes the answer with orjson, so what it
times is the store calls and building the response from rows, next to the same floor (the page's SQL
through SQLAlchemy Core, rows as dicts, stdlib json). Without ``--url`` it seeds a temporary SQLite
database; with a PostgreSQL URL it seeds the tenant ``probe`` there once (run ANALYZE after seeding, or
the planner's statistics are those of an empty table). ``--profile tottime`` prints a cProfile of one query.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.auth.principal import Principal, Scope
from app.config import Settings
from app.graphql.context import Context
from app.graphql.plan.executor import CompiledExecutor
from app.graphql.schema import build_schema
from app.store.engine import create_engine
from app.store.migrate import upgrade
from scripts.probe_reads import QUERIES, SIZES, TENANT, floor, floor_with_causes, seed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a postgresql+asyncpg:// URL (default: a temporary SQLite database)")
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=3.0, help="per query, compiled and floor interleaved")
    parser.add_argument("--only", choices=sorted(QUERIES))
    parser.add_argument("--profile", metavar="SORT", help="cProfile the first query, sorted by SORT")
    args = parser.parse_args()
    url = args.url or f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='probe-compiled-')}/probe.db"
    engine = create_engine(url)
    await upgrade(engine)
    async with engine.connect() as connection:
        seeded = (
            await connection.execute(text("SELECT count(*) FROM events WHERE tenant = :t"), {"t": TENANT})
        ).scalar()
    if not seeded:
        await seed(engine, args.events)
    settings = Settings(database_url=url)
    executor = CompiledExecutor(build_schema(settings), settings)
    principal = Principal("probe", "probe", frozenset({TENANT}), frozenset({Scope.READ}), frozenset())

    async def compiled(query: str) -> bytes:
        context = Context(engine=engine, settings=settings, principal=principal)
        data = await executor.execute(query, None, None, context)
        assert data is not None, executor.reasons
        return orjson.dumps({"data": data})

    names = [args.only] if args.only else list(QUERIES)
    if args.profile:
        query = QUERIES[names[0]]
        for _ in range(50):
            await compiled(query)
        profile = cProfile.Profile()
        profile.enable()
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            await compiled(query)
        profile.disable()
        pstats.Stats(profile).sort_stats(args.profile).print_stats(45)
        await engine.dispose()
        return
    print(f"{engine.dialect.name}; per-request milliseconds, median, interleaved")
    for name in names:
        query = QUERIES[name]
        run_floor = floor_with_causes if name == "rel" else floor
        calls: dict[str, Callable[[], Awaitable[Any]]] = {
            "compiled": lambda query=query: compiled(query),
            "floor": lambda name=name, run_floor=run_floor: run_floor(engine, SIZES[name]),
        }
        for call in calls.values():
            for _ in range(20):
                await call()
        times: dict[str, list[float]] = {label: [] for label in calls}
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            for label, call in calls.items():
                start = time.perf_counter()
                await call()
                times[label].append((time.perf_counter() - start) * 1000)
        median = {label: statistics.median(values) for label, values in times.items()}
        print(
            f"{name:5} compiled {median['compiled']:7.3f}  floor {median['floor']:7.3f}  "
            f"compiled ÷ floor {median['compiled'] / median['floor']:5.2f}  ({len(times['floor'])} rounds)"
        )
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
