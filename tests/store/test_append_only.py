"""The database itself refuses to change or remove an event, and the chain can be recomputed from rows."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.store.verify import verify_chain
from tests.helpers import RECORD, Api, order_placed, payment_captured


async def _record(api: Api, n: int = 3) -> None:
    events = [order_placed() for _ in range(n - 1)] + [payment_captured()]
    assert (await api.ok(RECORD, {"events": events}))["recordEvents"]["acceptedCount"] == n


@pytest.mark.parametrize(
    "statement", ["UPDATE events SET actor_id = 'mallory' WHERE tenant = :t", "DELETE FROM events WHERE tenant = :t"]
)
async def test_raw_update_and_delete_are_refused(api: Api, engine: AsyncEngine, tenant: str, statement: str) -> None:
    await _record(api)
    with pytest.raises(DBAPIError, match="append-only"):
        async with engine.begin() as connection:
            await connection.execute(text(statement), {"t": tenant})
    async with engine.connect() as connection:
        count = (
            await connection.execute(text("SELECT count(*) FROM events WHERE tenant = :t"), {"t": tenant})
        ).scalar()
    assert count == 3


def _timestamp(value: object) -> str:
    import datetime as dt

    if isinstance(value, str):  # SQLite returns naive-UTC text
        value = dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
    assert isinstance(value, dt.datetime)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def test_chain_recomputes_from_raw_rows_with_hashlib_and_json(api: Api, engine: AsyncEngine, tenant: str) -> None:
    """An outside verifier: plain SQL, hashlib and json, none of the gateway's own code."""
    await _record(api, 5)
    async with engine.connect() as connection:
        rows = (
            (await connection.execute(text("SELECT * FROM events WHERE tenant = :t ORDER BY sequence"), {"t": tenant}))
            .mappings()
            .all()
        )
    previous = "0" * 64
    for expected_sequence, row in enumerate(rows, start=1):
        data = row["data"] if isinstance(row["data"], dict) else json.loads(row["data"])
        document = {
            "tenant": row["tenant"],
            "sequence": row["sequence"],
            "eventId": row["event_id"],
            "source": row["source"],
            "type": row["type"],
            "schemaVersion": row["schema_version"],
            "occurredAt": _timestamp(row["occurred_at"]),
            "recordedAt": _timestamp(row["recorded_at"]),
            "actor": {
                "type": row["actor_type"],
                "id": row["actor_id"],
                "displayName": row["actor_display_name"],
                "ip": row["actor_ip"],
                "userAgent": row["actor_user_agent"],
            },
            "target": None
            if row["target_type"] is None
            else {"type": row["target_type"], "id": row["target_id"], "displayName": row["target_display_name"]},
            "outcome": row["outcome"],
            "correlationId": row["correlation_id"],
            "causationId": row["causation_id"],
            "traceparent": row["traceparent"],
            "data": data,
        }
        canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        assert row["sequence"] == expected_sequence
        assert row["previous_hash"] == previous
        assert hashlib.sha256(previous.encode() + canonical).hexdigest() == row["hash"]
        previous = row["hash"]
    assert len(rows) == 5


async def _tamper(engine: AsyncEngine, backend: str, tenant: str, sequence: int) -> None:
    """Edit a row behind the gateway's back, with the guard trigger switched off for the moment."""
    edit = "UPDATE events SET actor_id = 'mallory' WHERE tenant = :t AND sequence = :s"
    async with engine.begin() as connection:
        if backend == "postgresql":
            await connection.execute(text("ALTER TABLE events DISABLE TRIGGER events_append_only"))
            await connection.execute(text(edit), {"t": tenant, "s": sequence})
            await connection.execute(text("ALTER TABLE events ENABLE TRIGGER events_append_only"))
        else:
            await connection.execute(text("DROP TRIGGER events_no_update"))
            await connection.execute(text(edit), {"t": tenant, "s": sequence})
            await connection.execute(
                text(
                    "CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
                    "BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused'); END"
                )
            )


async def test_verify_finds_the_first_altered_row(
    api: Api, engine: AsyncEngine, tenant: str, backend: str, database_url: str
) -> None:
    await _record(api, 6)
    assert (await verify_chain(engine, tenant)).ok
    await _tamper(engine, backend, tenant, 4)

    report = await verify_chain(engine, tenant)
    assert (report.ok, report.first_broken_sequence, report.checked_count) == (False, 4, 4)
    api_report = (await api.ok("{ verifyIntegrity { ok firstBrokenSequence } }", key="reader"))["verifyIntegrity"]
    assert api_report == {"ok": False, "firstBrokenSequence": "4"}
    assert (await verify_chain(engine, tenant, to_sequence=3)).ok

    cli = subprocess.run(
        [sys.executable, "-m", "app", "verify", "--tenant", tenant],
        env={**os.environ, "AUDIT_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 1, cli.stdout + cli.stderr
    assert "BROKEN at sequence 4" in cli.stdout
