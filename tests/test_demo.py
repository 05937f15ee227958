from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.keys import authenticate
from app.config import Settings
from app.contracts.registry import CURRENT
from app.demo import TENANT, seed_demo
from app.store.verify import verify_chain


async def _events(engine: AsyncEngine) -> list[dict]:
    async with engine.connect() as connection:
        rows = await connection.execute(text("SELECT * FROM events WHERE tenant = :t ORDER BY sequence"), {"t": TENANT})
        return [dict(row._mapping) for row in rows]


async def test_demo_is_realistic_linked_and_idempotent(settings: Settings, engine: AsyncEngine, tmp_path: Path) -> None:
    keys = await seed_demo(settings, approximate_events=300, keys_file=tmp_path / "keys.json")
    stored = await _events(engine)
    assert len(stored) >= 300
    assert {e["type"] for e in stored} == {c.name for c in CURRENT}, "every contract appears"
    ids = {e["event_id"] for e in stored}
    causes = [e["causation_id"] for e in stored if e["causation_id"]]
    assert causes and all(cause in ids for cause in causes), "every cause is an event of the tenant"
    assert (await verify_chain(engine, TENANT)).ok

    again = await seed_demo(settings, approximate_events=300, keys_file=tmp_path / "keys.json")
    assert len(await _events(engine)) == len(stored), "a second run records nothing new"
    assert again == keys, "a second run prints the same keys"
    for key in (keys.reader, keys.writer):
        principal = await authenticate(engine, key)
        assert principal is not None and principal.tenants == {TENANT}
