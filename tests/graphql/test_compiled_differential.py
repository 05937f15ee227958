"""The compiled executor answers byte for byte as the reference (Strawberry/graphql-core) does.

The corpus: every GraphQL query document in README.md, tests/, the acceptance
suite and the PostGraphile side-by-side harness (extracted programmatically), and
hundreds of documents generated from the schema with a seeded random generator —
fragments, inline fragments on interfaces, the union and concrete types, aliases,
``__typename``, variables, ``@skip``/``@include``, nulls, nested relations, and
errors in the middle (bad cursors, page sizes over the limit, bad search terms,
missing keys). Each goes through two apps over one seeded database: one with the
compiled executor, one with it switched off (the reference); the responses must
be identical bytes (field order included) once the random ``errorId`` is
normalised. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import random
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import (
    FieldNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    ListTypeNode,
    NamedTypeNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    OperationType,
    TypeNode,
    VariableNode,
    parse,
    visit,
)
from graphql.language import Visitor
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.keys import create_key
from app.auth.principal import Principal, Scope
from app.config import Settings
from app.demo import SOURCES, flows
from app.graphql.events import node_id
from app.graphql.loaders import ROUNDS
from app.graphql.schema import build_schema
from app.ingest import Rejected, Submission, validate
from app.server import create_app
from app.store.append import append
from app.store.records import NewEvent
from tests.helpers import StatementCounter, stored_event

ROOT = Path(__file__).resolve().parents[2]
ACCEPTANCE = Path("/work/shared/acceptance/test_acceptance.py")
GWBENCH = Path("/work/shared/peer/postgraphile/gwbench.mjs")
GENERATED = 320


# --- the corpus found in the project -----------------------------------------------------------------------------


def _query_documents(text: str) -> Iterator[str]:
    try:
        document = parse(text)
    except Exception:
        return
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operations and all(o.operation is OperationType.QUERY for o in operations):
        yield text


def found_documents() -> list[tuple[str, str]]:
    """(where, document) for every query document in the README, the tests, the acceptance suite and gwbench."""
    found: dict[str, str] = {}
    readme = (ROOT / "README.md").read_text()
    for block in re.findall(r"```graphql\n(.*?)```", readme, flags=re.S):
        for document in _query_documents(block):
            found.setdefault(document, "README.md")
    files = sorted((ROOT / "tests").rglob("*.py"))
    if ACCEPTANCE.exists():
        files.append(ACCEPTANCE)
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and "{" in node.value:
                for document in _query_documents(node.value):
                    found.setdefault(document, str(path.name))
    if GWBENCH.exists():
        text = GWBENCH.read_text()
        constants = dict(re.findall(r'const (ENVELOPE|FLAT) = "(.*?)";', text))
        constants["DATA"] = re.search(r"const DATA = `(.*?)`;", text, flags=re.S)[1]  # type: ignore[index]
        for template in re.findall(r"^\s+\w+: `(query .*?)`,$", text, flags=re.M):
            document = re.sub(r"\$\{(\w+)\}", lambda m: constants[m[1]], template)
            found.setdefault(document, "gwbench.mjs")
    return [(where, document) for document, where in found.items()]


class _Uses(Visitor):
    """Where each variable is used: (field, argument) — to give it a value that means something there."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[str] = []
        self.uses: dict[str, tuple[str, str]] = {}

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        for argument in node.arguments or ():
            for variable in _variables_in(argument.value):
                self.uses.setdefault(variable, (node.name.value, argument.name.value))

    def enter_directive(self, node: Any, *_: Any) -> None:
        for argument in node.arguments or ():
            for variable in _variables_in(argument.value):
                self.uses.setdefault(variable, ("@" + node.name.value, argument.name.value))


def _variables_in(value: Any) -> Iterator[str]:
    if isinstance(value, VariableNode):
        yield value.name.value
    for child in getattr(value, "values", None) or getattr(value, "fields", None) or ():
        yield from _variables_in(getattr(child, "value", child))


