"""Under stress: concurrent writers, retries, a database failure, and a server killed mid-ingestion."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.keys import create_key
from app.store.verify import verify_chain
from tests.helpers import SOURCES, Api, order_placed, payment_captured

COUNTS = (
    "mutation($events: [RecordEventInput!]!) { recordEvents(events: $events) { acceptedCount duplicateCount "
    "rejectedCount results { __typename } } }"
)


async def _stored(engine: AsyncEngine, tenant: str) -> list[tuple[int, str]]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT sequence, event_id FROM events WHERE tenant = :t ORDER BY sequence"), {"t": tenant}
        )
        return [(row.sequence, row.event_id) for row in rows]


async def test_concurrent_writers_on_two_tenants(api: Api, engine: AsyncEngine, tenant: str) -> None:
    other = f"t{uuid.uuid4().hex[:12]}"
    _, other_key = await create_key(engine, name="w2", tenants=[other], scopes=["events:write"], sources=SOURCES)

    async def client(key: str | None, batches: int) -> int:
        accepted = 0
        for _ in range(batches):
            events = [order_placed() for _ in range(10)]
            if key is None:
                body = await api.ok(COUNTS, {"events": events}, key="writer")
            else:
                response = await api.client.post(
                    "/graphql",
                    json={"query": COUNTS, "variables": {"events": events}},
                    headers={"Authorization": f"Bearer {key}"},
                )
                body = response.json()["data"]
            accepted += body["recordEvents"]["acceptedCount"]
        return accepted

    results = await asyncio.gather(*[client(None, 5) for _ in range(8)], *[client(other_key, 5) for _ in range(4)])
    assert sum(results[:8]) == 400 and sum(results[8:]) == 200

    for name, expected in ((tenant, 400), (other, 200)):
        stored = await _stored(engine, name)
        assert [sequence for sequence, _ in stored] == list(range(1, expected + 1)), "gap-free, strictly increasing"
        assert len({event_id for _, event_id in stored}) == expected, "each event stored exactly once"
        report = await verify_chain(engine, name)
        assert report.ok and report.checked_count == expected


async def test_the_same_batch_sent_ten_times_at_once_is_stored_once(api: Api, engine: AsyncEngine, tenant: str) -> None:
    batch = [order_placed() for _ in range(20)]
    payloads = await asyncio.gather(*[api.ok(COUNTS, {"events": batch}) for _ in range(10)])
    assert sum(p["recordEvents"]["acceptedCount"] for p in payloads) == 20
    assert sum(p["recordEvents"]["duplicateCount"] for p in payloads) == 180
    assert len(await _stored(engine, tenant)) == 20
    assert (await verify_chain(engine, tenant)).ok


async def test_a_database_failure_fails_the_request_and_writes_nothing(
    api: Api, engine: AsyncEngine, tenant: str, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A real failure inside the transaction (a trigger refuses one row): nothing is reported or kept."""
    if backend == "postgresql":
        setup = [
            "CREATE OR REPLACE FUNCTION test_refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.event_id LIKE 'boom%' THEN RAISE EXCEPTION 'disk on fire'; END IF; RETURN NEW; END $$",
            "CREATE TRIGGER test_refuse_boom BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION test_refuse_boom()",
        ]
        teardown = ["DROP TRIGGER test_refuse_boom ON events", "DROP FUNCTION test_refuse_boom()"]
    else:
        setup = [
            "CREATE TRIGGER test_refuse_boom BEFORE INSERT ON events WHEN NEW.event_id LIKE 'boom%' "
            "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
        ]
        teardown = ["DROP TRIGGER test_refuse_boom"]
    async with engine.begin() as connection:
        for statement in setup:
            await connection.execute(text(statement))
    try:
        good = order_placed()
        body = await api.post(COUNTS, {"events": [good, order_placed(f"boom_{uuid.uuid4().hex[:8]}")]})
    finally:
        async with engine.begin() as connection:
            for statement in teardown:
                await connection.execute(text(statement))
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "INTERNAL" and "fire" not in error["message"]
    error_id = error["extensions"]["errorId"]
    assert error_id in error["message"]
    logged = [r for r in caplog.records if error_id in r.getMessage()]
    assert logged and "disk on fire" in str(logged[0].exc_info[1]), "the server log keeps what the caller never sees"
    assert await _stored(engine, tenant) == []
    again = await api.ok(COUNTS, {"events": [good]})
    assert again["recordEvents"]["acceptedCount"] == 1, "the good event was not half-written before"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(database_url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "AUDIT_DATABASE_URL": database_url, "AUDIT_LOG_LEVEL": "warning"}
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
        if process.poll() is not None:
            message = process.stderr.read().decode() if process.stderr else "server exited"
            _stop(process)
            raise AssertionError(message)
    _stop(process)
    raise AssertionError("server did not start within 30 s")


