"""The Python client against a real ``audit-gateway serve``: batching, flush on close, overflow, refusals, and a
server that is SIGKILLed and restarted mid-stream (nothing lost, nothing doubled)."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from app.client import AsyncAuditClient, AuditClient, Backoff, DeliveryFailed, QueueFull, Refused, build_event
from app.contracts.commerce import OrderPlacedData, SalesChannel
from app.contracts.envelope import Actor, ActorType, Target
from app.contracts.identity import SignInMethod, UserSignedInData
from app.contracts.values import BigInt, Money
from tests.helpers import SOURCES, uid
from tests.http.live import Gateway, free_port, make_key, running

FAST = Backoff(base=0.02, cap=0.3)
ACTOR = Actor(type=ActorType.SERVICE, id="checkout-worker")


def order(index: int) -> OrderPlacedData:
    return OrderPlacedData(
        order_id=f"o_{index}",
        total=Money(amount_minor=BigInt(index), currency="EUR"),
        item_count=1,
        channel=SalesChannel.WEB,
    )


def stored_ids(sqlite_url: str, tenant: str) -> dict[str, int]:
    path = sqlite_url.removeprefix("sqlite+aiosqlite:///")
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT event_id, COUNT(*) FROM events WHERE tenant = ? GROUP BY event_id", (tenant,))
        return dict(rows.fetchall())


def test_kill_and_restart_mid_stream_loses_and_doubles_nothing(sqlite_url: str, tmp_path: Path) -> None:
    total, batch = 20_000, 400
    tenant = f"t{uid()}"
    key = make_key(sqlite_url, tenant, ["events:write"], SOURCES)
    gateway = Gateway(sqlite_url, tmp_path / "gateway.log")
    gateway.start()
    kills: list[int] = []
    client = AuditClient(
        gateway.origin,
        key,
        batch_size=batch,
        flush_interval=0.1,
        max_queue=4 * batch,
        enqueue_timeout=60,
        max_retry_time=60,
        backoff=FAST,
        timeout=10,
    )

    def killer() -> None:
        """SIGKILL the server twice while batches are being sent, and bring it back on the same port."""
        for threshold in (total // 4, total // 2):
            while client.stats.accepted < threshold:
                time.sleep(0.01)
            gateway.kill()
            kills.append(client.stats.accepted)
            time.sleep(0.5)  # sends meanwhile fail and back off
            gateway.start()

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        sent = [
            client.record(order(index), source="checkout", actor=ACTOR, event_id=f"ev_{index}")
            for index in range(total)
        ]
        client.close(timeout=60)
        thread.join(30)
    finally:
        gateway.stop()
    stats = client.stats
    print(
        f"killed after {kills} accepted; accepted {stats.accepted}, duplicate {stats.duplicate}, "
        f"retries {stats.retries}"
    )
    assert len(kills) == 2 and not thread.is_alive()
    assert client.stats.retries > 0, "the kills should have interrupted some sends"
    assert (client.stats.failed, client.stats.rejected) == (0, 0)
    assert client.stats.accepted + client.stats.duplicate == total
    stored = stored_ids(sqlite_url, tenant)
    assert set(stored) == set(sent), f"lost {len(set(sent) - set(stored))}, extra {len(set(stored) - set(sent))}"
    assert set(stored.values()) == {1}, "an event was stored twice"
    verify = subprocess.run(
        [sys.executable, "-m", "app", "verify", "--tenant", tenant],
        env={"AUDIT_DATABASE_URL": sqlite_url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_async_client_batches_and_flushes_on_exit(sqlite_url: str, tmp_path: Path) -> None:
    tenant = f"t{uid()}"
    key = make_key(sqlite_url, tenant, ["events:write"], SOURCES)

    async def main(origin: str) -> tuple[list[str], AsyncAuditClient]:
        answers: list[int] = []
        async with AsyncAuditClient(
            origin,
            key,
            batch_size=50,
            flush_interval=30,
            backoff=FAST,
            on_answer=lambda answer: answers.append(len(answer["results"])),
        ) as client:
            ids = [
                await client.record(order(i), source="checkout", actor=ACTOR, target=Target(type="order", id="o"))
                for i in range(120)
            ]
            ids.append(
                await client.record(
                    UserSignedInData(method=SignInMethod.SSO, mfa=True),
                    source="identity",
                    actor=Actor(type=ActorType.USER, id="u_1"),
                )
            )
            bad = build_event(order(0), source="checkout", actor=ACTOR)
            bad["data"]["itemCount"] = -1  # passes the queue, rejected by the gateway: counted, not retried
            await client.enqueue(bad)
        assert answers == [50, 50, 22], "two full batches, then the rest when the block ends (not after 30 s)"
        return ids, client

    with running(sqlite_url, tmp_path / "gateway.log") as gateway:
        ids, client = asyncio.run(main(gateway.origin))
    assert (client.stats.accepted, client.stats.rejected, client.stats.failed) == (121, 1, 0)
    assert client.stats.rejections[0]["errors"][0]["path"] == "data.itemCount"
    assert set(stored_ids(sqlite_url, tenant)) == set(ids)


def test_a_full_queue_blocks_then_raises(tmp_path: Path) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"  # nothing listens: every send fails and is retried
    client = AuditClient(
        nobody,
        "agw_x",
        batch_size=2,
        max_queue=4,
        enqueue_timeout=0.3,
        flush_interval=0.01,
        backoff=FAST,
        max_retry_time=1.0,
    )
    event = build_event(order(1), source="checkout", actor=ACTOR)
    for _ in range(4 + 2):  # the queue, plus the batch the sender holds while retrying
        client.enqueue(event)
    started = time.monotonic()
    with pytest.raises(QueueFull):
        client.enqueue(event)
    assert time.monotonic() - started >= 0.3
    with pytest.raises(DeliveryFailed):
        client.close(timeout=30)
    assert client.stats.failed == 6


def test_a_refused_batch_is_reported_not_retried(sqlite_url: str, tmp_path: Path) -> None:
    errors: list[Exception] = []
    with running(sqlite_url, tmp_path / "gateway.log") as gateway:
        client = AuditClient(
            gateway.origin, "agw_not_a_key", backoff=FAST, on_error=lambda error, batch: errors.append(error)
        )
        client.record(order(1), source="checkout", actor=ACTOR)
        with pytest.raises(DeliveryFailed):
            client.close()
        with pytest.raises(Refused) as refused:
            AuditClient(gateway.origin, "agw_not_a_key").send([build_event(order(1), source="checkout", actor=ACTOR)])
    assert refused.value.status == 401
    assert isinstance(errors[0], Refused) and client.stats.retries == 0


def test_backoff_grows_exponentially_with_full_jitter() -> None:
    random.seed(7)
    backoff = Backoff(base=0.1, cap=2.0)
    for attempt in range(12):
        delays = [backoff.delay(attempt) for _ in range(200)]
        ceiling = min(2.0, 0.1 * 2**attempt)
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8 and min(delays) < ceiling * 0.2  # spread over the whole range
    assert backoff.delay(0, retry_after=3.0) == 3.0