def _unwrap(type_node: TypeNode) -> str:
    while isinstance(type_node, NonNullTypeNode | ListTypeNode):
        type_node = type_node.type
    assert isinstance(type_node, NamedTypeNode)
    return type_node.name.value


# --- the seeded world --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class World:
    tenant: str
    keys: dict[str, str]
    event_ids: list[str]
    correlations: list[str]
    node_ids: list[str]
    cursor: str
    compiled: httpx.AsyncClient
    reference: httpx.AsyncClient
    compiled_app: Any

    def variables_for(self, document: str, rng: random.Random) -> dict[str, Any]:
        """Meaningful values for a found document's variables, chosen by where each one is used."""
        parsed = parse(document)
        uses = _Uses()
        visit(parsed, uses)
        values: dict[str, Any] = {}
        for operation in (d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)):
            for definition in operation.variable_definitions or ():
                name = definition.variable.name.value
                field, argument = uses.uses.get(name, ("", ""))
                value = self._value(field, argument, _unwrap(definition.type), rng)
                if value is not None:
                    values[name] = value
        return values

    def _value(self, field: str, argument: str, type_name: str, rng: random.Random) -> Any:
        if field.startswith("@"):
            return rng.choice([True, False])
        if (field, argument) == ("event", "eventId"):
            return rng.choice(self.event_ids)
        if (field, argument) == ("correlation", "id"):
            return rng.choice(self.correlations)
        if (field, argument) == ("node", "id"):
            return rng.choice(self.node_ids)
        if (field, argument) == ("nodes", "ids"):
            return [*rng.sample(self.node_ids, 3), "not-a-node-id"]
        if argument in ("first", "last", "n"):
            return rng.choice([1, 3, 7])
        if argument == "after":
            return self.cursor if rng.random() < 0.5 else None
        if argument == "search":
            return rng.choice(["type:order.*", "source:checkout outcome:success", "actor.type:user"])
        if argument == "filter":
            return rng.choice([{"types": ["order.*", "payment.*"]}, {"actorType": "USER"}, {"outcome": "FAILURE"}])
        if argument == "orderBy":
            return {"field": "OCCURRED_AT", "direction": rng.choice(["ASC", "DESC"])}
        if type_name == "ID":
            return rng.choice(self.node_ids)
        if type_name == "String":
            return rng.choice(self.event_ids + self.correlations)
        if type_name == "Int":
            return 2
        return None

    async def both(
        self,
        document: str,
        variables: dict[str, Any] | None = None,
        key: str | None = "reader",
        operation_name: str | None = None,
    ) -> tuple[httpx.Response, httpx.Response]:
        headers = {"Authorization": f"Bearer {self.keys.get(key, key)}"} if key else {}
        body: dict[str, Any] = {"query": document, "variables": variables or {}}
        if operation_name:
            body["operationName"] = operation_name
        compiled = await self.compiled.post("/graphql", json=body, headers=headers)
        reference = await self.reference.post("/graphql", json=body, headers=headers)
        return compiled, reference


def _normalised(response: httpx.Response) -> bytes:
    """The body with the random id of a masked error replaced (it is new for every internal error)."""
    return (
        re.sub(rb"[0-9a-f]{16}", b"<error-id>", response.content)
        if b"INTERNAL" in response.content
        else (response.content)
    )


def assert_same(compiled: httpx.Response, reference: httpx.Response, where: str) -> None:
    assert reference.headers.get("x-audit-executor") == "reference"
    assert compiled.status_code == reference.status_code, where
    assert _normalised(compiled) == _normalised(reference), (
        f"{where}\ncompiled ({compiled.headers.get('x-audit-executor')}): {compiled.text[:3000]}\n"
        f"reference: {reference.text[:3000]}"
    )