def _stop(process: subprocess.Popen[bytes], *, gently: bool = False) -> None:
    """Ends the server and closes its stderr pipe (left open, it is a ResourceWarning, which fails the test)."""
    if gently:
        process.terminate()
    else:
        process.kill()
    process.wait(timeout=10)
    if process.stderr:
        process.stderr.close()


async def test_sigkill_during_ingestion_loses_no_acknowledged_event(
    engine: AsyncEngine, tenant: str, database_url: str
) -> None:
    _, key = await create_key(engine, name="crash", tenants=[tenant], scopes=["events:write"], sources=SOURCES)
    port = _free_port()
    server = _start_server(database_url, port)
    url = f"http://127.0.0.1:{port}/graphql"
    acknowledged: list[list[str]] = []
    sent: list[list[str]] = []

    async def sender(client: httpx.AsyncClient, worker: int) -> None:
        for n in range(200):  # bounded; the kill ends it much sooner
            batch = [order_placed(f"crash_{worker}_{n}_{i}") for i in range(25)] + [payment_captured()]
            ids = [event["eventId"] for event in batch]
            sent.append(ids)
            try:
                response = await client.post(
                    url,
                    json={"query": COUNTS, "variables": {"events": batch}},
                    headers={"Authorization": f"Bearer {key}"},
                    timeout=10,
                )
            except httpx.HTTPError:
                return
            if response.status_code == 200 and (response.json().get("data") or {}).get("recordEvents", {}).get(
                "acceptedCount"
            ) == len(batch):
                acknowledged.append(ids)

    async def killer() -> None:
        while len(acknowledged) < 12:
            await asyncio.sleep(0.01)
        server.send_signal(signal.SIGKILL)

    try:
        async with httpx.AsyncClient() as client:
            await asyncio.wait_for(asyncio.gather(killer(), *[sender(client, w) for w in range(4)]), timeout=120)
    finally:
        _stop(server)
    assert server.returncode == -signal.SIGKILL

    restarted = _start_server(database_url, port)
    try:
        stored = {event_id for _, event_id in await _stored(engine, tenant)}
        for ids in acknowledged:
            assert set(ids) <= stored, "an acknowledged batch is missing after the crash"
        for ids in sent:
            present = len(set(ids) & stored)
            assert present in (0, len(ids)), f"a batch was half-written: {present} of {len(ids)}"
        report = await verify_chain(engine, tenant)
        assert report.ok and report.checked_count == len(stored)
        assert len(stored) >= 12 * 26
    finally:
        _stop(restarted, gently=True)


async def test_two_server_processes_writing_one_tenant_keep_one_chain(
    engine: AsyncEngine, tenant: str, database_url: str
) -> None:
    """Two `serve` processes on one database, six clients on one tenant: one gap-free chain that
    `audit-gateway verify` accepts; an id sent to both at once is stored once, the other copies are duplicates."""
    _, key = await create_key(engine, name="two", tenants=[tenant], scopes=["events:write"], sources=SOURCES)
    ports = [_free_port(), _free_port()]
    servers = [_start_server(database_url, port) for port in ports]
    rounds, per_batch, clients = 8, 25, 6
    shared = [order_placed(f"shared_{uuid.uuid4().hex[:8]}") for _ in range(rounds)]

    async def sender(client: httpx.AsyncClient, port: int, worker: int) -> tuple[int, int]:
        accepted = duplicates = 0
        for n in range(rounds):
            batch = [order_placed(f"two_{worker}_{n}_{i}") for i in range(per_batch)] + [shared[n]]
            response = await client.post(
                f"http://127.0.0.1:{port}/graphql",
                json={"query": COUNTS, "variables": {"events": batch}},
                headers={"Authorization": f"Bearer {key}"},
                timeout=60,
            )
            counts = response.json()["data"]["recordEvents"]
            accepted += counts["acceptedCount"]
            duplicates += counts["duplicateCount"]
        return accepted, duplicates

    try:
        async with httpx.AsyncClient() as client:
            results = await asyncio.gather(*[sender(client, ports[w % 2], w) for w in range(clients)])
    finally:
        for server in servers:
            _stop(server, gently=True)
    total = clients * rounds * per_batch + rounds
    assert sum(a for a, _ in results) == total
    assert sum(d for _, d in results) == (clients - 1) * rounds
    stored = await _stored(engine, tenant)
    assert [sequence for sequence, _ in stored] == list(range(1, total + 1)), "gap-free, strictly increasing"
    report = await verify_chain(engine, tenant)
    assert report.ok and report.checked_count == total
    verify = subprocess.run(
        [sys.executable, "-m", "app", "verify", "--tenant", tenant],
        env={**os.environ, "AUDIT_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
