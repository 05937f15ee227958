"""The write-side root field: a thin translation from GraphQL inputs to ``app.ingest``."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Annotated

import strawberry
from strawberry.types import Info

from app.auth.principal import Scope
from app.contracts import Problem
from app.errors import LimitExceeded
from app.graphql import data as d
from app.graphql.events import AuditEventUnion, to_event
from app.ingest import Accepted, Duplicate, Rejected, Submission, record_events


@strawberry.input
class RecordEventInput:
    event_id: str
    source: str
    occurred_at: dt.datetime
    tenant: str | None = strawberry.field(
        default=strawberry.UNSET, description="Defaults to the caller's tenant when the caller has exactly one."
    )
    actor: d.ActorInput
    target: d.TargetInput | None = strawberry.UNSET
    outcome: d.Outcome = d.Outcome.SUCCESS
    correlation_id: str | None = strawberry.UNSET
    causation_id: str | None = strawberry.UNSET
    traceparent: str | None = strawberry.field(default=strawberry.UNSET, description="W3C trace context header value.")
    data: d.EventDataInput

    def to_submission(self) -> Submission:
        (member,) = [
            f for f in dataclasses.fields(d.EventDataInput) if getattr(self.data, f.name) is not strawberry.UNSET
        ]
        member_input = getattr(self.data, member.name)
        envelope = {
            "event_id": self.event_id,
            "source": self.source,
            "occurred_at": self.occurred_at,
            "tenant": _given(self.tenant),
            "actor": strawberry.asdict(self.actor),
            "target": strawberry.asdict(self.target) if self.target else None,
            "outcome": self.outcome,
            "correlation_id": _given(self.correlation_id),
            "causation_id": _given(self.causation_id),
            "traceparent": _given(self.traceparent),
        }
        return Submission(envelope=envelope, member=_camel(member.name), data=strawberry.asdict(member_input))


def _given(value: object) -> object:
    return None if value is strawberry.UNSET else value


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@strawberry.type
class InputError:
    path: list[str] = strawberry.field(description='e.g. ["data", "orderPlaced", "total", "currency"]')
    code: str = strawberry.field(description="Stable machine-readable code, e.g. INVALID_CURRENCY, TOO_LONG.")
    message: str


@strawberry.type(description="The event was new and is now stored.")
class EventAccepted:
    index: int
    event: AuditEventUnion


@strawberry.type(description="An identical event with this eventId was already stored; nothing was written.")
class EventDuplicate:
    index: int
    event: AuditEventUnion


@strawberry.type(description="The event was not stored.")
class EventRejected:
    index: int
    event_id: str | None
    errors: list[InputError]


RecordEventResult = Annotated[EventAccepted | EventDuplicate | EventRejected, strawberry.union("RecordEventResult")]


@strawberry.type
class RecordEventsPayload:
    results: list[RecordEventResult] = strawberry.field(description="One result per input, in input order.")
    accepted_count: int
    duplicate_count: int
    rejected_count: int


def _input_error(problem: Problem) -> InputError:
    return InputError(path=list(problem.path), code=problem.code, message=problem.message)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Record a batch of events. Each input is validated on its own; all accepted events of the "
        "batch are committed in one transaction before the answer is sent, so EventAccepted means durably stored."
    )
    async def record_events(self, info: Info, events: list[RecordEventInput]) -> RecordEventsPayload:
        context = info.context
        principal = context.require(Scope.WRITE)
        if len(events) > context.settings.max_batch_size:
            raise LimitExceeded(
                f"recordEvents takes at most {context.settings.max_batch_size} events, got {len(events)}"
            )
        outcomes = await record_events(context.engine, principal, [event.to_submission() for event in events])
        results: list[EventAccepted | EventDuplicate | EventRejected] = []
        for index, outcome in enumerate(outcomes):
            if isinstance(outcome, Accepted):
                results.append(EventAccepted(index=index, event=to_event(outcome.record)))
            elif isinstance(outcome, Duplicate):
                results.append(EventDuplicate(index=index, event=to_event(outcome.record)))
            else:
                assert isinstance(outcome, Rejected)
                errors = [_input_error(problem) for problem in outcome.problems]
                results.append(EventRejected(index=index, event_id=outcome.event_id, errors=errors))
        return RecordEventsPayload(
            results=results,
            accepted_count=sum(isinstance(r, EventAccepted) for r in results),
            duplicate_count=sum(isinstance(r, EventDuplicate) for r in results),
            rejected_count=sum(isinstance(r, EventRejected) for r in results),
        )