async def _seed(engine: AsyncEngine, tenant: str) -> list[NewEvent]:
    """Demo flows (every contract, correlated, caused) plus order.placed v1 events served upcast."""
    principal = Principal("seed", "seed", frozenset({tenant}), frozenset({Scope.WRITE}), frozenset(SOURCES))
    events: list[NewEvent] = []
    for flow in flows(240, seed=11):
        for step in flow.steps:
            submission = Submission(envelope={**step.envelope, "tenant": tenant}, member=step.member, data=step.data)
            event = validate(submission, principal)
            assert not isinstance(event, Rejected), event
            events.append(event)
    for number in range(4):
        events.append(
            NewEvent(
                tenant=tenant,
                event_id=f"legacy-{number}",
                source="checkout",
                type="order.placed",
                schema_version=1,
                occurred_at=dt.datetime(2025, 1, 2, 3, 4, number, 600000, tzinfo=dt.UTC),
                actor_type="USER",
                actor_id="u_1",
                actor_display_name=None,
                actor_ip=None,
                actor_user_agent=None,
                target_type=None,
                target_id=None,
                target_display_name=None,
                outcome="SUCCESS",
                correlation_id="legacy-corr",
                causation_id=f"legacy-{number - 1}" if number else None,
                traceparent=None,
                data={
                    "orderId": f"o_{number}",
                    "total": {"amountMinor": 250 + number, "currency": "EUR"},
                    "itemCount": number,
                },
            )
        )
    await append(engine, events)
    return events


@pytest.fixture
async def world(engine: AsyncEngine, settings: Settings, tenant: str) -> AsyncIterator[World]:
    events = await _seed(engine, tenant)
    assert {e.type for e in events} >= {c for c in _contract_names()}, "the seed covers every contract"
    keys = {
        "reader": (await create_key(engine, name="reader", tenants=[tenant], scopes=["events:read"], sources=[]))[1],
        "writer": (
            await create_key(engine, name="writer", tenants=[tenant], scopes=["events:write"], sources=["checkout"])
        )[1],
        "bogus": "agw_0000_not-a-key",
    }
    compiled_app = create_app(settings, engine=engine)
    reference_app = create_app(settings.model_copy(update={"compiled_reads": False}), engine=engine)
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=compiled_app), base_url="http://gateway") as compiled,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=reference_app), base_url="http://gateway") as reference,
    ):
        page = await reference.post(
            "/graphql",
            json={"query": "{ events(first: 5) { pageInfo { endCursor } } }"},
            headers={"Authorization": f"Bearer {keys['reader']}"},
        )
        yield World(
            tenant=tenant,
            keys=keys,
            event_ids=[e.event_id for e in events[::7]] + ["no-such-event"],
            correlations=[*sorted({e.correlation_id for e in events if e.correlation_id})[::5], "no-such-corr"],
            node_ids=[node_id(tenant, sequence) for sequence in range(1, len(events) + 1, 9)]
            + [node_id("other-tenant", 1)],
            cursor=page.json()["data"]["events"]["pageInfo"]["endCursor"],
            compiled=compiled,
            reference=reference,
            compiled_app=compiled_app,
        )


def _contract_names() -> list[str]:
    from app.contracts.registry import CURRENT

    return [contract.name for contract in CURRENT]


# --- documents generated from the schema -------------------------------------------------------------------------


