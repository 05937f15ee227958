"""``verifyIntegrity`` covers a bounded range per call; the CLI checks everything; breaks are found either way."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.server import create_app
from app.store.verify import verify_chain
from tests.helpers import RECORD, Api, Keys, order_placed
from tests.store.test_append_only import _tamper

MAX = 5
VERIFY = """query($from: BigInt, $to: BigInt) {
  verifyIntegrity(fromSequence: $from, toSequence: $to) { ok checkedCount firstBrokenSequence headSequence }
}"""


@pytest.fixture
async def api(engine: AsyncEngine, database_url: str, keys: Keys) -> AsyncIterator[Api]:
    settings = Settings(database_url=database_url, max_verify_range=MAX)
    transport = httpx.ASGITransport(app=create_app(settings, engine=engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield Api(client, keys)


async def test_a_range_over_the_maximum_is_limit_exceeded_and_parts_are_fine(
    api: Api, engine: AsyncEngine, tenant: str, backend: str, database_url: str
) -> None:
    await api.ok(RECORD, {"events": [order_placed() for _ in range(8)]})
    (error,) = await api.errors(VERIFY, key="reader")
    assert error["extensions"]["code"] == "LIMIT_EXCEEDED"
    assert f"at most {MAX} sequences" in error["message"] and "1 to 8 are 8" in error["message"]
    assert (await api.errors(VERIFY, {"from": 2, "to": 7}, key="reader"))[0]["extensions"]["code"] == "LIMIT_EXCEEDED"
    for part in ({"from": 1, "to": 5}, {"from": 6}, {"from": 4, "to": 100}):
        report = (await api.ok(VERIFY, part, key="reader"))["verifyIntegrity"]
        assert report["ok"] and report["headSequence"] == "8", (part, report)
    assert (await api.ok(VERIFY, {"from": 6}, key="reader"))["verifyIntegrity"]["checkedCount"] == 3

    # A row altered behind the gateway's back: found by the range that holds it, by the CLI, not by the others.
    await _tamper(engine, backend, tenant, 2)
    broken = (await api.ok(VERIFY, {"from": 1, "to": 5}, key="reader"))["verifyIntegrity"]
    assert (broken["ok"], broken["firstBrokenSequence"]) == (False, "2")
    assert (await api.ok(VERIFY, {"from": 4, "to": 8}, key="reader"))["verifyIntegrity"]["ok"]
    assert not (await verify_chain(engine, tenant)).ok, "the store without a bound checks everything"
    cli = subprocess.run(
        [sys.executable, "-m", "app", "verify", "--tenant", tenant],
        env={**os.environ, "AUDIT_DATABASE_URL": database_url, "AUDIT_MAX_VERIFY_RANGE": str(MAX)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 1 and "BROKEN at sequence 2 (2 events checked)" in cli.stdout, cli.stdout + cli.stderr
