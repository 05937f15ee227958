"""``audit_append`` probes by key: the rows it reads per call do not grow with the table, analysed or not.

One session (its plans kept from call to call) appends the demo generator's events for three tenants to a table
that starts empty and is never analysed (autovacuum off for it), ~21,000 rows; the last call runs inside a
transaction so that ``pg_stat_xact_user_tables`` gives the exact rows it read: one index probe per event, the
rows of stored keys, nothing more. A look-up that reads a tenant's events per probe fails it (checked by hand:
``e.event_id || '' = i.event_id`` reads 1.4-3.5 million rows for a call of 100).

Known and left: while a never-analysed table is small (seen at 4,000 rows of one tenant), the planner may probe
through another ``tenant`` index and read the tenant's events per probe (~45 ms a call of 100); that cost is
bounded by the small table and goes once the table grows (here) or is analysed.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from app.store.append import APPEND_CALL, _parameters
from app.store.engine import create_engine
from app.store.records import NewEvent
from scripts import generate
from tests.store.test_append_paths import migrated_postgres_databases

pytestmark = pytest.mark.postgres

BATCH = 100
BATCHES = 70
TENANTS = 3


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    with migrated_postgres_databases("audit_fn_reads", ("grown", "unused")) as (url, _):
        yield url


def _stream(tenant: str) -> Iterator[list[NewEvent]]:
    """The demo generator's events (every contract, real ids, causes and correlations), ``BATCH`` at a time."""
    return generate.batches(generate.new_events(BATCH * (BATCHES + 2), [tenant], seed=5), BATCH)


@pytest.mark.parametrize("repeat", [0, 10])
async def test_rows_read_per_call_do_not_grow_with_the_table(database: str, repeat: int) -> None:
    engine = create_engine(database, pool_size=1)  # one session: its plans are kept from call to call
    tenants = [f"grow{n}_{uuid.uuid4().hex[:6]}" for n in range(TENANTS)]
    try:
        async with engine.connect() as connection:
            await connection.execute(text("ALTER TABLE events SET (autovacuum_enabled = false)"))
            await connection.commit()
            now = dt.datetime.now(dt.UTC)
            streams = {tenant: _stream(tenant) for tenant in tenants}
            first = next(streams[tenants[0]])
            await connection.execute(APPEND_CALL, _parameters(first, now))
            for _ in range(BATCHES):
                for tenant in tenants:
                    await connection.execute(APPEND_CALL, _parameters(next(streams[tenant]), now))
                    await connection.commit()
            analysed = (
                "SELECT coalesce(last_analyze, last_autoanalyze) FROM pg_stat_user_tables WHERE relname = 'events'"
            )
            assert (await connection.execute(text(analysed))).scalar() is None, "this test needs a never-analysed table"
            last = first[:repeat] + next(streams[tenants[0]])[repeat:]  # ``repeat`` keys already stored
            rows = (await connection.execute(APPEND_CALL, _parameters(last, now))).all()
            read = "SELECT seq_scan, coalesce(idx_tup_fetch, 0) FROM pg_stat_xact_user_tables WHERE relname = 'events'"
            seq_scans, fetched = (await connection.execute(text(read))).one()
            await connection.rollback()
    finally:
        await engine.dispose()
    assert sum(row.new_sequence is None for row in rows) == repeat
    assert seq_scans == 0
    # One probe per event, the stored ones found (and read back for the answer): 2 per repeat at most.
    assert fetched <= 2 * repeat, f"{fetched} rows read for {BATCH} events in a table of {BATCH * BATCHES * TENANTS}"