class Generator:
    """Random read documents over the whole read schema, most of them valid, some with errors in the middle."""

    def __init__(self, rng: random.Random, world: World) -> None:
        self.rng = rng
        self.world = world
        self.schema = build_schema(Settings())._schema
        self.concrete = [c.graphql_type for c in _contract_registry()]

    def document(self) -> tuple[str, dict[str, Any], bool]:
        """(document, variables, whether it contains a deliberate error)."""
        self.fragments: list[str] = []
        self.definitions: list[str] = []
        self.variables: dict[str, Any] = {}
        self.aliases = 0
        self.broken = False
        count = self.rng.choice([1, 1, 1, 2, 3])
        # Several root fields of one name need their own response keys (their arguments differ).
        roots = [self.root() if count == 1 else f"q{number}: {self.root()}" for number in range(count)]
        header = f"({', '.join(self.definitions)})" if self.definitions else ""
        name = self.rng.choice(["", "query ", "query Generated"])
        text = (
            f"{name}{header if name else ''} {{ {' '.join(roots)} }}"
            if name or not header
            else (f"query{header} {{ {' '.join(roots)} }}")
        )
        return text + "".join(self.fragments), self.variables, self.broken

    def alias(self) -> str:
        if self.rng.random() < 0.1:
            self.aliases += 1
            return f"a{self.aliases}: "
        return ""

    def variable(self, type_: str, value: Any) -> str:
        name = f"v{len(self.definitions)}"
        self.definitions.append(f"${name}: {type_}")
        self.variables[name] = value
        return f"${name}"

    def argument(self, type_: str, literal: str, value: Any) -> str:
        """A literal, or the same value through a variable."""
        return self.variable(type_, value) if self.rng.random() < 0.4 else literal

    def directive(self) -> str:
        roll = self.rng.random()
        if roll < 0.06:
            return f" @skip(if: {self.argument('Boolean!', 'true', True)})"
        if roll < 0.12:
            value = self.rng.choice([True, False])
            return f" @include(if: {self.argument('Boolean!', str(value).lower(), value)})"
        if roll < 0.15:
            return " @skip(if: false)"
        return ""

    def size(self, limit_errors: bool = True, sizes: tuple[int, ...] = (0, 1, 2, 3, 5, 8, 20)) -> int:
        size = self.rng.choice(sizes)
        if limit_errors and self.rng.random() < 0.03:
            self.broken = True
            return self.rng.choice([-1, 501])
        return size

    def root(self) -> str:
        """A root field; an alias of its own when it is not alone (see ``document``)."""
        kind = self.rng.choice(["events", "events", "events", "event", "node", "nodes", "correlation", "__typename"])
        if kind == "__typename":
            return "__typename"
        if kind == "event":
            event_id = self.rng.choice(self.world.event_ids)
            if self.rng.random() < 0.03:
                self.broken, event_id = True, "bad\u0001id"
            argument = self.argument("String!", _string(event_id), event_id)
            return f"event(eventId: {argument}) {{ {self.events('AuditEventUnion', 2)} }}"
        if kind == "node":
            argument = self.argument(
                "ID!", _string(self.rng.choice(self.world.node_ids)), self.rng.choice(self.world.node_ids)
            )
            return f"node(id: {argument}) {{ {self.events('Node', 2)} }}"
        if kind == "nodes":
            ids = [*self.rng.sample(self.world.node_ids, 3), "garbage"]
            literal = "[" + ", ".join(_string(i) for i in ids) + "]"
            return f"nodes(ids: {self.argument('[ID!]!', literal, ids)}) {{ {self.events('Node', 1)} }}"
        if kind == "correlation":
            corr = self.rng.choice(self.world.correlations)
            fields = self.pick(["id", "eventCount", "firstOccurredAt", "lastOccurredAt", "sources", "__typename"])
            if self.rng.random() < 0.7:
                order = self.rng.choice(["", ", orderBy: {direction: DESC}", ", orderBy: {field: OCCURRED_AT}"])
                fields.append(f"{self.alias()}events(first: {self.size()}{order}) {{ {self.connection(1)} }}")
            argument = self.argument("String!", _string(corr), corr)
            return f"correlation(id: {argument}) {{ {' '.join(fields)} }}"
        return f"events{self.page_arguments()} {{ {self.connection(2)} }}"

    def page_arguments(self) -> str:
        arguments = []
        roll = self.rng.random()
        if roll < 0.6:
            size = self.size()
            arguments.append(f"first: {self.argument('Int', str(size), size)}")
        elif roll < 0.8:
            arguments.append(f"last: {self.size()}")
        if self.rng.random() < 0.15:
            cursor = self.world.cursor
            self.broken = True  # a cursor of the first page: INVALID_CURSOR unless the filter and order match
            if self.rng.random() < 0.3:
                self.broken, cursor = True, self.rng.choice(["garbage", cursor[:-3] + "abc", ""])
            where = self.rng.choice(["after", "before"])
            arguments.append(f"{where}: {self.argument('String', _string(cursor), cursor)}")
        if self.rng.random() < 0.2:
            search = self.rng.choice(["type:order.*", "source:checkout", "outcome:failure", "actor.type:service"])
            if self.rng.random() < 0.1:
                self.broken, search = True, "colour:blue"
            arguments.append(f"search: {self.argument('String', _string(search), search)}")
        if self.rng.random() < 0.2:
            value = self.rng.choice([{"types": ["payment.*"]}, {"actorType": "SERVICE"}, {"sources": ["identity"]}])
            literal = {
                "types": '{types: ["payment.*"]}',
                "actorType": "{actorType: SERVICE}",
                "sources": '{sources: ["identity"]}',
            }[next(iter(value))]
            arguments.append(f"filter: {self.argument('AuditEventFilter', literal, value)}")
        if self.rng.random() < 0.2:
            arguments.append(
                self.rng.choice(["orderBy: {field: OCCURRED_AT, direction: ASC}", "orderBy: {direction: ASC}"])
            )
        if self.rng.random() < 0.02:
            self.broken = True
            arguments = ["first: 2", "last: 2"]
        return f"({', '.join(arguments)})" if arguments else ""

    def pick(self, names: list[str], at_least: int = 1) -> list[str]:
        count = self.rng.randint(at_least, len(names))
        return [f"{self.alias()}{name}" for name in self.rng.sample(names, count)]

    def connection(self, depth: int) -> str:
        parts = []
        for part in self.rng.sample(["edges", "nodes", "pageInfo", "totalCount", "__typename"], self.rng.randint(1, 3)):
            if part == "edges":
                edge = [*self.pick(["cursor", "__typename"], 0), f"node {{ {self.events('AuditEventUnion', depth)} }}"]
                self.rng.shuffle(edge)
                parts.append(f"{self.alias()}edges {{ {' '.join(edge)} }}")
            elif part == "nodes":
                parts.append(f"{self.alias()}nodes {{ {self.events('AuditEventUnion', depth)} }}")
            elif part == "pageInfo":
                info = self.pick(["hasNextPage", "hasPreviousPage", "startCursor", "endCursor", "__typename"])
                parts.append(f"pageInfo {{ {' '.join(info)} }}")
            else:
                parts.append(f"{self.alias()}{part}")
        return " ".join(parts)

    def events(self, position: str, depth: int) -> str:
        """A selection on an event at a union, Node or AuditEvent position."""
        parts = []
        if self.rng.random() < 0.5:
            parts.append("__typename")
        if position == "Node" and self.rng.random() < 0.5:
            parts.append(f"{self.alias()}id")
        for _ in range(self.rng.randint(1, 3)):
            roll = self.rng.random()
            if roll < 0.45:
                parts.append(f"... on AuditEvent{self.directive()} {{ {self.envelope(depth)} }}")
            elif roll < 0.75:
                type_name = self.rng.choice(self.concrete)
                body = self.concrete_selection(type_name, depth)
                parts.append(f"... on {type_name}{self.directive()} {{ {body} }}")
            elif roll < 0.85:
                parts.append(f"... on Node {{ {self.alias()}id }}")
            elif roll < 0.92:
                parts.append(f"...{self.directive()} {{ __typename }}")
            else:
                on = self.rng.choice(["AuditEvent", *self.concrete])
                body = self.envelope(depth) if on == "AuditEvent" else self.concrete_selection(on, depth)
                name = f"F{len(self.fragments)}"
                self.fragments.append(f"\nfragment {name} on {on} {{ {body} }}")
                parts.append(f"...{name}{self.directive()}")
        return " ".join(parts)

    def concrete_selection(self, type_name: str, depth: int) -> str:
        parts = [f"{self.alias()}data {{ {self.data(self._data_type(type_name))} }}"]
        if self.rng.random() < 0.5:
            parts.append(self.envelope(depth))
        self.rng.shuffle(parts)
        return " ".join(parts)

    def _data_type(self, type_name: str) -> GraphQLObjectType:
        field_type = self.schema.get_type(type_name).fields["data"].type  # type: ignore[union-attr]
        return field_type.of_type

    def data(self, type_: GraphQLObjectType) -> str:
        parts = []
        names = [*list(type_.fields), "__typename"]
        for name in self.rng.sample(names, self.rng.randint(1, len(names))):
            if name == "__typename":
                parts.append(name)
                continue
            inner = type_.fields[name].type
            while isinstance(inner, GraphQLNonNull | GraphQLList):
                inner = inner.of_type
            selection = f" {{ {self.data(inner)} }}" if isinstance(inner, GraphQLObjectType) else ""
            parts.append(f"{self.alias()}{name}{self.directive()}{selection}")
        return " ".join(parts)

    def envelope(self, depth: int) -> str:
        scalars = [
            "id",
            "eventId",
            "tenant",
            "source",
            "type",
            "schemaVersion",
            "sequence",
            "occurredAt",
            "recordedAt",
            "outcome",
            "correlationId",
            "causationId",
            "traceparent",
            "traceId",
        ]
        parts = self.pick(self.rng.sample(scalars, self.rng.randint(1, 6)))
        if self.rng.random() < 0.4:
            parts.append(f"actor {{ {' '.join(self.pick(['type', 'id', 'displayName', 'ip', 'userAgent']))} }}")
        if self.rng.random() < 0.3:
            target = self.pick(["type", "id", "displayName", "__typename"])
            parts.append(f"{self.alias()}target {{ {' '.join(target)} }}")
        if self.rng.random() < 0.15:
            parts.append(f"integrity {{ {' '.join(self.pick(['hash', 'previousHash', 'canonical']))} }}")
        if depth > 0:
            if self.rng.random() < 0.35:
                cause = self.events("AuditEventUnion", depth - 1)
                parts.append(f"{self.alias()}causedBy{self.directive()} {{ {cause} }}")
            for relation in ("effects", "correlated"):
                if self.rng.random() < 0.25:
                    size = self.size(sizes=(0, 1, 2, 3))
                    first = "" if self.rng.random() < 0.3 else f"(first: {self.argument('Int!', str(size), size)})"
                    self.aliases += 1  # fields with different arguments need their own response keys
                    alias = f"r{self.aliases}: " if first else ""
                    parts.append(f"{alias}{relation}{first} {{ {self.events('AuditEventUnion', depth - 1)} }}")
        self.rng.shuffle(parts)
        return " ".join(parts)


