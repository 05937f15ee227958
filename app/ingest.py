"""The one write path: validate → authorize → append. Every way in (GraphQL now) calls ``record_events``."""

from __future__ import annotations

import collections
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.principal import Principal
from app.contracts.declare import Contract
from app.contracts.envelope import Envelope
from app.contracts.fast import Twin, twin
from app.contracts.problems import Problem, problems_from
from app.contracts.registry import BY_INPUT_MEMBER
from app.contracts.values import ContractModel
from app.errors import Code, LimitExceeded
from app.store.append import Accepted, Conflict, Duplicate, append
from app.store.records import NewEvent

__all__ = [
    "Accepted",
    "Duplicate",
    "Rejected",
    "Result",
    "Submission",
    "record_events",
    "validate",
    "validate_fast",
    "validate_reference",
]


@dataclass(frozen=True, slots=True)
class Submission:
    """One event as a caller sent it: envelope fields, the ``EventDataInput`` member named, and its data.

    ``envelope`` and ``data`` are what the contract models validate: a mapping
    (e.g. decoded JSON, GraphQL or Python field names) or an object with those
    attributes (e.g. Strawberry's input instances).
    """

    envelope: Mapping[str, Any] | object
    member: str
    data: Mapping[str, Any] | object


@dataclass(frozen=True, slots=True)
class Rejected:
    """The submission was not stored; ``problems`` say why and where."""

    event_id: str | None
    problems: list[Problem]


Result = Accepted | Duplicate | Rejected
"""What happened to one submission: the store's ``Accepted``/``Duplicate``, or rejected here."""


def validate(submission: Submission, principal: Principal) -> NewEvent | Rejected:
    """Check one submission against its contract and the caller's rights; collect every problem.

    The twins of the contract models (``app.contracts.fast``) settle the common case natively; whatever
    they refuse is validated again by the contract models themselves, whose problems are reported. Both
    give the same ``NewEvent`` for what the twins accept (tests/contracts/test_fast_validation.py).
    """
    event = validate_fast(submission, principal)
    if event is not None:
        VALIDATED["twins"] += 1
        return event
    VALIDATED["reference"] += 1
    return validate_reference(submission, principal)


VALIDATED: collections.Counter[str] = collections.Counter()
"""Submissions validated per process: settled by the twins (``twins``) or by the contract models (``reference``)."""


def validate_fast(submission: Submission, principal: Principal) -> NewEvent | None:
    """The event when the twins accept it and the caller may write it; None: ask ``validate_reference``.

    The twins take mappings (decoded JSON, coerced GraphQL variables); anything else is the models' to read.
    """
    found = _TWIN_DATA.get(submission.member)
    if found is None or not isinstance(submission.envelope, dict) or not isinstance(submission.data, dict):
        return None
    contract, data_twin = found
    try:
        envelope = _validate_envelope(submission.envelope)
        data = data_twin.validate(submission.data)
    except ValidationError:
        return None
    tenant = envelope["tenant"]
    if tenant is None and len(principal.tenants) == 1:
        (tenant,) = principal.tenants
    if tenant is None or tenant not in principal.tenants or envelope["source"] not in principal.sources:
        return None
    actor, target = envelope["actor"], envelope["target"]
    return NewEvent.from_values(
        (
            tenant,
            envelope["event_id"],
            envelope["source"],
            contract.name,
            contract.version,
            envelope["occurred_at"],
            actor["type"]._value_,  # the enum's value (``.value`` is a property: two calls)
            actor["id"],
            actor["display_name"],
            actor["ip"],
            actor["user_agent"],
            target["type"] if target is not None else None,
            target["id"] if target is not None else None,
            target["display_name"] if target is not None else None,
            envelope["outcome"]._value_,
            envelope["correlation_id"],
            envelope["causation_id"],
            envelope["traceparent"],
            data_twin.dump(data),
        )
    )


