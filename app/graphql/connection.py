"""Relay-style keyset connections over events, and the filter and order inputs that shape them."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TypeVar

import strawberry
from strawberry.types import Info

from app.contracts.envelope import ActorType, Outcome  # GraphQL enums: app.graphql.contract_types registers them
from app.errors import BadUserInput
from app.graphql.context import Context
from app.graphql.events import AuditEventUnion, to_event
from app.graphql.lookahead import resolving_page_selects_cause
from app.graphql.pacing import paced
from app.store.event_query import EventFilter, EventQuery, Order, OrderField, decode_cursor, encode_cursor, position_of
from app.store.read import Page, TenantReader

# Registers the GraphQL name on the store's enum itself (strawberry.enum marks and returns the class).
strawberry.enum(OrderField, name="AuditEventOrderField")

T = TypeVar("T")


@strawberry.enum
class OrderDirection(enum.Enum):
    ASC = "ASC"
    DESC = "DESC"


@strawberry.input
class AuditEventOrder:
    field: OrderField = OrderField.SEQUENCE
    direction: OrderDirection = OrderDirection.DESC

    def to_order(self) -> Order:
        return Order(field=self.field, descending=self.direction is OrderDirection.DESC)


@strawberry.input
class AuditEventFilter:
    types: list[str] | None = strawberry.field(
        default=strawberry.UNSET,
        description='Contract names; an entry ending in ".*" matches a prefix, e.g. "order.*".',
    )
    sources: list[str] | None = strawberry.UNSET
    actor_id: str | None = strawberry.UNSET
    actor_type: ActorType | None = strawberry.UNSET
    target_type: str | None = strawberry.UNSET
    target_id: str | None = strawberry.UNSET
    outcome: Outcome | None = strawberry.UNSET
    correlation_id: str | None = strawberry.UNSET
    occurred_from: dt.datetime | None = strawberry.field(
        default=strawberry.UNSET, description="Inclusive lower bound on occurredAt."
    )
    occurred_to: dt.datetime | None = strawberry.field(
        default=strawberry.UNSET, description="Exclusive upper bound on occurredAt."
    )
    recorded_from: dt.datetime | None = strawberry.UNSET
    recorded_to: dt.datetime | None = strawberry.UNSET

    def to_filter(self) -> EventFilter:
        def given(value: T) -> T | None:
            return None if value is strawberry.UNSET else value

        types, sources = given(self.types), given(self.sources)
        actor_type, outcome = given(self.actor_type), given(self.outcome)
        return EventFilter(
            types=None if types is None else tuple(types),
            sources=None if sources is None else tuple(sources),
            actor_id=given(self.actor_id),
            actor_type=actor_type.value if actor_type else None,
            target_type=given(self.target_type),
            target_id=given(self.target_id),
            outcome=outcome.value if outcome else None,
            correlation_id=given(self.correlation_id),
            occurred_from=given(self.occurred_from),
            occurred_to=given(self.occurred_to),
            recorded_from=given(self.recorded_from),
            recorded_to=given(self.recorded_to),
        )


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class AuditEventEdge:
    cursor: str = strawberry.field(
        description="Opaque keyset cursor; valid only for the query (tenant, filter, order) that produced it."
    )
    node: AuditEventUnion


@strawberry.type
class AuditEventConnection:
    edges: list[AuditEventEdge]
    page_info: PageInfo
    reader: strawberry.Private[TenantReader]
    query: strawberry.Private[EventQuery]

    @strawberry.field
    def nodes(self) -> list[AuditEventUnion]:
        return [edge.node for edge in self.edges]

    @strawberry.field(description="Exact count of events matching the filter; computed only when selected.")
    async def total_count(self) -> int:
        return await self.reader.count(self.query)


async def load_page(
    context: Context,
    query: EventQuery,
    *,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    causes: bool = False,
) -> tuple[Page, str]:
    """The records of one page and the digest its cursors carry (shared with the compiled executor).

    With ``causes`` (``app.graphql.lookahead``), the page's statement also reads each event's cause, and the
    request's ``cause`` loader holds them: the ``causedBy`` of the page's events send no statement of their own.
    """
    reader: TenantReader = context.reader
    if first is not None and last is not None:
        raise BadUserInput("give first or last, not both")
    backward = last is not None
    size = (
        context.bounded(last, "last")
        if last is not None
        else context.bounded(context.settings.default_page_size if first is None else first, "first")
    )
    page = await reader.page(
        query,
        size=size,
        after=decode_cursor(after, query, reader.tenant) if after else None,
        before=decode_cursor(before, query, reader.tenant) if before else None,
        backward=backward,
        causes=causes,
    )
    if page.causes:
        prime = context.loaders.cause.prime
        for key, cause in page.causes.items():
            prime(key, cause)
    return page, query.digest(reader.tenant)


async def paginate(
    info: Info[Context, None],
    query: EventQuery,
    *,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> AuditEventConnection:
    """One keyset page of ``query``: ``first``/``after`` forward, or ``last``/``before`` backward."""
    reader: TenantReader = info.context.reader
    page, digest = await load_page(
        info.context,
        query,
        first=first,
        after=after,
        last=last,
        before=before,
        causes=resolving_page_selects_cause(info),
    )
    edges = await paced(
        info.context.pacer,
        page.records,
        lambda record: AuditEventEdge(
            cursor=encode_cursor(position_of(record, query.order), digest), node=to_event(record)
        ),
    )
    return AuditEventConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        reader=reader,
        query=query,
    )