def _contract_registry() -> list[Any]:
    from app.contracts.registry import CURRENT

    return list(CURRENT)


def _string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\u0001", "\\u0001") + '"'


# --- the tests ---------------------------------------------------------------------------------------------------


async def test_found_documents_answer_identically(world: World) -> None:
    rng = random.Random(5)
    documents = found_documents()
    assert len(documents) >= 40, documents  # README, tests, acceptance and gwbench together
    compiled = 0  # documents the compiled executor served at least once
    for where, document in documents:
        operations = [
            d.name.value if d.name else None
            for d in parse(document).definitions
            if isinstance(d, OperationDefinitionNode)
        ]
        served = set()
        for operation_name in operations if len(operations) > 1 else [None]:
            for key in ("reader", "reader", "writer"):
                variables = world.variables_for(document, rng)
                pair = await world.both(document, variables, key=key, operation_name=operation_name)
                assert_same(*pair, where=f"{where}: {document} {variables} key={key}")
                served.add(pair[0].headers["x-audit-executor"])
        compiled += "compiled" in served
    # The others are mutations, introspection, eventTypes, verifyIntegrity, invalid or refused documents.
    assert compiled >= 40, f"{compiled} of {len(documents)} found documents were served by the compiled executor"
    assert not [r for r in world.compiled_app.state.compiled.reasons if r.startswith("failed")]


