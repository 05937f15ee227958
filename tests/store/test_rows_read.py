"""Rows read, counted exactly by PostgreSQL's EXPLAIN ANALYZE: batched lookups stay bounded by keys × limit."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.store.append import append
from app.store.engine import create_engine
from app.store.read import TenantReader
from app.store.records import NewEvent
from app.store.tables import events
from tests.helpers import stored_event


def _event(tenant: str, n: int, correlation: str) -> NewEvent:
    return stored_event(
        tenant=tenant,
        event_id=f"e{n}",
        type="user.signed_in",
        schema_version=1,
        occurred_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=n),
        correlation_id=correlation,
        data={"method": "SSO", "mfa": True, "sessionId": None},
    )


def _scanned(plan: dict) -> int:
    """Rows that scan nodes of the plan produced (index and sequential scans of events)."""
    own = plan["Actual Rows"] * plan.get("Actual Loops", 1) if "Scan" in plan["Node Type"] else 0
    return own + sum(_scanned(child) for child in plan.get("Plans", []))


@pytest.mark.postgres
async def test_correlated_lookups_read_at_most_keys_times_limit(postgres_url: str, tenant: str) -> None:
    engine = create_engine(postgres_url)
    try:
        await _check(engine, tenant)
    finally:
        await engine.dispose()


async def _check(engine: AsyncEngine, tenant: str) -> None:
    # Two big correlations (300 events each) and a small one.
    batch = [_event(tenant, n, f"c{n % 2}") for n in range(600)] + [_event(tenant, 1000, "small")]
    await append(engine, batch)
    reader = TenantReader(engine, tenant)
    statement = reader.first_per_key_statement(events.c.correlation_id, ["c0", "c1", "small"], 10)
    sql = statement.compile(engine.sync_engine, compile_kwargs={"literal_binds": True})
    async with engine.connect() as connection:
        await connection.execute(text("ANALYZE events"))
        (plan,) = (await connection.execute(text(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}"))).scalar_one()
    plan = plan if isinstance(plan, dict) else json.loads(plan)[0]
    assert plan["Plan"]["Actual Rows"] == 21
    assert _scanned(plan["Plan"]) <= 3 * 10, json.dumps(plan)[:2000]
    found = await reader.by_correlation(["c0", "c1", "small"], 10)
    assert [len(found[k]) for k in ("c0", "c1", "small")] == [10, 10, 1]
    assert [r.event_id for r in found["c1"][:3]] == ["e1", "e3", "e5"], "oldest first"
