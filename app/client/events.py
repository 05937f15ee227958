"""Event objects for ``POST /v1/events``, built from the contract models (what the gateway validates)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from app.contracts.envelope import Actor, Envelope, Outcome, Target
from app.contracts.registry import CURRENT
from app.contracts.values import ContractModel

CONTRACT_OF: dict[type[ContractModel], str] = {contract.model: contract.name for contract in CURRENT}
"""Current contract model → its contract name, e.g. ``OrderPlacedData`` → ``order.placed``."""


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


def build_event(
    data: ContractModel,
    *,
    source: str,
    actor: Actor,
    event_id: str | None = None,
    occurred_at: dt.datetime | None = None,
    target: Target | None = None,
    outcome: Outcome = Outcome.SUCCESS,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    traceparent: str | None = None,
    tenant: str | None = None,
) -> dict[str, Any]:
    """One event object, checked here against the ``Envelope`` contract (a ``ValidationError`` if it breaks one).

    ``event_id`` defaults to a fresh random id and ``occurred_at`` to now; the id is
    fixed here, so every retry of this event is recognised as the same event.
    """
    name = CONTRACT_OF.get(type(data))
    if name is None:
        raise TypeError(f"{type(data).__name__} is not the current version of any event contract")
    envelope = Envelope(
        event_id=event_id or new_event_id(),
        source=source,
        occurred_at=occurred_at or dt.datetime.now(dt.UTC),
        tenant=tenant,
        actor=actor,
        target=target,
        outcome=outcome,
        correlation_id=correlation_id,
        causation_id=causation_id,
        traceparent=traceparent,
    )
    return {**envelope.model_dump(mode="json", by_alias=True), "type": name, "data": data.model_dump(mode="json")}
