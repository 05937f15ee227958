"""Hostile strings in every recordEvents input: rejected per input with the value rule's code, or stored exactly
(app/contracts/values.py and the envelope's formats)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import (
    CONTROL,
    HOSTILE,
    RECORD_READ_BACK,
    SQLITE_ONLY,
    Api,
    codes_of,
    graphql,
    healthy,
    order_placed,
    record,
    uid,
)

# The api fixture answers an unhandled exception with the 500 a server sends, which these tests refuse.
pytestmark = pytest.mark.hostile


# Every string input of recordEvents, with the rule it follows and (for a fixed format) its code.
STRING_INPUTS = {
    "eventId": ("id", None),
    "source": ("format", "INVALID_NAME"),
    "tenant": ("format", "INVALID_NAME"),
    "actor.id": ("id", None),
    "actor.displayName": ("text", None),
    "actor.ip": ("format", "INVALID_IP"),
    "actor.userAgent": ("text", None),
    "target.type": ("id", None),
    "target.id": ("id", None),
    "target.displayName": ("text", None),
    "correlationId": ("id", None),
    "causationId": ("id", None),
    "traceparent": ("format", "INVALID_TRACEPARENT"),
    "data.orderPlaced.orderId": ("id", None),
    "data.orderPlaced.total.currency": ("format", "INVALID_CURRENCY"),
}


def expected_codes(rule: str, format_code: str | None, name: str) -> set[str] | None:
    """The codes an input may be rejected with, or None when the value is valid there."""
    if rule == "format":
        return {format_code, "INVALID_UNICODE", "TOO_LONG"}
    if name in CONTROL:
        return {"CONTROL_CHARACTER"}
    if name == "rtl-override" and rule == "id":
        return {"INVALID_ID"}  # an id that renders reversed; free text may carry it
    return {"lone-surrogate": {"INVALID_UNICODE"}, "10k": {"TOO_LONG"}}.get(name)


def _set(event: dict[str, Any], dotted: str, value: str) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        event = event[part]
    event[last] = value


def _get(event: dict[str, Any], dotted: str) -> Any:
    # Inputs and outputs share names, except that data's member name is not part of the output.
    for part in dotted.replace("data.orderPlaced.", "data.").split("."):
        event = event[part]
    return event


@pytest.mark.parametrize("field", STRING_INPUTS)
async def test_hostile_strings_in_every_record_input_are_rejected_per_input_or_kept_exactly(
    api: Api, tenant: str, field: str
) -> None:
    rule, format_code = STRING_INPUTS[field]
    events = []
    for value in HOSTILE.values():
        event = order_placed(target={"type": "order", "id": f"o_{uid()}", "displayName": "Order"})
        _set(event, field, value)
        events.append(event)
    results = await record(api, *events)
    accepted_ids = []
    for (name, value), result in zip(HOSTILE.items(), results, strict=True):
        wanted = expected_codes(rule, format_code, name)
        if wanted is None:
            assert result["__typename"] == "EventAccepted", (name, result)
            assert _get(result["event"], field) == value, name
            accepted_ids.append((name, value, result["event"]["id"]))
        else:
            assert result["__typename"] == "EventRejected", (name, result)
            assert {tuple(e["path"]) for e in result["errors"]} == {tuple(field.split("."))}, (name, result)
            assert codes_of(result) <= wanted, (name, result)
    # What was accepted is stored exactly as sent: read it back through the store.
    if accepted_ids:
        fragment = RECORD_READ_BACK[RECORD_READ_BACK.index("fragment") :]
        query = "query($ids: [ID!]!) { nodes(ids: $ids) { ...Back } }" + fragment
        body = await graphql(api, query, {"ids": [node_id for _, _, node_id in accepted_ids]}, key="reader")
        assert not body.get("errors"), body
        for (name, value, _), node in zip(accepted_ids, body["data"]["nodes"], strict=True):
            assert node["tenant"] == tenant and _get(node, field) == value, name
    await healthy(api)


@SQLITE_ONLY
async def test_invisible_and_bidi_characters_are_refused_in_identifiers(api: Api) -> None:
    characters = ["\u202e", "\u200b", "\ufeff", "\u2066"]  # RLO, zero-width space, BOM, LRI
    events = [order_placed(actor={"type": "USER", "id": f"u_42{c}"}) for c in characters]
    for result in await record(api, *events):
        assert result["__typename"] == "EventRejected" and codes_of(result) == {"INVALID_ID"}, result
