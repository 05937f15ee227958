from __future__ import annotations

import datetime as dt
import json

import pytest
from pydantic import ValidationError

from app.contracts.commerce import OrderPlacedData
from app.contracts.envelope import Envelope
from app.contracts.problems import problems_from
from app.contracts.registry import CURRENT, PREVIOUS, accepted_versions, decode, json_schema
from app.graphql import contract_types as graphql_data
from app.graphql.events import EVENT_TYPES


def test_every_contract_has_its_graphql_type_and_input_member() -> None:
    members = {field for field in graphql_data.EventDataInput.__annotations__}
    for contract in CURRENT:
        assert contract.graphql_type in EVENT_TYPES
        snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in contract.input_member)
        assert snake in members, contract.name
        described = EVENT_TYPES[contract.graphql_type].__strawberry_definition__.description
        assert contract.description and described.startswith(f"{contract.name} v{contract.version}: ")
    assert len(CURRENT) == 12


@pytest.mark.parametrize("contract", CURRENT, ids=lambda c: c.name)
def test_published_json_schema_is_self_contained(contract) -> None:
    schema = json_schema(contract)
    assert "$ref" not in json.dumps(schema) and schema["type"] == "object"
    assert schema["$schema"].endswith("2020-12/schema")
    assert set(schema["properties"]) == {f.alias for f in contract.model.model_fields.values()}


def test_order_placed_v1_upcasts_to_v2() -> None:
    assert accepted_versions("order.placed") == [1, 2]
    upcast = decode("order.placed", 1, {"orderId": "o", "total": {"amountMinor": 1, "currency": "EUR"}, "itemCount": 1})
    assert isinstance(upcast, OrderPlacedData) and upcast.channel.value == "WEB"


def _problems(**envelope: object) -> dict[tuple[str, ...], str]:
    base = {
        "event_id": "e1",
        "source": "checkout",
        "occurred_at": dt.datetime.now(dt.UTC),
        "actor": {"type": "USER", "id": "u"},
    }
    try:
        Envelope.model_validate({**base, **envelope})
    except ValidationError as error:
        return {p.path: p.code for p in problems_from(error)}
    return {}


@pytest.mark.parametrize(
    ("override", "path", "code"),
    [
        ({"event_id": ""}, ("eventId",), "EMPTY"),
        ({"event_id": "x" * 201}, ("eventId",), "TOO_LONG"),
        ({"event_id": "a b"}, ("eventId",), "INVALID_ID"),
        ({"event_id": "nul\x00"}, ("eventId",), "CONTROL_CHARACTER"),
        ({"event_id": "\ud800"}, ("eventId",), "INVALID_UNICODE"),
        ({"source": "Check Out"}, ("source",), "INVALID_NAME"),
        # An hour ahead, not just past the 5-minute bound: the value is fixed at collection, minutes before it runs.
        ({"occurred_at": dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)}, ("occurredAt",), "IN_FUTURE"),
        ({"traceparent": "00-" + "0" * 32 + "-00f067aa0ba902b7-01"}, ("traceparent",), "INVALID_TRACEPARENT"),
        ({"actor": {"type": "USER", "id": "u", "ip": "999.1.1.1"}}, ("actor", "ip"), "INVALID_IP"),
        ({"actor": {"type": "USER", "id": "u", "display_name": "x" * 1001}}, ("actor", "displayName"), "TOO_LONG"),
        ({"causation_id": "e1"}, (), "SELF_CAUSATION"),
    ],
)
def test_envelope_rules_have_stable_codes_and_paths(override: dict, path: tuple[str, ...], code: str) -> None:
    assert _problems(**override) == {path: code}


def test_money_rules() -> None:
    for amount, currency, expected in (
        (-1, "EUR", {("total", "amountMinor"): "NEGATIVE"}),
        (1, "EURO", {("total", "currency"): "INVALID_CURRENCY"}),
        (1, "ABC", {("total", "currency"): "INVALID_CURRENCY"}),
        (0, "JPY", {}),
    ):
        data = {
            "order_id": "o",
            "total": {"amount_minor": amount, "currency": currency},
            "item_count": 1,
            "channel": "WEB",
        }
        try:
            OrderPlacedData.model_validate(data)
            found = {}
        except ValidationError as error:
            found = {p.path: p.code for p in problems_from(error)}
        assert found == expected


@pytest.mark.parametrize("contract", CURRENT + PREVIOUS, ids=lambda c: f"{c.name}-v{c.version}")
def test_every_contract_has_valid_examples_in_stored_form(contract) -> None:
    assert contract.examples, f"{contract.name} declares no example"
    for example in contract.examples:
        model = contract.model.model_validate(example)
        assert model.model_dump(mode="json") == example
        assert json_schema(contract)["examples"] == list(contract.examples)