async def test_generated_documents_answer_identically(world: World) -> None:
    rng = random.Random(20261125)
    generator = Generator(rng, world)
    served: dict[str, int] = {"compiled": 0, "reference": 0}
    for number in range(GENERATED):
        document, variables, broken = generator.document()
        key = rng.choices(["reader", "writer", "bogus", None], weights=[92, 3, 3, 2])[0]
        compiled, reference = await world.both(document, variables, key=key)
        assert_same(compiled, reference, where=f"#{number}: {document}\nvariables: {variables} key={key}")
        executor = compiled.headers["x-audit-executor"]
        served[executor] += 1
        if b'"errors"' not in reference.content:
            assert executor == "compiled", (document, variables, compiled.text[:500])
        elif not broken and key == "reader":  # a generated document that is not valid GraphQL
            assert re.search(rb"GRAPHQL_VALIDATION_FAILED|LIMIT_EXCEEDED", reference.content), reference.text[:2000]
    assert served["compiled"] >= GENERATED * 0.75, served
    assert not [r for r in world.compiled_app.state.compiled.reasons if r.startswith("failed")]


async def test_errors_answer_identically(world: World) -> None:
    """Errors in the middle: bad cursors, page sizes, search terms, ids; auth; variables that do not coerce."""
    cases: list[tuple[str, dict[str, Any], str | None]] = [
        ('{ events(first: 2, after: "garbage") { edges { cursor } } }', {}, "reader"),
        (
            "query($c: String) { a: events(first: 1) { totalCount } b: events(first: 2, after: $c) { totalCount } }",
            {"c": "eyJrIjpbMV0sInEiOiJ4In0"},
            "reader",
        ),
        ("{ events(first: 1) { nodes { ... on AuditEvent { effects(first: 501) { __typename } } } } }", {}, "reader"),
        (
            "{ events(first: 3) { nodes { ... on AuditEvent { eventId correlated(first: -2) { __typename } } } } }",
            {},
            "reader",
        ),
        ('{ events(first: 2, search: "colour:blue") { totalCount } }', {}, "reader"),
        ("query($n: Int) { events(first: $n) { totalCount } }", {"n": "three"}, "reader"),
        ("query($n: Int!) { events(first: $n) { totalCount } }", {}, "reader"),
        ('{ event(eventId: "a\\u0000b") { __typename } }', {}, "reader"),
        ("{ events(first: 2) { totalCount } }", {}, None),
        ("{ events(first: 2) { totalCount } }", {}, "writer"),
        ("{ events(first: 2) { totalCount } }", {}, "bogus"),
        ("{ x: events(first: 1) { totalCount } y: nodes(ids: $ids) { id } }", {}, "reader"),
        ("{ events(first: 1) { edges { node { eventId } } } }", {}, "reader"),
    ]
    for document, variables, key in cases:
        compiled, reference = await world.both(document, variables, key=key)
        assert_same(compiled, reference, where=document)
        assert b'"errors"' in compiled.content, document


