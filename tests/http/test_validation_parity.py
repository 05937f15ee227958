"""Every rule of the README's validation table answers the same code at the same path over REST as over GraphQL.

One table drives both: each row changes a valid ``recordEvents`` input, which is sent
as it is to GraphQL and as a REST event object to ``POST /v1/events``. Paths are the
GraphQL input paths; REST writes them dotted, without the ``EventDataInput`` member
(its ``data`` is the contract's data object itself).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.keys import create_key
from tests.helpers import RECORD, SOURCES, Api, now, order_placed, uid
from tests.http.rest import post, rest_path, to_rest

Event = dict[str, Any]


def _order(**data: Any) -> Callable[[], Event]:
    def make() -> Event:
        event = order_placed()
        event["data"]["orderPlaced"].update(data)
        return event

    return make


def _envelope(**fields: Any) -> Callable[[], Event]:
    return lambda: order_placed(**fields)


def _actor(**fields: Any) -> Callable[[], Event]:
    def make() -> Event:
        event = order_placed()
        event["actor"] = {**event["actor"], **fields}
        return event

    return make


def _member(member: str, data: dict[str, Any], **envelope: Any) -> Callable[[], Event]:
    def make() -> Event:
        event = order_placed(**envelope)
        event["data"] = {member: data}
        return event

    return make


def _self_caused() -> Event:
    event = order_placed()
    event["causationId"] = event["eventId"]
    return event


EUR = {"amountMinor": "1", "currency": "EUR"}
PAYMENT = {"paymentId": "p_1", "orderId": "o_1", "amount": EUR, "provider": "acmepay"}
SIGN_IN_FAILED = {"method": "PASSWORD", "failureReason": "BAD_CREDENTIALS", "attempt": 1}
KEY_CREATED = {"keyId": "k_1", "name": "ci", "scopes": []}
EXPORTED = {"dataset": "d", "format": "CSV", "recordCount": 1, "destination": "s3://x"}


def _setting(changes: list[dict[str, Any]]) -> Callable[[], Event]:
    return _member("settingChanged", {"setting": "s", "changes": changes}, source="console")


# (row id, a valid input with one rule broken, expected code, expected GraphQL path)
RULES: list[tuple[str, Callable[[], Event], str, tuple[str, ...]]] = [
    ("eventId-empty", _envelope(eventId=""), "EMPTY", ("eventId",)),
    ("eventId-too-long", _envelope(eventId="e" * 201), "TOO_LONG", ("eventId",)),
    ("eventId-whitespace", _envelope(eventId="e 1"), "INVALID_ID", ("eventId",)),
    ("eventId-invisible", _envelope(eventId="e\u200b1"), "INVALID_ID", ("eventId",)),
    ("eventId-not-nfc", _envelope(eventId="cafe\u0301"), "NOT_NFC", ("eventId",)),
    ("actor-id-whitespace", _actor(id="u 1"), "INVALID_ID", ("actor", "id")),
    ("target-id-empty", _envelope(target={"type": "order", "id": ""}), "EMPTY", ("target", "id")),
    ("correlation-too-long", _envelope(correlationId="c" * 201), "TOO_LONG", ("correlationId",)),
    ("causation-whitespace", _envelope(causationId="a b"), "INVALID_ID", ("causationId",)),
    ("data-id-empty", _order(orderId=""), "EMPTY", ("data", "orderPlaced", "orderId")),
    ("tenant-name", _envelope(tenant="Acme Corp"), "INVALID_NAME", ("tenant",)),
    ("source-name", _envelope(source="Checkout!"), "INVALID_NAME", ("source",)),
    (
        "label-empty",
        _member("paymentCaptured", {**PAYMENT, "provider": ""}, source="payments"),
        "EMPTY",
        ("data", "paymentCaptured", "provider"),
    ),
    (
        "label-too-long",
        _member("paymentCaptured", {**PAYMENT, "provider": "p" * 1001}, source="payments"),
        "TOO_LONG",
        ("data", "paymentCaptured", "provider"),
    ),
    ("free-text-too-long", _actor(displayName="d" * 1001), "TOO_LONG", ("actor", "displayName")),
    (
        "setting-value-too-long",
        _setting([{"field": "f", "after": "v" * 4097}]),
        "TOO_LONG",
        ("data", "settingChanged", "changes", "0", "after"),
    ),
    ("lone-surrogate", _actor(displayName="a\ud800b"), "INVALID_UNICODE", ("actor", "displayName")),
    ("control-character", _actor(userAgent="a\x01b"), "CONTROL_CHARACTER", ("actor", "userAgent")),
    ("in-future", lambda: order_placed(occurredAt=now(3600)), "IN_FUTURE", ("occurredAt",)),
    ("too-early", lambda: order_placed(occurredAt="1969-12-31T23:59:59.999999Z"), "TOO_EARLY", ("occurredAt",)),
    ("traceparent", _envelope(traceparent="00-abc-def-01"), "INVALID_TRACEPARENT", ("traceparent",)),
    (
        "traceparent-zero-trace",
        _envelope(traceparent=f"00-{'0' * 32}-00f067aa0ba902b7-01"),
        "INVALID_TRACEPARENT",
        ("traceparent",),
    ),
    ("ip", _actor(ip="300.1.2.3"), "INVALID_IP", ("actor", "ip")),
    (
        "currency",
        _order(total={"amountMinor": "1", "currency": "EURO"}),
        "INVALID_CURRENCY",
        ("data", "orderPlaced", "total", "currency"),
    ),
    (
        "negative-amount",
        _order(total={"amountMinor": "-1", "currency": "EUR"}),
        "NEGATIVE",
        ("data", "orderPlaced", "total", "amountMinor"),
    ),
    ("item-count", _order(itemCount=-1), "TOO_SMALL", ("data", "orderPlaced", "itemCount")),
    (
        "record-count",
        _member("dataExported", {**EXPORTED, "recordCount": -1}, source="console"),
        "TOO_SMALL",
        ("data", "dataExported", "recordCount"),
    ),
    (
        "attempt",
        _member("userSignInFailed", {**SIGN_IN_FAILED, "attempt": 0}, source="identity"),
        "TOO_SMALL",
        ("data", "userSignInFailed", "attempt"),
    ),
    (
        "scopes",
        _member("apiKeyCreated", {**KEY_CREATED, "scopes": [f"s{i}" for i in range(51)]}, source="identity"),
        "TOO_MANY",
        ("data", "apiKeyCreated", "scopes"),
    ),
    ("changes-none", _setting([]), "TOO_FEW", ("data", "settingChanged", "changes")),
    (
        "changes-too-many",
        _setting([{"field": f"f{i}"} for i in range(101)]),
        "TOO_MANY",
        ("data", "settingChanged", "changes"),
    ),
    ("source-forbidden", _envelope(source="billing"), "FORBIDDEN", ("source",)),
    ("tenant-forbidden", _envelope(tenant="someone-else"), "FORBIDDEN", ("tenant",)),
    ("tenant-required", _envelope(), "TENANT_REQUIRED", ("tenant",)),
    ("self-causation", _self_caused, "SELF_CAUSATION", ()),
    ("conflict", _envelope(), "CONFLICT", ("eventId",)),
]


def test_the_table_covers_every_code_of_the_readme() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    table = readme.split("### Validation rules", 1)[1].split("\n\n", 2)[1]
    codes_column = [line.rsplit("|", 2)[-2] for line in table.splitlines()[2:]]
    documented = {code for cell in codes_column for code in re.findall(r"`([A-Z][A-Z_]+)`", cell)}
    assert len(documented) >= 18, documented  # the table was read
    assert documented <= {code for _, _, code, _ in RULES}, documented - {code for _, _, code, _ in RULES}


async def _graphql(api: Api, key: str, events: list[Event]) -> dict[str, Any]:
    body = json.dumps({"query": RECORD, "variables": {"events": events}}).encode()  # \ud800 travels escaped
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    response = await api.client.post("/graphql", content=body, headers=headers)
    assert response.status_code == 200, response.text
    payload = response.json()
    assert not payload.get("errors"), payload["errors"]
    return payload["data"]["recordEvents"]


@pytest.mark.parametrize(("rule", "make", "code", "path"), RULES, ids=[row[0] for row in RULES])
async def test_rest_and_graphql_agree(
    api: Api,
    engine: AsyncEngine,
    tenant: str,
    rule: str,
    make: Callable[[], Event],
    code: str,
    path: tuple[str, ...],
) -> None:
    key = api.keys.rw
    if rule == "tenant-required":
        key = (
            await create_key(
                engine, name="two", tenants=[tenant, f"{tenant}b"], scopes=["events:write"], sources=SOURCES
            )
        )[1]
    answers = []
    for over_rest in (False, True):
        event = make()
        if rule == "conflict":
            event["eventId"] = f"conflict_{uid()}"
            first = [order_placed(event["eventId"])]
            await (post(api.client, key, [to_rest(e) for e in first]) if over_rest else _graphql(api, key, first))
        if over_rest:
            response = await post(api.client, key, [to_rest(event)])
            assert response.status_code == 200, response.text
            (result,) = response.json()["results"]
            assert result["status"] == "rejected", result
            answers.append([(error["path"], error["code"]) for error in result["errors"]])
        else:
            (result,) = (await _graphql(api, key, [event]))["results"]
            assert result["__typename"] == "EventRejected", result
            answers.append([(rest_path(error["path"]), error["code"]) for error in result["errors"]])
    graphql, rest = answers
    assert graphql == [(rest_path(path), code)], graphql
    assert rest == graphql