def validate_reference(submission: Submission, principal: Principal) -> NewEvent | Rejected:
    """Validation by the contract models themselves, every problem collected (the reference)."""
    problems: list[Problem] = []
    envelope: Envelope | None = None
    try:
        envelope = Envelope.model_validate(submission.envelope, from_attributes=True)
    except ValidationError as error:
        problems += problems_from(error)

    contract = BY_INPUT_MEMBER.get(submission.member)
    data = None
    if contract is None:
        problems.append(Problem(("data",), Code.UNKNOWN_CONTRACT, f"no event contract named {submission.member!r}"))
    else:
        try:
            data = contract.model.model_validate(submission.data, from_attributes=True)
        except ValidationError as error:
            problems += problems_from(error, ("data", submission.member))

    tenant = None
    if envelope is not None:
        tenant = envelope.tenant
        if tenant is None and len(principal.tenants) == 1:
            (tenant,) = principal.tenants
        if tenant is None:
            problems.append(Problem(("tenant",), Code.TENANT_REQUIRED, "this key holds several tenants: name one"))
        elif tenant not in principal.tenants:
            problems.append(Problem(("tenant",), Code.FORBIDDEN, f"this key may not write to tenant {tenant!r}"))
        elif envelope.source not in principal.sources:
            message = f"this key may not write as source {envelope.source!r}"
            problems.append(Problem(("source",), Code.FORBIDDEN, message))

    if problems or envelope is None or contract is None or data is None or tenant is None:
        return Rejected(_event_id(submission, envelope, problems), problems)
    return _new_event(envelope, tenant, contract, data)


def _envelope_twin() -> Callable[[Any], dict[str, Any]]:
    found = twin(Envelope)
    if found is None:
        raise TypeError("the envelope has no twin: every event would take the contract models")
    return found.validate


_validate_envelope = _envelope_twin()
_TWIN_DATA: dict[str, tuple[Contract, Twin]] = {
    member: (contract, found)
    for member, contract in BY_INPUT_MEMBER.items()
    if (found := twin(contract.model)) is not None
}
"""Per ``EventDataInput`` member with a twin, its contract and twin: built once, at import."""


def _new_event(envelope: Envelope, tenant: str, contract: Contract, data: ContractModel) -> NewEvent:
    actor, target = envelope.actor, envelope.target
    return NewEvent(
        tenant=tenant,
        event_id=envelope.event_id,
        source=envelope.source,
        type=contract.name,
        schema_version=contract.version,
        occurred_at=envelope.occurred_at,
        actor_type=actor.type.value,
        actor_id=actor.id,
        actor_display_name=actor.display_name,
        actor_ip=actor.ip,
        actor_user_agent=actor.user_agent,
        target_type=target.type if target else None,
        target_id=target.id if target else None,
        target_display_name=target.display_name if target else None,
        outcome=envelope.outcome.value,
        correlation_id=envelope.correlation_id,
        causation_id=envelope.causation_id,
        traceparent=envelope.traceparent,
        data=data.model_dump(mode="json"),
    )


def _event_id(submission: Submission, envelope: Envelope | None, problems: list[Problem]) -> str | None:
    if envelope is not None:
        return envelope.event_id
    given = submission.envelope
    if isinstance(given, Mapping):
        raw = given.get("event_id", given.get("eventId"))
    else:
        raw = getattr(given, "event_id", None)
    if isinstance(raw, str) and not any(p.path[:1] == ("eventId",) for p in problems):
        return raw
    return None


async def record_events(
    engine: AsyncEngine, principal: Principal, submissions: Sequence[Submission], *, max_batch: int
) -> list[Result]:
    """Validate each submission on its own, then append every valid one in one transaction.

    Results come back in input order. A database failure raises: nothing is
    reported as accepted unless the whole transaction committed.
    """
    if len(submissions) > max_batch:
        raise LimitExceeded(f"a batch takes at most {max_batch} events, got {len(submissions)}")
    checked = [validate(submission, principal) for submission in submissions]
    valid = [event for event in checked if isinstance(event, NewEvent)]
    appended = iter(await append(engine, valid))
    results: list[Result] = []
    for event in checked:
        if isinstance(event, Rejected):
            results.append(event)
            continue
        outcome = next(appended)
        if isinstance(outcome, Conflict):
            message = "a different event already holds this eventId in this tenant"
            conflict = Problem(("eventId",), Code.CONFLICT, message)
            results.append(Rejected(event.event_id, [conflict]))
        else:
            results.append(outcome)
    return results
