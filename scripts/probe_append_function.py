"""PostgreSQL's own time per event: ``audit_append`` against plain inserts of the same rows, interleaved.

    .venv/bin/python -m scripts.probe_append_function [--events 60000] [--rounds 8]

In a fresh database (migrated, then dropped), for batches of 1000 and 100 events of one tenant, the wall time of
one call per batch, per event (median over ``--rounds``), of:

* ``audit_append``: the append's locked section as the gateway calls it (lock, look-up, chain, insert, heads);
* ``insert, our indexes``: a plain ``INSERT … SELECT FROM unnest(…)`` of the same columns into a copy of
  ``events`` with every index (no lock, no look-up, no chain);
* ``insert, key indexes``: the same into a copy with only the primary and the unique key;
* ``insert, PostGraphile's table``: the same into ../shared/peer/postgraphile's ``events`` shape (five indexes).

The client is this process on loopback; what differs between the lines is PostgreSQL's work.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import time
import uuid

import asyncpg
from sqlalchemy.dialects import postgresql

from app.store import append as append_module
from app.store.engine import create_engine
from app.store.migrate import upgrade
from scripts import generate
from scripts.bench.servers import admin, postgres_url

COLUMNS = [name for name, _ in append_module._ARGUMENTS if name not in ("recorded_at", "prefix", "suffix", "count")]
_NOT_TEXT = {"schema_version": "integer[]", "occurred_at": "timestamptz[]", "data": "jsonb[]"}
TYPES = {name: _NOT_TEXT.get(name, "text[]") for name in COLUMNS}
"""The plain inserts' arguments: one array per column (the gateway's call sends text columns joined, see
``app.store.append.APPEND_CALL``)."""
PEER_TABLE = """
CREATE TABLE peer_events (
  seq bigserial PRIMARY KEY, tenant text NOT NULL, event_id text NOT NULL, source text NOT NULL, type text NOT NULL,
  occurred_at timestamptz NOT NULL, recorded_at timestamptz NOT NULL DEFAULT now(), actor_type text NOT NULL,
  actor_id text NOT NULL, target_type text, target_id text, outcome text NOT NULL, correlation_id text,
  causation_id text, data jsonb NOT NULL, UNIQUE (tenant, event_id));
CREATE INDEX ON peer_events (tenant, seq);
CREATE INDEX ON peer_events (tenant, correlation_id, seq);
CREATE INDEX ON peer_events (tenant, causation_id);
"""
PEER_COLUMNS = [
    "tenant", "event_id", "source", "type", "occurred_at", "actor_type", "actor_id", "target_type", "target_id",
    "outcome", "correlation_id", "causation_id", "data",
]  # fmt: skip


def _full(column: list[object] | None, size: int) -> list[object]:
    """A column as one element per event (``audit_append`` takes a column no event has as NULL, and a column the
    same for every event as one element; a plain insert's unnest would pad either with NULLs)."""
    if column is None:
        return [None] * size
    return column * size if len(column) == 1 else column


def _unnest(columns: list[str]) -> str:
    arguments = ", ".join(f"${index + 1}::{TYPES[name]}" for index, name in enumerate(columns))
    return f"unnest({arguments}) AS u ({', '.join(columns)})"


def _insert(table: str) -> str:
    """All of the function's columns, the chain's as placeholders: the rows' size is the function's."""
    count = len(COLUMNS)
    arguments = ", ".join(f"${index + 1}::{TYPES[name]}" for index, name in enumerate(COLUMNS))
    return (
        f"INSERT INTO {table} ({', '.join(COLUMNS)}, sequence, recorded_at, hash, previous_hash) "
        f"SELECT {', '.join(f'u.{name}' for name in COLUMNS)}, ${count + 1}::bigint + u.n, ${count + 2}::timestamptz,"
        f" repeat('a', 64), repeat('b', 64) FROM unnest({arguments}) WITH ORDINALITY AS u ({', '.join(COLUMNS)}, n)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=60000)
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    name = f"probe_append_{uuid.uuid4().hex[:8]}"
    await admin(f'CREATE DATABASE "{name}"')
    try:
        await probe(postgres_url(name), args.events, args.rounds)
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def probe(url: str, total: int, rounds: int) -> None:
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    await connection.execute("CREATE TABLE all_indexes (LIKE events INCLUDING ALL)")
    await connection.execute("CREATE TABLE key_indexes (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    await connection.execute("ALTER TABLE key_indexes ADD PRIMARY KEY (tenant, sequence)")
    await connection.execute("ALTER TABLE key_indexes ADD UNIQUE (tenant, event_id, source)")
    await connection.execute(PEER_TABLE)
    compiled = append_module.APPEND_CALL.compile(dialect=postgresql.asyncpg.dialect())  # the gateway's statement
    call = await connection.prepare(str(compiled))
    order = list(compiled.positiontup or ())
    statements = {
        "insert, our indexes": await connection.prepare(_insert("all_indexes")),
        "insert, key indexes": await connection.prepare(_insert("key_indexes")),
    }
    peer = await connection.prepare(
        f"INSERT INTO peer_events ({', '.join(PEER_COLUMNS)}) SELECT * FROM {_unnest(PEER_COLUMNS)}"
    )
    events = list(generate.new_events(total, ["probe"], seed=int(time.time()) % 1000))
    sequences = {"insert, our indexes": 0, "insert, key indexes": 0}
    kinds = ["audit_append", *statements, "insert, PostGraphile's table"]
    for size in (1000, 100):
        times: dict[str, list[float]] = {kind: [] for kind in kinds}
        for _ in range(rounds + 1):
            for kind in kinds:
                batch, events[:size] = events[:size], []
                if len(batch) < size:
                    raise SystemExit("not enough events: raise --events")
                now = dt.datetime.now(dt.UTC)
                values = append_module.arrays(batch, now)
                arguments = append_module._parameters(batch, now)
                start = time.perf_counter()
                if kind == "audit_append":
                    await call.fetch(*(arguments[name] for name in order))
                elif kind in statements:
                    first = sequences[kind] * 10**6  # one statement's rows share a base: unique (tenant, sequence)
                    sequences[kind] += 1
                    await statements[kind].fetch(
                        *(_full(values[name], size) for name in COLUMNS), first, values["recorded_at"]
                    )
                else:
                    await peer.fetch(*(_full(values[name], size) for name in PEER_COLUMNS))
                times[kind].append(time.perf_counter() - start)
        for kind in kinds:
            per_event = statistics.median(times[kind][1:]) / size * 1e6
            print(f"batch {size:>4}  {kind:<30} {per_event:7.1f} µs/event")
    await connection.close()


if __name__ == "__main__":
    asyncio.run(main())