async def test_masked_internal_errors_answer_identically(engine: AsyncEngine, world: World) -> None:
    """A stored row the contract cannot serve: both executors mask it the same way (INTERNAL with an errorId)."""
    broken = f"{world.tenant}-broken"
    await append(
        engine,
        [
            stored_event(
                tenant=broken,
                event_id="bad-1",
                type="order.placed",
                schema_version=2,
                occurred_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
                data={"orderId": "o", "total": {"amountMinor": 1, "currency": "EUR"}, "itemCount": 1},  # no channel
            )
        ],
    )
    reader = (await create_key(engine, name="r", tenants=[broken], scopes=["events:read"], sources=[]))[1]
    for document in (
        "{ events(first: 5) { edges { node { ... on OrderPlaced { eventId data { orderId channel } } } } } }",
        "{ events(first: 5) { nodes { __typename ... on OrderPlaced { data { channel } } } } }",
        '{ event(eventId: "bad-1") { ... on OrderPlaced { data { itemCount channel } } } }',
    ):
        compiled, reference = await world.both(document, key=reader)
        assert_same(compiled, reference, where=document)
        assert b"INTERNAL" in compiled.content and compiled.headers["x-audit-executor"] == "reference"
    # The reference decodes every event it serves, selected or not: so does the plan.
    compiled, reference = await world.both(
        "{ events(first: 5) { nodes { ... on AuditEvent { eventId } } } }", key=reader
    )
    assert_same(compiled, reference, where="envelope only")
    assert b"INTERNAL" in compiled.content and compiled.headers["x-audit-executor"] == "reference"


