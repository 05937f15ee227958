"""CPU per compiled read, the store's direct path (asyncpg + orjson JSON) against the SQLAlchemy path, interleaved.

    .venv/bin/python scripts/probe_direct.py --url postgresql+asyncpg://postgres@127.0.0.1:5432/DB \
        [--events 3000] [--rounds 200]

Both sides run ``CompiledExecutor.execute`` + orjson in one process, alternately, on two engines of the same
database: *direct* is the store as it is (``app.store.direct`` on PostgreSQL, ``loads_json``); *sqlalchemy* reads
through ``AsyncConnection.execute`` with the stdlib ``json.loads`` deserializer (the store before the direct
path). CPU time (``time.process_time``) per request, median of the rounds; the database seeded as
``scripts/probe_compiled.py`` does (tenant ``probe``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import orjson
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.auth.principal import Principal, Scope
from app.config import Settings
from app.graphql.context import Context
from app.graphql.plan.executor import CompiledExecutor
from app.graphql.schema import build_schema
from app.store import direct
from app.store.engine import create_engine
from app.store.migrate import upgrade
from scripts.probe_reads import QUERIES, TENANT, seed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    engines = {"direct": create_engine(args.url), "sqlalchemy": create_engine(args.url)}
    engines["sqlalchemy"].dialect._json_deserializer = json.loads  # type: ignore[attr-defined]
    await upgrade(engines["direct"])
    async with engines["direct"].connect() as connection:
        count = "SELECT count(*) FROM events WHERE tenant = :t"
        if not (await connection.execute(text(count), {"t": TENANT})).scalar():
            await seed(engines["direct"], args.events)
    settings = Settings(database_url=args.url)
    executor = CompiledExecutor(build_schema(settings), settings)
    principal = Principal("probe", "probe", frozenset({TENANT}), frozenset({Scope.READ}), frozenset())
    applies = direct.applies

    async def request(side: str, query: str) -> bytes:
        direct.applies = applies if side == "direct" else (lambda dialect: False)  # type: ignore[assignment]
        context = Context(engine=engines[side], settings=settings, principal=principal)
        data = await executor.execute(query, None, None, context)
        assert data is not None, executor.reasons
        return orjson.dumps({"data": data})

    print(f"{engines['direct'].dialect.name}; CPU ms per request (process_time), median of {args.rounds} rounds")
    for name, query in QUERIES.items():
        same = {side: await request(side, query) for side in engines}
        assert same["direct"] == same["sqlalchemy"], name
        for _ in range(20):
            for side in engines:
                await request(side, query)
        times: dict[str, list[float]] = {side: [] for side in engines}
        for _ in range(args.rounds):
            for side in engines:
                start = time.process_time()
                await request(side, query)
                times[side].append((time.process_time() - start) * 1000)
        median = {side: statistics.median(values) for side, values in times.items()}
        print(
            f"{name:5} direct {median['direct']:7.3f}  sqlalchemy {median['sqlalchemy']:7.3f}  "
            f"direct ÷ sqlalchemy {median['direct'] / median['sqlalchemy']:5.2f}"
        )
    direct.applies = applies
    for engine in engines.values():
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
