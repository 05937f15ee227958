"""The read side through GraphQL: paging, search, causation and correlation, upcasting, tenancy."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.store.append import append
from tests.helpers import (
    RECORD,
    Api,
    StatementCounter,
    now,
    order_placed,
    payment_captured,
    refund_issued,
    stored_event,
    uid,
)

PAGE = """
query($first: Int, $after: String, $last: Int, $before: String, $filter: AuditEventFilter, $search: String,
      $orderBy: AuditEventOrder) {
  events(first: $first, after: $after, last: $last, before: $before, filter: $filter, search: $search,
         orderBy: $orderBy) {
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { ... on AuditEvent { eventId sequence occurredAt } } }
  }
}
"""


async def _flows(api: Api, count: int) -> list[tuple[str, list[str]]]:
    """``count`` order → payment → refund flows, each under its own correlation id."""
    flows, events = [], []
    for _ in range(count):
        corr = f"c_{uid()}"
        order = order_placed(corr=corr)
        payment = payment_captured(corr=corr, cause=order["eventId"])
        refund = refund_issued(corr=corr, cause=payment["eventId"])
        flows.append((corr, [order["eventId"], payment["eventId"], refund["eventId"]]))
        events += [order, payment, refund]
    assert (await api.ok(RECORD, {"events": events}))["recordEvents"]["acceptedCount"] == len(events)
    return flows


async def test_paging_both_ways_by_either_order(api: Api) -> None:
    await _flows(api, 7)
    for order_by in ({"field": "SEQUENCE", "direction": "DESC"}, {"field": "OCCURRED_AT", "direction": "ASC"}):
        forward, after = [], None
        while True:
            page = (await api.ok(PAGE, {"first": 4, "after": after, "orderBy": order_by}, key="reader"))["events"]
            forward += [edge["node"]["eventId"] for edge in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        backward, before = [], None
        while True:
            page = (await api.ok(PAGE, {"last": 4, "before": before, "orderBy": order_by}, key="reader"))["events"]
            backward = [edge["node"]["eventId"] for edge in page["edges"]] + backward
            if not page["pageInfo"]["hasPreviousPage"]:
                break
            before = page["pageInfo"]["startCursor"]
        assert len(forward) == 21 and len(set(forward)) == 21
        assert backward == forward


async def test_search_and_filter_agree_and_errors_name_the_token(api: Api) -> None:
    ((corr, ids),) = await _flows(api, 1)

    async def ids_of(**variables: object) -> list[str]:
        page = (await api.ok(PAGE, {"first": 50, **variables}, key="reader"))["events"]
        return [edge["node"]["eventId"] for edge in page["edges"]]

    assert await ids_of(search=f"correlation:{corr} type:refund.* type:order.*") == [ids[2], ids[0]]
    assert await ids_of(search=f"correlation:{corr} actor.type:service") == [ids[1]]
    assert await ids_of(search=f"correlation:{corr} target:order/o_{ids[0]}") == [ids[0]]
    assert await ids_of(search=f"correlation:{corr} occurred:>={now(-3600)[:10]}") == ids[::-1]
    assert await ids_of(search=f"correlation:{corr}", filter={"sources": ["checkout"]}) == [ids[0]]
    assert await ids_of(search=f"correlation:{corr} occurred:<2000-01-01") == []
    for bad, named in (
        ("colour:blue", "colour"),
        ("outcome:maybe", "maybe"),
        ("occurred:>=yesterday", "yesterday"),
        ("justaword", "justaword"),
    ):
        errors = await api.errors(PAGE, {"first": 5, "search": bad}, key="reader")
        assert named in errors[0]["message"] and errors[0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_page_size_and_cursor_errors(api: Api) -> None:
    await _flows(api, 1)
    too_many = await api.errors(PAGE, {"first": 501}, key="reader")
    assert "500" in too_many[0]["message"] and too_many[0]["extensions"]["code"] == "LIMIT_EXCEEDED"
    assert (await api.errors(PAGE, {"last": -1}, key="reader"))[0]["extensions"]["code"] == "BAD_USER_INPUT"
    cursor = (await api.ok(PAGE, {"first": 1}, key="reader"))["events"]["pageInfo"]["endCursor"]
    for variables in (
        {"after": "garbage"},
        {"after": cursor, "search": "type:order.*"},
        {"before": cursor, "orderBy": {"field": "OCCURRED_AT", "direction": "DESC"}},
    ):
        errors = await api.errors(PAGE, {"first": 2, **variables}, key="reader")
        assert errors[0]["extensions"]["code"] == "INVALID_CURSOR"


NESTED = """
query($first: Int!) {
  events(first: $first, orderBy: {field: SEQUENCE, direction: ASC}) {
    edges { node { ... on AuditEvent {
      eventId
      causedBy { ... on AuditEvent { eventId causedBy { ... on AuditEvent { eventId } } } }
      effects { ... on AuditEvent { eventId causedBy { ... on AuditEvent { eventId } } } }
      correlated { ... on AuditEvent { eventId causedBy { ... on AuditEvent { eventId } } } }
    } } }
  }
}
"""

# 1 page with its events' causes (app.graphql.lookahead: the page's causedBy needs no statement of its own)
# + effects, correlated (one each) + causedBy one level down (one). The API key is looked up once, then trusted for
# AUDIT_KEY_CACHE_SECONDS (app/auth/cache.py), so the count below starts after a first call.
STATEMENTS_PER_NESTED_PAGE = 4


async def test_a_page_costs_the_same_few_statements_whatever_its_size(api: Api, statements: StatementCounter) -> None:
    flows = await _flows(api, 40)  # 120 events
    await api.ok("{ __typename }", key="reader")
    counts = {}
    for size in (10, 100):
        statements.statements.clear()
        edges = (await api.ok(NESTED, {"first": size}, key="reader"))["events"]["edges"]
        counts[size] = statements.count
        assert len(edges) == size
    assert counts == {10: STATEMENTS_PER_NESTED_PAGE, 100: STATEMENTS_PER_NESTED_PAGE}, statements.statements

    order_id, payment_id, refund_id = flows[0][1]
    payment = next(e["node"] for e in edges if e["node"]["eventId"] == payment_id)
    assert payment["causedBy"]["eventId"] == order_id
    assert [e["eventId"] for e in payment["effects"]] == [refund_id]
    assert payment["effects"][0]["causedBy"]["eventId"] == payment_id
    assert {e["eventId"] for e in payment["correlated"]} == {order_id, refund_id}


async def test_v1_events_are_served_upcast_and_hashed_as_recorded(api: Api, engine: AsyncEngine, tenant: str) -> None:
    v1 = stored_event(
        tenant=tenant,
        event_id="legacy-1",
        type="order.placed",
        schema_version=1,
        occurred_at=dt.datetime(2025, 1, 2, 3, 4, 5, 600000, tzinfo=dt.UTC),
        actor_id="u_1",
        data={"orderId": "o_1", "total": {"amountMinor": 250, "currency": "EUR"}, "itemCount": 1},
    )
    await append(engine, [v1])
    query = """{ event(eventId: "legacy-1") { ... on OrderPlaced { schemaVersion
                 data { orderId channel total { amountMinor } } integrity { canonical } } } }"""
    got = (await api.ok(query, key="reader"))["event"]
    assert got["schemaVersion"] == 2
    assert got["data"] == {"orderId": "o_1", "channel": "WEB", "total": {"amountMinor": "250"}}
    assert '"schemaVersion":1' in got["integrity"]["canonical"] and "channel" not in got["integrity"]["canonical"]
    assert (await api.ok("{ verifyIntegrity { ok } }", key="reader"))["verifyIntegrity"]["ok"]


@pytest.mark.parametrize("field", ["event", "node", "correlation"])
async def test_another_tenants_events_are_invisible(api: Api, engine: AsyncEngine, field: str) -> None:
    from app.auth.keys import create_key

    ((corr, ids),) = await _flows(api, 1)
    node_id = await api.ok(f'{{ event(eventId: "{ids[0]}") {{ ... on AuditEvent {{ id }} }} }}', key="reader")
    _, stranger = await create_key(engine, name="s", tenants=[f"t{uid()}"], scopes=["events:read"], sources=[])
    api.keys.stranger = stranger  # type: ignore[attr-defined]
    queries = {
        "event": f'{{ x: event(eventId: "{ids[0]}") {{ __typename }} }}',
        "node": f'{{ x: node(id: "{node_id["event"]["id"]}") {{ id }} }}',
        "correlation": f'{{ x: correlation(id: "{corr}") {{ id }} }}',
    }
    assert (await api.ok(queries[field], key="stranger"))["x"] is None
    page = (await api.ok(PAGE, {"first": 50, "filter": {"correlationId": corr}}, key="stranger"))["events"]
    assert page["edges"] == []
