"""The direct lane for compiled reads answers exactly as Strawberry's view does: status, headers, body.

Two apps over one seeded database (the world of tests/graphql/test_compiled_differential.py and its corpus):
one as it ships, one with the lane and the ``/graphql`` shortcut (app.server.Gateway) switched off, so every
request goes through Starlette's whole stack and Strawberry's view as before.
Every response must be the same bytes — status, the header list in order, the body once a masked error's
random id is normalised — and both apps' executor counters must move alike (nothing is counted twice).
Besides the read corpus: bodies and requests the lane hands over or never takes (bad JSON, wrong field types,
batches, mutations, GET, other methods and media types, failed authentication, a database that fails).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
from graphql import OperationDefinitionNode, parse
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.server import create_app
from tests.graphql.test_compiled_differential import (
    GENERATED,
    Generator,
    World,
    _normalised,
    found_documents,
    world,  # noqa: F401  (the seeded world is that module's fixture)
)


@dataclass
class Lanes:
    world: World
    lane: httpx.AsyncClient
    view: httpx.AsyncClient
    lane_app: Any
    view_app: Any

    async def both(self, method: str = "POST", url: str = "/graphql", **request: Any) -> httpx.Response:
        """The same request to both apps; asserts the same response and the same counts; the lane's response."""
        before = [_counts(app) for app in (self.lane_app, self.view_app)]
        lane = await self.lane.request(method, url, **request)
        view = await self.view.request(method, url, **request)
        after = [_counts(app) for app in (self.lane_app, self.view_app)]
        where = f"{method} {url} {request}"[:3000]
        assert lane.status_code == view.status_code, where
        assert lane.headers.raw == view.headers.raw, where
        assert _normalised(lane) == _normalised(view), f"{where}\nlane: {lane.text[:2000]}\nview: {view.text[:2000]}"
        assert after[0] - before[0] == after[1] - before[1], where
        return lane

    async def post(self, body: dict[str, Any], key: str | None = "reader") -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.world.keys.get(key, key)}"} if key else {}
        return await self.both(content=orjson.dumps(body), headers={**headers, "Content-Type": "application/json"})


def _counts(app: Any) -> Counter[str]:
    compiled = app.state.compiled
    return Counter({**{f"served {k}": v for k, v in compiled.served.items()}, **compiled.reasons})


@pytest.fixture
async def lanes(world: World, engine: AsyncEngine, settings: Settings) -> AsyncIterator[Lanes]:  # noqa: F811
    lane_app = create_app(settings, engine=engine)
    view_app = create_app(settings, engine=engine)
    view_app.state.graphql.direct_lane = False
    view_app.graphql_shortcut = False
    assert lane_app.state.graphql.direct_lane and lane_app.graphql_shortcut
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=lane_app), base_url="http://gateway") as lane,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=view_app), base_url="http://gateway") as view,
    ):
        yield Lanes(world, lane, view, lane_app, view_app)
    assert lane_app.shortcut_requests > 0 and view_app.shortcut_requests == 0


async def test_found_documents(lanes: Lanes) -> None:
    rng = random.Random(9)
    for _, document in found_documents():
        operations = [
            d.name.value if d.name else None
            for d in parse(document).definitions
            if isinstance(d, OperationDefinitionNode)
        ]
        for operation_name in operations if len(operations) > 1 else [None]:
            for key in ("reader", "writer", None):
                body: dict[str, Any] = {"query": document, "variables": lanes.world.variables_for(document, rng)}
                if operation_name:
                    body["operationName"] = operation_name
                await lanes.post(body, key)
    assert lanes.lane_app.state.graphql.lane["direct"] >= 40, lanes.lane_app.state.graphql.lane
    assert not lanes.view_app.state.graphql.lane


async def test_generated_documents(lanes: Lanes) -> None:
    rng = random.Random(20261126)
    generator = Generator(rng, lanes.world)
    executors: Counter[str] = Counter()
    for _ in range(GENERATED):
        document, variables, _ = generator.document()
        key = rng.choices(["reader", "writer", "bogus", None], weights=[92, 3, 3, 2])[0]
        response = await lanes.post({"query": document, "variables": variables}, key)
        executors[response.headers["x-audit-executor"]] += 1
    assert executors["compiled"] >= GENERATED * 0.75, executors
    assert lanes.lane_app.state.graphql.lane["direct"] == executors["compiled"]


RECORD = (
    "mutation Record($events: [RecordEventInput!]!) { recordEvents(events: $events) "
    "{ acceptedCount duplicateCount rejectedCount } }"
)
PAGE = "{ events(first: 2) { edges { cursor node { ... on AuditEvent { eventId } } } } }"