async def test_unsupported_documents_fall_back_visibly(world: World) -> None:
    executor = world.compiled_app.state.compiled
    for document, reason in (
        ("{ eventTypes { type } }", "unsupported: root field eventTypes"),
        ("{ verifyIntegrity { ok checkedCount } }", "unsupported: root field verifyIntegrity"),
        ("{ __schema { queryType { name } } }", "unsupported: root field __schema"),
        ('{ __type(name: "AuditEvent") { name } }', "unsupported: root field __type"),
        ("{ events(first: 1) { totalCount } nope }", "invalid"),
        ("mutation { recordEvents(events: []) { acceptedCount } }", "unsupported: mutation"),
    ):
        before = executor.reasons[reason]
        compiled, reference = await world.both(document)
        assert_same(compiled, reference, where=document)
        assert compiled.headers["x-audit-executor"] == "reference"
        assert executor.reasons[reason] == before + 1, (reason, executor.reasons)
    compiled, _ = await world.both("{ events(first: 1) { totalCount } }")
    assert compiled.headers["x-audit-executor"] == "compiled"


NESTED = """query($first: Int) { events(first: $first) { edges { node { ... on AuditEvent { eventId
  causedBy { ... on AuditEvent { eventId causedBy { __typename } } }
  effects(first: 5) { ... on AuditEvent { eventId } }
  correlated(first: 5) { ... on AuditEvent { eventId } } } } } } }"""


LOOKAHEAD = [  # the page read with its causes or not (app.graphql.lookahead): both executors decide alike
    """query($first: Int, $skip: Boolean!) { events(first: $first) { nodes { ... on AuditEvent { eventId
      causedBy @skip(if: $skip) { ... on AuditEvent { eventId } } } } } }""",
    """query($first: Int, $skip: Boolean!) { correlation(id: "no-such-corr") { id } events(first: $first) {
      edges { node { ...Cause } } } } fragment Cause on RefundIssued { causedBy @include(if: $skip) { __typename } }""",
    """query($first: Int) { events(first: $first) { edges { node { ... on AuditEvent { eventId
      effects { ... on AuditEvent { causedBy { __typename } } } } } } } }""",
]


async def test_both_executors_send_the_same_statements(world: World, statements: StatementCounter) -> None:
    """Same store calls, same batching: a level of relations is one statement per loader in both."""
    for document in (NESTED, *LOOKAHEAD, *(d for where, d in found_documents() if where == "gwbench.mjs")):
        for first in (3, 50):
            counts = {}
            for name, client in (("compiled", world.compiled), ("reference", world.reference)):
                await client.post(
                    "/graphql",
                    json={"query": "{ __typename }"},
                    headers={"Authorization": f"Bearer {world.keys['reader']}"},
                )  # key now cached
                statements.statements.clear()
                response = await client.post(
                    "/graphql",
                    json={"query": document, "variables": {"first": first, "skip": first == 3}},
                    headers={"Authorization": f"Bearer {world.keys['reader']}"},
                )
                assert response.headers["x-audit-executor"] == name and b'"errors"' not in response.content
                counts[name] = statements.statements[:]
            assert len(counts["compiled"]) == len(counts["reference"]), counts
            assert sorted(counts["compiled"]) == sorted(counts["reference"])


async def test_compiled_levels_flush_their_own_keys(world: World) -> None:
    """A compiled level asks for all its keys, then runs their loaders itself: no rounds task is started (the
    reference's resolvers need one per level); the answers are the same (``test_found_documents…``)."""
    headers = {"Authorization": f"Bearer {world.keys['reader']}"}
    started = {}
    for name, client in (("compiled", world.compiled), ("reference", world.reference)):
        before = ROUNDS["started"]
        response = await client.post("/graphql", json={"query": NESTED, "variables": {"first": 50}}, headers=headers)
        assert response.headers["x-audit-executor"] == name and b'"errors"' not in response.content
        started[name] = ROUNDS["started"] - before
    assert started["compiled"] == 0 and started["reference"] > 0, started
