"""No request monopolizes the process: deadlines, disconnects, and heavy responses that share the loop.

Counted, not timed: a small query completes while the heavy one is still running;
a request past its deadline or whose client left issues no further statement.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.graphql import events, pacing
from app.graphql.events import node_id, to_event
from app.server import create_app
from app.store.read import KEYS_PER_STATEMENT
from tests.helpers import RECORD, Api, Keys, StatementCounter, order_placed, uid

SIZE = 200
HEAVY = f"""{{ events(first: {SIZE}) {{ edges {{ node {{ ... on AuditEvent {{
  eventId correlated(first: {SIZE}) {{ ... on AuditEvent {{ eventId actor {{ id }} }} }}
}} }} }} }} }}"""
SMALL = "{ eventTypes { type } }"


async def _one_big_correlation(api: Api) -> None:
    corr = f"c_{uid()}"
    batch = [order_placed(corr=corr) for _ in range(SIZE + 1)]
    assert (await api.ok(RECORD, {"events": batch}))["recordEvents"]["acceptedCount"] == SIZE + 1


async def _when(condition: Any) -> None:
    while not condition():
        await asyncio.sleep(0)


@pytest.fixture
def settings(database_url: str) -> Settings:
    """The reference executor (it counts ``to_event`` to see the heavy answer being built) and a budget the heavy
    query fits in: these tests are about sharing the loop and the deadline, not the cost limit."""
    return Settings(database_url=database_url, compiled_reads=False, max_cost=10**9)


@pytest.mark.parametrize(
    "budget",
    [
        pacing.EVENTS_PER_TURN,
        pytest.param(
            10**9,
            marks=pytest.mark.xfail(
                reason="without pacing the heavy response holds the loop (shows the test can fail)", strict=True
            ),
        ),
    ],
)
async def test_a_small_query_and_healthz_answer_while_a_heavy_one_runs(
    api: Api, budget: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pacing, "EVENTS_PER_TURN", budget)
    monkeypatch.setattr(pacing.Pacer.__init__, "__defaults__", (budget,))
    await _one_big_correlation(api)
    built = 0

    def counting_to_event(record: Any) -> Any:
        nonlocal built
        built += 1
        return to_event(record)

    monkeypatch.setattr(events, "to_event", counting_to_event)
    heavy = asyncio.ensure_future(api.post(HEAVY, key="reader"))
    # Start the small requests once the heavy one has begun building its 40,000 correlated events: all its
    # I/O is done, what is left is CPU. Without pacing it builds them all in one loop turn and finishes first.
    await _when(lambda: built > 0 or heavy.done())
    small = await api.post(SMALL, key="reader")
    health = await api.client.get("/healthz")
    assert not heavy.done(), "the heavy query finished before the small one: it held the event loop"
    assert not small.get("errors") and health.text == "ok"
    body = await heavy
    assert len(body["data"]["events"]["edges"]) == SIZE
    assert all(len(e["node"]["correlated"]) == SIZE for e in body["data"]["events"]["edges"])


async def test_a_request_past_its_deadline_is_stopped_with_timeout(
    api: Api, engine: AsyncEngine, database_url: str, keys: Keys, statements: StatementCounter
) -> None:
    await _one_big_correlation(api)
    async with _client(
        Settings(database_url=database_url, request_timeout_ms=300, compiled_reads=False, max_cost=10**9), engine
    ) as client:
        api = Api(client, keys)
        statements.statements.clear()
        response = await client.post("/graphql", json={"query": HEAVY}, headers=_auth(keys.reader))
        assert response.status_code == 503
        (error,) = response.json()["errors"]
        assert error["extensions"]["code"] == "TIMEOUT" and "300 ms" in error["message"]
        after = statements.count
        await asyncio.sleep(0.3)
        assert statements.count == after, "work went on after the deadline"
        assert (await client.get("/healthz")).text == "ok"
        assert not (await api.post(SMALL, key="reader")).get("errors")


async def test_a_disconnected_clients_work_stops(
    engine: AsyncEngine, settings: Settings, keys: Keys, tenant: str, statements: StatementCounter
) -> None:
    """``nodes`` ×10 aliases of 500 ids runs 10 statements one after another; the client leaves after 2."""
    aliases = 10
    query = (
        "query("
        + ", ".join(f"$i{n}: [ID!]!" for n in range(aliases))
        + ") {"
        + " ".join(f"a{n}: nodes(ids: $i{n}) {{ id }}" for n in range(aliases))
        + "}"
    )
    ids = [node_id(tenant, s) for s in range(1, aliases * KEYS_PER_STATEMENT + 1)]
    variables = {f"i{n}": ids[n * KEYS_PER_STATEMENT : (n + 1) * KEYS_PER_STATEMENT] for n in range(aliases)}
    body = json.dumps({"query": query, "variables": variables}).encode()
    app = create_app(settings, engine=engine)
    leave = asyncio.Event()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if not sent and not leave.is_set() and not getattr(receive, "given", False):
            receive.given = True  # type: ignore[attr-defined]
            return {"type": "http.request", "body": body, "more_body": False}
        await leave.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {keys.reader}".encode()),
            (b"host", b"gateway"),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    statements.statements.clear()
    served = asyncio.ensure_future(app(scope, receive, send))
    await _when(lambda: statements.count >= 3 or served.done())  # the key lookup and two of ten chunks
    assert not served.done()
    leave.set()
    await served
    at_return = statements.count
    await asyncio.sleep(0.3)
    assert statements.count == at_return, "statements ran after the request had returned"
    # The statements in flight when the client left may still start; the rest of the ten chunks never do.
    assert at_return <= 6 < 1 + math.ceil(aliases * KEYS_PER_STATEMENT / KEYS_PER_STATEMENT)
    assert not any(m["type"] == "http.response.start" for m in sent), "nobody is left to answer"


@pytest.fixture
async def api(engine: AsyncEngine, settings: Settings, keys: Keys) -> AsyncIterator[Api]:
    async with _client(settings, engine) as client:
        yield Api(client, keys)


def _client(settings: Settings, engine: AsyncEngine) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(settings, engine=engine))
    return httpx.AsyncClient(transport=transport, base_url="http://gateway", timeout=120)


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
