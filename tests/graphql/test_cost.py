"""The cost limit: computed before execution, the same for both executors, refusing the attacks of issue #13."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from graphql import parse
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.graphql.cost import operation_cost
from app.server import create_app
from tests.helpers import RECORD, Api, Keys, order_placed, payment_captured

ENVELOPE = "... on AuditEvent { eventId type occurredAt }"


def nested(levels: int, first: int = 500) -> str:
    body = ENVELOPE
    for _ in range(levels):
        body = f"... on AuditEvent {{ eventId correlated(first: {first}) {{ {body} }} }}"
    return f"{{ events(first: 20) {{ nodes {{ {body} }} }} }}"


NODES = (
    "query($g: [ID!]!) { "
    + " ".join(
        f"n{i}: nodes(ids: $g) {{ ... on AuditEvent {{ eventId effects(first: 50) {{ __typename }} }} }}"
        for i in range(10)
    )
    + " }"
)


def cost(document: str, variables: dict | None = None, settings: Settings | None = None) -> int:
    return operation_cost(parse(document), None, variables, settings or Settings())


def test_costs_multiply_page_sizes_along_nested_lists() -> None:
    assert cost("{ events(first: 100) { totalCount } }") == 100
    assert cost("{ events { totalCount } }") == Settings().default_page_size
    assert cost("{ events(last: 7) { nodes { __typename } } }") == 7
    assert cost("{ events(first: 100) { nodes { ... on AuditEvent { effects(first: 50) { __typename } } } } }") == (
        100 + 100 * 50
    )
    assert (
        cost(
            "{ events(first: 10) { edges { node { ... on AuditEvent { causedBy { __typename } "
            "correlated { __typename } } } } } }"
        )
        == 10 + 10 + 10 * 50
    )
    assert cost("query($n: Int) { events(first: $n) { totalCount } }", {"n": 30}) == 30
    assert cost("query($n: Int = 12) { events(first: $n) { totalCount } }") == 12
    assert cost('{ nodes(ids: ["a", "b", "c"]) { id } }') == 3
    assert cost("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ["a"] * 40}) == 40
    assert cost("{ verifyIntegrity(fromSequence: 10, toSequence: 19) { ok } }") == 10
    assert cost("{ verifyIntegrity { ok } }") == Settings().max_verify_range
    assert cost("{ a: events(first: 5) { totalCount } b: events(first: 5) @skip(if: true) { totalCount } }") == 5
    assert (
        cost(
            "fragment F on AuditEvent { effects(first: 3) { __typename } } "
            '{ event(eventId: "x") { ...F ... on OrderPlaced { ...F } } }'
        )
        == 1 + 3 + 3
    )
    # Sizes over the page-size maximum count as the maximum: the field refuses them with its own message.
    assert cost("{ events(first: 1000000000) { totalCount } }") == Settings().max_page_size


def test_the_default_budget_allows_big_pages_and_refuses_deep_fan_out() -> None:
    budget = Settings().max_cost
    fine = (
        "{ events(first: 500) { nodes { ... on AuditEvent { eventId causedBy { __typename } "
        "effects(first: 50) { __typename } } } } }"
    )
    assert cost(fine) <= budget
    assert cost(nested(1)) <= budget  # 20 + 20 × 500
    assert cost(nested(3)) > budget
    assert cost(NODES, {"g": ["x"] * 500}) > budget


@pytest.fixture
async def reference(engine: AsyncEngine, settings: Settings, keys: Keys) -> AsyncIterator[Api]:
    app = create_app(settings.model_copy(update={"compiled_reads": False}), engine=engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        yield Api(client, keys)


@pytest.mark.parametrize("attack", ["correlated-6-levels", "nodes-10x500"])
async def test_the_attacks_are_refused_before_running_by_both_executors(
    api: Api, reference: Api, settings: Settings, attack: str
) -> None:
    corr = "c_cost"
    order = order_placed(corr=corr)
    await api.ok(RECORD, {"events": [order, payment_captured(corr=corr, cause=order["eventId"])]})
    page = await api.ok("{ events(first: 2) { nodes { ... on Node { id } } } }", key="reader")
    ids = [node["id"] for node in page["events"]["nodes"]] * 250
    document, variables = (nested(6), {}) if attack == "correlated-6-levels" else (NODES, {"g": ids})
    for client in (api, reference):
        response = await client.client.post(
            "/graphql",
            json={"query": document, "variables": variables},
            headers={"Authorization": f"Bearer {client.keys.reader}"},
        )
        body = response.json()
        (error,) = body["errors"]
        assert body["data"] is None and error["extensions"]["code"] == "LIMIT_EXCEEDED", body
        assert f"budget of {settings.max_cost}" in error["message"]
        assert str(cost(document, variables)) in error["message"]
        assert response.headers["x-audit-executor"] == "reference"


async def test_within_the_budget_both_executors_answer(api: Api, reference: Api) -> None:
    order = order_placed(corr="c_ok")
    await api.ok(RECORD, {"events": [order, payment_captured(corr="c_ok", cause=order["eventId"])]})
    document = (
        "{ events(first: 500) { nodes { ... on AuditEvent { eventId causedBy { __typename } "
        "effects(first: 50) { __typename } } } } }"
    )
    compiled = await api.ok(document, key="reader")
    assert compiled == await reference.ok(document, key="reader")
    assert compiled["events"]["nodes"]


async def test_a_smaller_budget_is_honoured(engine: AsyncEngine, settings: Settings, keys: Keys) -> None:
    app = create_app(settings.model_copy(update={"max_cost": 10}), engine=engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        api = Api(client, keys)
        assert await api.ok("{ events(first: 10) { totalCount } }", key="reader")
        (error,) = await api.errors("{ events(first: 11) { totalCount } }", key="reader")
        assert error["extensions"]["code"] == "LIMIT_EXCEEDED"
        assert error["message"].startswith("the operation costs 11, over the budget of 10")
