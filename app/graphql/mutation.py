"""The write-side root field: a thin translation from GraphQL inputs to ``app.ingest``."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from app.auth.principal import Scope
from app.contracts.envelope import Envelope
from app.contracts.problems import Problem
from app.graphql.context import Context
from app.graphql.contract_types import MEMBERS, EventDataInput, input_type
from app.graphql.events import AuditEventUnion, to_event
from app.ingest import Rejected, Submission, record_events
from app.store.append import Accepted, Duplicate
from app.store.records import EventRecord

RecordEventInput: Any = input_type(Envelope, name="RecordEventInput", extra={"data": EventDataInput})
"""The envelope fields come from the ``Envelope`` contract; ``data`` names the event's contract."""


def _submission(event: Any) -> Submission:
    """The inputs are handed over as they are: the contract models validate them from their attributes."""
    ((name, member),) = [(n, m) for n, m in MEMBERS.items() if getattr(event.data, n) is not strawberry.UNSET]
    return Submission(envelope=event, member=member, data=getattr(event.data, name))


@strawberry.type
class InputError:
    path: list[str] = strawberry.field(description='e.g. ["data", "orderPlaced", "total", "currency"]')
    code: str = strawberry.field(description="Stable machine-readable code, e.g. INVALID_CURRENCY, TOO_LONG.")
    message: str


@strawberry.type(description="The event was new and is now stored.")
class EventAccepted:
    index: int
    record: strawberry.Private[EventRecord]

    @strawberry.field
    def event(self) -> AuditEventUnion:
        return to_event(self.record)


@strawberry.type(description="An identical event with this eventId was already stored; nothing was written.")
class EventDuplicate:
    index: int
    record: strawberry.Private[EventRecord]

    @strawberry.field
    def event(self) -> AuditEventUnion:
        return to_event(self.record)


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
    async def record_events(self, info: Info[Context, None], events: list[RecordEventInput]) -> RecordEventsPayload:
        context = info.context
        principal = context.require(Scope.WRITE)
        submissions = [_submission(event) for event in events]
        limit = context.settings.max_batch_size
        outcomes = await record_events(context.engine, principal, submissions, max_batch=limit)
        results: list[EventAccepted | EventDuplicate | EventRejected] = []
        for index, outcome in enumerate(outcomes):
            if isinstance(outcome, Accepted):
                results.append(EventAccepted(index=index, record=outcome.record))
            elif isinstance(outcome, Duplicate):
                results.append(EventDuplicate(index=index, record=outcome.record))
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