async def test_bodies_the_lane_hands_over_or_never_takes(lanes: Lanes) -> None:
    reader = {"Authorization": f"Bearer {lanes.world.keys['reader']}"}
    json_type = {**reader, "Content-Type": "application/json"}
    bodies = [
        b"",
        b"{",
        b"[]",
        b"null",
        b'"{ __typename }"',
        b"[" + orjson.dumps({"query": PAGE}) + b"]",
        b"{}",
        b'{"query": null}',
        b'{"query": 5}',
        b'{"query": ["{ __typename }"]}',
        b'{"query": "' + PAGE.encode() + b'", "variables": []}',
        b'{"query": "' + PAGE.encode() + b'", "variables": "x"}',
        b'{"query": "' + PAGE.encode() + b'", "variables": null}',
        b'{"query": "' + PAGE.encode() + b'", "extensions": 1}',
        b'{"query": "' + PAGE.encode() + b'", "extensions": {"persistedQuery": {}}}',
        b'{"query": "' + PAGE.encode() + b'", "operationName": 7}',
        b'{"query": "' + PAGE.encode() + b'", "operationName": "Nope"}',
        b'{"query": "' + PAGE.encode() + b'", "query": "{ __typename }"}',
        b'{"query": "' + PAGE.encode() + b'", "variables": {"n": NaN}}',
        b'{"query": "' + PAGE.encode() + b'", "variables": {"n": 123456789012345678901234567890}}',
        b'{"query": "' + PAGE.encode() + b'", "variables": {"s": "\\ud800"}}',
        b'{"query": "' + PAGE.encode() + b'", "variables": ' + b"[" * 2000 + b"]" * 2000 + b"}",
        b"\xef\xbb\xbf" + orjson.dumps({"query": PAGE}),
        b'{"query": "{ __typename }"}',
        b'{"query": "{ eventTypes { type } }"}',
        b'{"query": "{ __schema { queryType { name } } }"}',
        b'{"query": "{ events(first: 2) { nope } }"}',
        b'{"query": "{ events(first: 2, after: \\"garbage\\") { totalCount } }"}',
        b'{"query": "query A { events(first: 1) { totalCount } } query B { __typename }"}',
        b'{"query": "subscription { x }"}',
        orjson.dumps({"query": RECORD, "variables": {"events": []}}),
        orjson.dumps({"query": "mutation { recordEvents(events: []) { acceptedCount } }"}),
    ]
    for body in bodies:
        await lanes.both(content=body, headers=json_type)
    for headers in (
        {**reader, "Content-Type": "text/plain"},
        {**reader, "Content-Type": "application/json; charset=utf-8"},
        {**reader, "Content-Type": "APPLICATION/JSON"},
        {**reader, "Content-Type": "application/json", "Accept": "multipart/mixed"},
        {**reader, "Content-Type": "application/json", "Accept": "text/event-stream"},
        {"Authorization": "Basic abc", "Content-Type": "application/json"},
        {"Authorization": "Bearer", "Content-Type": "application/json"},
        {"Authorization": "bearer  " + lanes.world.keys["reader"] + " ", "Content-Type": "application/json"},
        {"Content-Type": "application/json"},
    ):
        await lanes.both(content=orjson.dumps({"query": PAGE}), headers=headers)
    await lanes.both("GET", "/graphql", headers={"Accept": "text/html"})
    await lanes.both("GET", "/graphql?query=%7B__typename%7D", headers=reader)
    await lanes.both("PUT", "/graphql", content=orjson.dumps({"query": PAGE}), headers=json_type)
    await lanes.both("DELETE", "/graphql", headers=reader)
    await lanes.both("HEAD", "/graphql", headers=reader)
    await lanes.both("OPTIONS", "/graphql", headers=reader)
    # Around the /graphql shortcut (app.server.Gateway): the paths beside it, and a body over the limit.
    await lanes.both("POST", "/graphql/", content=orjson.dumps({"query": PAGE}), headers=json_type)
    await lanes.both("POST", "/graphql?x=1", content=orjson.dumps({"query": PAGE}), headers=json_type)
    await lanes.both("POST", "/GRAPHQL", content=orjson.dumps({"query": PAGE}), headers=json_type)
    await lanes.both("GET", "/graphql/possible-types.json")
    await lanes.both("GET", "/healthz")
    too_large = orjson.dumps({"query": PAGE, "pad": "x" * lanes.lane_app.state.graphql.settings.max_body_bytes})
    await lanes.both("POST", "/graphql", content=too_large, headers=json_type)


async def test_a_writer_records_through_either(lanes: Lanes) -> None:
    """recordEvents is handed over with its parsed body: the same answer (fresh events on each side)."""
    writer = {"Authorization": f"Bearer {lanes.world.keys['writer']}", "Content-Type": "application/json"}
    for number in range(3):
        answers = []
        for client, side in ((lanes.lane, "lane"), (lanes.view, "view")):
            event = {
                "eventId": f"lane-{side}-{number}",
                "source": "checkout",
                "occurredAt": "2025-01-01T00:00:00Z",
                "actor": {"type": "USER", "id": "u_1"},
                "data": {
                    "orderPlaced": {
                        "orderId": "o",
                        "total": {"amountMinor": "100", "currency": "EUR"},
                        "itemCount": 1,
                        "channel": "WEB",
                    }
                },
            }
            body = orjson.dumps({"query": RECORD, "variables": {"events": [event]}})
            answers.append(await client.post("/graphql", content=body, headers=writer))
        lane, view = answers
        assert (lane.status_code, lane.headers.raw, lane.content) == (view.status_code, view.headers.raw, view.content)
        assert b'"acceptedCount":1' in lane.content
    assert lanes.lane_app.state.graphql.lane["handover"] == 3


async def test_authentication_that_fails_in_the_database(lanes: Lanes, monkeypatch: pytest.MonkeyPatch) -> None:
    """The caller cannot be checked: every field needing them reports it, masked, on both paths."""

    async def failing(secret: str) -> None:
        raise OSError("the database went away")

    for app in (lanes.lane_app, lanes.view_app):
        monkeypatch.setattr(app.state.graphql.keys, "authenticate", failing)
    response = await lanes.post({"query": PAGE})
    assert response.headers["x-audit-executor"] == "reference" and b"INTERNAL" in response.content
    await lanes.post({"query": "{ __typename }"})


async def test_a_compiled_read_is_answered_by_the_lane(lanes: Lanes) -> None:
    response = await lanes.post({"query": PAGE})
    assert response.headers["x-audit-executor"] == "compiled"
    assert lanes.lane_app.state.graphql.lane == Counter({"direct": 1})
    assert [name for name, _ in response.headers.raw] == [b"content-length", b"content-type", b"x-audit-executor"]
