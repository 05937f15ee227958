"""OpenAPI examples: each contract's declared examples (``@event_contract(examples=…)``) in an envelope."""

from __future__ import annotations

from typing import Any

from app.contracts.declare import Contract
from app.http.wire import data_json

ENVELOPE: dict[str, Any] = {
    "eventId": "ord_1",
    "source": "checkout",
    "occurredAt": "2026-01-24T10:00:00Z",
    "actor": {"type": "USER", "id": "u_42", "ip": "203.0.113.7"},
    "target": {"type": "order", "id": "o_1"},
    "outcome": "SUCCESS",
    "correlationId": "c_77",
}


def data_example(contract: Contract) -> dict[str, Any]:
    """The contract's first declared example, as the HTTP routes write data."""
    return data_json(contract.model.model_validate(contract.examples[0]))


def event_example(contract: Contract) -> dict[str, Any]:
    """An event object as POST /v1/events takes it."""
    return {**ENVELOPE, "type": contract.name, "data": data_example(contract)}


def cloudevent_example(contract: Contract) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": ENVELOPE["eventId"],
        "source": ENVELOPE["source"],
        "type": contract.name,
        "time": ENVELOPE["occurredAt"],
        "datacontenttype": "application/json",
        "actortype": "USER",
        "actorid": "u_42",
        "targettype": "order",
        "targetid": "o_1",
        "correlationid": "c_77",
        "data": data_example(contract),
    }
