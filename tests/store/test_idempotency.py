"""Ids across sources (#13.4): no squatting, no existence oracle, unambiguous causation; many tenants per batch."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.keys import create_key
from tests.helpers import RECORD, Api, order_placed, payment_captured

READ = """query($id: String!) { event(eventId: $id) { ... on AuditEvent { source
  causedBy { ... on AuditEvent { source eventId } } effects { ... on AuditEvent { eventId } } } } }"""


async def _record(api: Api, key: str, *events: dict) -> list[dict]:
    return (await api.ok(RECORD, {"events": list(events)}, key=key))["recordEvents"]["results"]


async def test_another_source_can_neither_squat_nor_probe_an_id(api: Api, engine: AsyncEngine, tenant: str) -> None:
    _, squatter = await create_key(engine, name="x", tenants=[tenant], scopes=["events:write"], sources=["x"])
    api.keys.squatter = squatter  # type: ignore[attr-defined]
    event_id = f"ord_next_{uuid.uuid4().hex[:6]}"
    (first,) = await _record(api, "squatter", order_placed(event_id, source="x"))
    assert first["__typename"] == "EventAccepted"
    real = order_placed(event_id)
    (stored,) = await _record(api, "writer", real)
    assert stored["__typename"] == "EventAccepted", "checkout's event is stored, not refused as a CONFLICT"
    (again,) = await _record(api, "writer", real)
    assert again["__typename"] == "EventDuplicate" and again["event"]["source"] == "checkout"
    # No oracle: an id checkout used is simply new to another source (never a duplicate or a conflict).
    secret = order_placed()
    await _record(api, "writer", secret)
    (probe,) = await _record(api, "squatter", {**secret, "source": "x", "actor": {"type": "USER", "id": "z"}})
    assert probe["__typename"] == "EventAccepted" and probe["event"]["source"] == "x"
    # A CONFLICT answers only about the caller's own source.
    (own,) = await _record(api, "squatter", {**secret, "source": "x"})
    assert own["__typename"] == "EventRejected" and own["errors"][0]["code"] == "CONFLICT"


async def test_causation_prefers_the_effect_source_else_the_earliest_holder(
    api: Api, engine: AsyncEngine, tenant: str
) -> None:
    _, squatter = await create_key(engine, name="x", tenants=[tenant], scopes=["events:write"], sources=["x"])
    api.keys.squatter = squatter  # type: ignore[attr-defined]
    order_id = f"ord_{uuid.uuid4().hex[:6]}"
    await _record(api, "writer", order_placed(order_id))
    await _record(api, "squatter", order_placed(order_id, source="x"))  # a later collision changes nothing
    payment = payment_captured(cause=order_id)
    await _record(api, "writer", payment)
    read = (await api.ok(READ, {"id": payment["eventId"]}))["event"]
    assert read["causedBy"] == {"source": "checkout", "eventId": order_id}
    assert (await api.ok(READ, {"id": order_id}))["event"] == {
        "source": "checkout",
        "causedBy": None,
        "effects": [{"eventId": payment["eventId"]}],
    }
    # The squatter's own event with that id has no effects: the payment resolves to checkout's order.
    own = order_placed(source="x", causationId=order_id)
    await _record(api, "squatter", own)
    read = (await api.ok(READ, {"id": own["eventId"]}))["event"]
    assert read["causedBy"] == {"source": "x", "eventId": order_id}, "an effect's own source comes first"


async def test_a_batch_spanning_a_thousand_tenants(api: Api, engine: AsyncEngine) -> None:
    tenants = [f"t{uuid.uuid4().hex[:10]}" for _ in range(1000)]
    _, key = await create_key(engine, name="wide", tenants=tenants, scopes=["events:write"], sources=["checkout"])
    api.keys.wide = key  # type: ignore[attr-defined]
    events = [order_placed(tenant=tenant) for tenant in tenants]
    payload = (await api.ok(RECORD, {"events": events}, key="wide"))["recordEvents"]
    assert payload["acceptedCount"] == 1000
    payload = (await api.ok(RECORD, {"events": events}, key="wide"))["recordEvents"]
    assert payload["duplicateCount"] == 1000
