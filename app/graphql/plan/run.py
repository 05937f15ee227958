"""Run a compiled plan: root fields concurrently, then relations level by level in batches.

The store calls are the reference resolvers' own (``load_page``, ``node_records``,
``correlation_summary``, the request's ``Loaders``), so a request sends the same
SQL statements whichever executor serves it. Each level of ``causedBy`` /
``effects`` / ``correlated`` asks the loaders for every key of the level before
awaiting any, so a level is one statement per loader, as in the reference.

Any exception leaves this module: the caller answers through the reference
executor instead (nothing here writes, so running a read twice is harmless).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any

import strawberry
from graphql import GraphQLField
from graphql.execution.values import VariableValues, get_argument_values
from strawberry.types.arguments import convert_arguments

from app.auth.principal import Scope
from app.contracts.registry import decode
from app.contracts.values import check_text
from app.errors import SharedFailure, UserFacingError
from app.graphql.connection import load_page
from app.graphql.context import Context
from app.graphql.plan.compile import ConnectionPlan, CorrelationPlan, EventPlan, Miss, Plan, Relation, RootField
from app.graphql.query import check_node_ids, correlation_query, correlation_summary, events_query, node_records
from app.store.event_query import EventQuery, encode_cursors
from app.store.read import Page
from app.store.records import EventRecord

Pending = list[tuple[Relation, EventRecord, dict[str, Any]]]


MAX_DECODED = 65_536
_DECODED: dict[str, None] = {}
"""Hashes of rows whose data is known to decode, oldest first (~11 MB at most). A row's hash covers its
tenant, sequence and data, and rows never change (the store refuses UPDATE)."""


def _check_decodes(record: EventRecord) -> None:
    """The reference decodes every event it serves, data selected or not, and fails on data that does not
    validate against its contract; so must a plan. Validation is the costly part of decoding, so each row
    is checked once per process."""
    try:
        decode(record.type, record.schema_version, record.data)
    except Exception as error:
        raise Miss(f"event {record.sequence} does not decode") from error
    if len(_DECODED) >= MAX_DECODED:
        del _DECODED[next(iter(_DECODED))]
    _DECODED[record.hash] = None


class Run:
    """One execution of a plan for one request."""

    def __init__(self, context: Context, variables: VariableValues, strawberry_schema: strawberry.Schema) -> None:
        self.context = context
        self.variables = variables
        self.scalars = strawberry_schema.schema_converter.scalar_registry
        self.config = strawberry_schema.config
        self.pending: Pending = []
        self._limits: dict[int, int] = {}

    def arguments(self, definition: GraphQLField, node: Any) -> dict[str, Any]:
        """The resolver's keyword arguments, coerced and converted exactly as for the reference resolver."""
        values = get_argument_values(definition, node, self.variables)
        strawberry_field = definition.extensions["strawberry-definition"]
        return convert_arguments(values, strawberry_field.arguments, scalar_registry=self.scalars, config=self.config)

    async def execute(self, plan: Plan) -> dict[str, Any]:
        async with self._one_connection():
            if len(plan.roots) == 1:  # the common case: no task for gather to wrap the one coroutine in
                values = [await self.root(plan.roots[0])]
            else:
                values = await asyncio.gather(*(self.root(root) for root in plan.roots))
            await self.levels()
        return {root.key: value for root, value in zip(plan.roots, values, strict=True)}

    def _one_connection(self) -> AbstractAsyncContextManager[None]:
        """All the request's statements on one connection (``TenantReader.sharing``), if the caller may read.

        (If not, the root fields say so, as the reference's do.)
        """
        try:
            reader = self.context.reader
        except (UserFacingError, SharedFailure):
            return nullcontext()
        return reader.sharing()

    # --- root fields -----------------------------------------------------------------------------------------

    async def root(self, root: RootField) -> Any:
        if root.name == "__typename":
            return root.detail
        context = self.context
        assert root.definition is not None
        arguments = self.arguments(root.definition, root.node)
        context.require(Scope.READ)
        if root.name == "events":
            query = events_query(arguments.get("filter"), arguments.get("search"), arguments.get("order_by"))
            return await self.connection(root.detail, query, arguments)
        if root.name == "event":
            record = await context.loaders.by_event_id.load(check_text(arguments["event_id"], "eventId"))
            return None if record is None else self.event(root.detail, record)
        if root.name == "node":
            (record,) = await node_records(context, [arguments["id"]])
            return None if record is None else self.event(root.detail, record)
        if root.name == "nodes":
            check_node_ids(arguments["ids"])
            records = await node_records(context, arguments["ids"])
            return [None if record is None else self.event(root.detail, record) for record in records]
        assert root.name == "correlation"
        return await self.correlation(root.detail, arguments["id"])

    async def correlation(self, plan: CorrelationPlan, correlation_id: str) -> dict[str, Any] | None:
        summary = await correlation_summary(self.context, correlation_id)
        if summary is None:
            return None
        pages: dict[str, Awaitable[Any]] = {}
        for key, connection in plan.connections.items():
            arguments = self.arguments(connection.definition, connection.node)
            query = correlation_query(summary.correlation_id, arguments.get("order_by"))
            pages[key] = self.connection(connection, query, arguments)
        done = dict(zip(pages, await asyncio.gather(*pages.values()), strict=True))
        return {key: done[key] if get is None else get(summary) for key, get in plan.fields}

    async def connection(self, plan: ConnectionPlan, query: EventQuery, arguments: dict[str, Any]) -> dict[str, Any]:
        context = self.context
        page, digest = await load_page(
            context,
            query,
            first=arguments.get("first"),
            after=arguments.get("after"),
            last=arguments.get("last"),
            before=arguments.get("before"),
            causes=plan.causes,
        )
        counts = [await context.reader.count(query) for kind in plan.fields if kind[1] == "totalCount"][:1]
        cursors = encode_cursors(page.records, query.order, digest) if plan.needs_cursors else []
        out: dict[str, Any] = {}
        for key, kind, detail in plan.fields:
            if kind == "edges":
                out[key] = self.edges(detail, page, cursors)
            elif kind == "nodes":
                out[key] = [self.event(detail, record) for record in page.records]
            elif kind == "pageInfo":
                out[key] = self.page_info(detail, page, cursors)
            elif kind == "totalCount":
                out[key] = counts[0]
            else:
                out[key] = detail
        return out

    def edges(self, fields: list[tuple[str, str, Any]], page: Page, cursors: list[str]) -> list[dict[str, Any]]:
        if len(fields) == 2 and fields[0][1] == "cursor" and fields[1][1] == "node":
            # ``edges { cursor node { … } }``, what pages ask for: one dict display per edge, keys in that order.
            (cursor_key, _, _), (node_key, _, plan) = fields
            event = self.event
            return [
                {cursor_key: cursor, node_key: event(plan, record)}
                for cursor, record in zip(cursors, page.records, strict=True)
            ]
        edges = []
        for index, record in enumerate(page.records):
            edge: dict[str, Any] = {}
            for key, kind, detail in fields:
                if kind == "cursor":
                    edge[key] = cursors[index]
                elif kind == "node":
                    edge[key] = self.event(detail, record)
                else:
                    edge[key] = detail
            edges.append(edge)
        return edges

    @staticmethod
    def page_info(fields: list[tuple[str, str]], page: Page, cursors: list[str]) -> dict[str, Any]:
        values = {
            "__typename": "PageInfo",
            "hasNextPage": page.has_next,
            "hasPreviousPage": page.has_previous,
            "startCursor": cursors[0] if cursors else None,
            "endCursor": cursors[-1] if cursors else None,
        }
        return {key: values[name] for key, name in fields}

    # --- events and their relations --------------------------------------------------------------------------

    def event(self, plan: EventPlan, record: EventRecord) -> dict[str, Any]:
        if record.hash not in _DECODED:
            _check_decodes(record)
        type_plan = plan.by_contract[record.type]
        out: dict[str, Any] = type_plan.build(record)
        for relation in type_plan.relations:
            self.pending.append((relation, record, out))
        return out

    def limit(self, relation: Relation) -> int:
        """``first`` of effects/correlated, checked against the page-size maximum once per field."""
        found = self._limits.get(id(relation))
        if found is None:
            found = self.context.bounded(self.arguments(relation.definition, relation.node)["first"])
            self._limits[id(relation)] = found
        return found

    def start(self, relation: Relation, record: EventRecord) -> Any:
        """The loader future of one relation of one event (what the reference resolver awaits), or its value."""
        loaders = self.context.loaders
        if relation.name == "causedBy":
            return None if record.causation_id is None else loaders.cause.load((record.causation_id, record.source))
        if relation.name == "effects":
            return loaders.effects.load(((record.event_id, record.source, record.sequence), self.limit(relation)))
        if record.correlation_id is None:
            return []
        return loaders.correlated.load((record.correlation_id, self.limit(relation) + 1))

    def finish(self, relation: Relation, record: EventRecord, found: Any) -> Any:
        if relation.name == "causedBy":
            return None if found is None else self.event(relation.child, found)
        if relation.name == "effects":
            return [self.event(relation.child, each) for each in found]
        others = [each for each in found if each.sequence != record.sequence][: self.limit(relation)]
        return [self.event(relation.child, each) for each in others]

    async def levels(self) -> None:
        while self.pending:
            level, self.pending = self.pending, []
            batcher = self.context.loaders.batcher
            # Every key of the level is asked for before any is awaited, and ``flush`` runs their loaders right
            # after: no rounds task to let other resolvers settle first (``Batcher.deferring``).
            with batcher.deferring():
                started = [self.start(relation, record) for relation, record, _ in level]
            await batcher.flush()
            for value in started:
                if isinstance(value, asyncio.Future):
                    if not value.done():  # a key a round still under way holds
                        await asyncio.wait((value,))
                    value.exception()  # retrieved, as gather did for each: no "never retrieved" warning
            pacer = self.context.pacer
            for (relation, record, out), value in zip(level, started, strict=True):
                found = value.result() if isinstance(value, asyncio.Future) else value
                out[relation.key] = self.finish(relation, record, found)
                # A big level shares the event loop, as the reference's resolvers do (app.graphql.pacing).
                units = len(found) if isinstance(found, list) else 1
                if not pacer.book(units):
                    await pacer.spend(units)
