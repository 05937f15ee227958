"""Tenancy (app/store/read.py): another tenant's key learns nothing, not even that an id exists."""

from __future__ import annotations

import json

import pytest

from tests.helpers import Api, Keys, graphql, healthy, order_placed, payment_captured, record, refund_issued, uid

# The api fixture answers an unhandled exception with the 500 a server sends, which these tests refuse.
pytestmark = pytest.mark.hostile


async def test_another_tenants_key_learns_nothing(api: Api, intruder: Keys, tenant: str) -> None:
    corr = f"c_{uid()}"
    order = order_placed(corr=corr)
    (accepted,) = await record(api, order)
    node_id = accepted["event"]["id"]
    them = Api(api.client, intruder)
    event_id = order["eventId"]
    reads = [
        ("{ events { totalCount nodes { __typename } } }", None, {"events": {"totalCount": 0, "nodes": []}}),
        ("query($v: String!) { event(eventId: $v) { __typename } }", event_id, {"event": None}),
        ("query($v: ID!) { node(id: $v) { id } }", node_id, {"node": None}),
        ("query($v: ID!) { nodes(ids: [$v]) { id } }", node_id, {"nodes": [None]}),
        ("query($v: String!) { correlation(id: $v) { eventCount } }", corr, {"correlation": None}),
        (
            "query($v: String!) { events(filter: {correlationId: $v}) { totalCount } }",
            corr,
            {"events": {"totalCount": 0}},
        ),
        (
            "query($v: String!) { events(search: $v) { totalCount } }",
            f"correlation:{corr}",
            {"events": {"totalCount": 0}},
        ),
    ]
    for query, value, wanted in reads:
        body = await graphql(them, query, {"v": value} if value else None, key="reader")
        assert body == {"data": wanted}, (query, body)
        assert event_id not in json.dumps(body) and tenant not in json.dumps(body)
    report = await graphql(them, "{ verifyIntegrity { tenant checkedCount } }", key="reader")
    assert report["data"]["verifyIntegrity"]["checkedCount"] == 0
    assert report["data"]["verifyIntegrity"]["tenant"] != tenant
    await healthy(api)


async def test_another_tenant_reuses_ids_without_learning_they_exist(api: Api, intruder: Keys) -> None:
    corr = f"c_{uid()}"
    order = order_placed(corr=corr)
    payment = payment_captured(corr=corr, cause=order["eventId"])
    await record(api, order, payment, refund_issued(corr=corr, cause=payment["eventId"]))
    them = Api(api.client, intruder)
    # Our payment's eventId, cause and correlation: new to them (neither duplicate nor conflict), linked to nothing.
    theirs = payment_captured(event_id=payment["eventId"], corr=corr, cause=order["eventId"])
    (result,) = await record(them, theirs)
    assert result["__typename"] == "EventAccepted", result
    body = await graphql(
        them,
        """query($id: String!) { event(eventId: $id) { ... on AuditEvent {
        causedBy { __typename } correlated { __typename } effects { __typename } } } }""",
        {"id": payment["eventId"]},
        key="reader",
    )
    assert body == {"data": {"event": {"causedBy": None, "correlated": [], "effects": []}}}, body
