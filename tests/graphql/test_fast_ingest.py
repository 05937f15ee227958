"""The ingestion fast path answers byte for byte what the reference path answers.

Two gateways over two fresh databases of the same backend, one with the fast path and one without
(``AUDIT_FAST_INGEST=false``), get the same requests in the same order under the same clock: every rule of
the README's validation table at its boundaries, GraphQL type errors that refuse a whole request,
duplicates and conflicts, and a range of documents. Their HTTP bodies must be equal, and most requests
must actually have taken the fast path.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app import ingest
from app.auth.keys import create_key
from app.config import Settings
from app.graphql import fast_ingest
from app.server import create_app
from app.store import append as store_append
from app.store.engine import create_engine
from app.store.migrate import upgrade
from tests.helpers import POSTGRES_ADMIN_URL, RECORD, SOURCES, postgres_admin

TENANT = "acme"
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
BEFORE = (NOW - dt.timedelta(minutes=1)).isoformat()
RECORDED = NOW + dt.timedelta(seconds=1)

Mutation = Callable[[dict[str, Any]], None]


def base(n: int, member: str = "orderPlaced") -> dict[str, Any]:
    data: dict[str, dict[str, Any]] = {
        "orderPlaced": {
            "orderId": f"o_{n}",
            "total": {"amountMinor": "1999", "currency": "EUR"},
            "itemCount": 2,
            "channel": "WEB",
        },
        "paymentCaptured": {
            "paymentId": f"p_{n}",
            "orderId": f"o_{n}",
            "amount": {"amountMinor": 5, "currency": "USD"},
            "provider": "acmepay",
        },
        "userSignedIn": {"method": "SSO", "mfa": True},
        "userSignInFailed": {"method": "PASSWORD", "failureReason": "BAD_CREDENTIALS", "attempt": 1},
        "apiKeyCreated": {"keyId": "k_1", "name": "ci", "scopes": ["a", "b"], "expiresAt": "2030-01-01T00:00:00Z"},
        "settingChanged": {"setting": "retention", "changes": [{"field": "days", "before": "30", "after": "90"}]},
        "dataExported": {"dataset": "orders", "format": "CSV", "recordCount": 10, "destination": "s3://x"},
        "roleGranted": {"role": "admin", "granteeId": "u_2", "scope": "org"},
        "refundIssued": {"refundId": "r_1", "paymentId": "p_1", "amount": {"amountMinor": "0", "currency": "JPY"}},
    }
    return {
        "eventId": f"ev_{n}",
        "source": "checkout",
        "occurredAt": BEFORE,
        "actor": {"type": "USER", "id": "u_42", "displayName": "Ada", "ip": "203.0.113.7", "userAgent": "Firefox"},
        "target": {"type": "order", "id": f"o_{n}"},
        "correlationId": "c_1",
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "data": {member: data[member]},
    }


def at(path: str, value: Any) -> Mutation:
    """Set (or, with ``...``, delete) the value at a dotted path."""
    *parents, last = path.split(".")

    def mutate(event: dict[str, Any]) -> None:
        node: Any = event
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if value is ...:
            node.pop(last, None)
        else:
            node[last] = value

    return mutate


# Per-input rules: each variant is coerced by GraphQL, then rejected (or accepted) on its own.
PER_INPUT: list[tuple[str, Mutation]] = [
    *[(f"eventId-len-{n}", at("eventId", "e" * n)) for n in (1, 199, 200, 201)],
    ("eventId-empty", at("eventId", "")),
    ("eventId-space", at("eventId", "a b")),
    ("eventId-tab", at("eventId", "a\tb")),
    ("eventId-nbsp", at("eventId", "a\u00a0b")),
    ("eventId-zwj", at("eventId", "a\u200db")),
    ("eventId-bidi", at("eventId", "a\u202eb")),
    ("eventId-emoji", at("eventId", "caf\u00e9\U0001f600")),
    ("eventId-surrogate", at("eventId", "a\ud800b")),
    ("eventId-control", at("eventId", "a\x01b")),
    ("eventId-del", at("eventId", "a\x7fb")),
    ("eventId-c1", at("eventId", "a\x85b")),
    *[(f"source-len-{n}", at("source", "s" * n)) for n in (64, 65)],
    ("source-upper", at("source", "Checkout")),
    ("source-empty", at("source", "")),
    ("source-forbidden", at("source", "elsewhere")),
    ("source-dot-start", at("source", ".x")),
    ("tenant-own", at("tenant", TENANT)),
    ("tenant-other", at("tenant", "other")),
    ("tenant-bad", at("tenant", "A B")),
    ("tenant-null", at("tenant", None)),
    *[(f"displayName-len-{n}", at("actor.displayName", "d" * n)) for n in (0, 1000, 1001)],
    ("displayName-newline", at("actor.displayName", "a\nb\tc\r")),
    ("displayName-surrogate", at("actor.displayName", "\udfff")),
    ("displayName-ls", at("actor.displayName", "a\u2028b")),
    ("userAgent-long", at("actor.userAgent", "u" * 1001)),
    ("actor-id-long", at("actor.id", "a" * 201)),
    *[
        (f"ip-{v}", at("actor.ip", v))
        for v in (
            "0.0.0.0",
            "255.255.255.255",
            "256.1.1.1",
            "01.2.3.4",
            "1.2.3",
            "::1",
            "2001:db8::1",
            "fe80::1%eth0",
            "::ffff:1.2.3.4",
            "1.2.3.4 ",
            "",
            "x" * 46,
            "\u0661.2.3.4",
        )
    ],
    ("ip-null", at("actor.ip", None)),
    ("target-null", at("target", None)),
    ("target-missing", at("target", ...)),
    ("target-type-long", at("target.type", "t" * 201)),
    ("target-display-long", at("target.displayName", "t" * 1001)),
    ("correlation-empty", at("correlationId", "")),
    ("correlation-long", at("correlationId", "c" * 201)),
    ("causation-self", lambda e: e.update(causationId=e["eventId"])),
    ("causation-other", at("causationId", "ev_0")),
    ("outcome-failure", at("outcome", "FAILURE")),
    ("outcome-missing", at("outcome", ...)),
    *[
        (f"traceparent-{i}", at("traceparent", v))
        for i, v in enumerate(
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
                "",
            )
        )
    ],
    ("occurred-4min-ahead", at("occurredAt", (NOW + dt.timedelta(minutes=4)).isoformat())),
    ("occurred-6min-ahead", at("occurredAt", (NOW + dt.timedelta(minutes=6)).isoformat())),
    ("occurred-offset", at("occurredAt", "2026-01-01T12:00:00.123456+05:30")),
    ("occurred-year-1", at("occurredAt", "0001-01-01T00:00:00Z")),
    ("currency-bad", at("data.orderPlaced.total.currency", "EURO")),
    ("currency-lower", at("data.orderPlaced.total.currency", "eur")),
    ("currency-xau", at("data.orderPlaced.total.currency", "XAU")),
    ("amount-negative", at("data.orderPlaced.total.amountMinor", "-1")),
    ("amount-negative-int", at("data.orderPlaced.total.amountMinor", -5)),
    ("amount-zero", at("data.orderPlaced.total.amountMinor", 0)),
    ("amount-max", at("data.orderPlaced.total.amountMinor", str(2**63 - 1))),
    ("amount-min", at("data.orderPlaced.total.amountMinor", str(-(2**63)))),
    ("itemCount-negative", at("data.orderPlaced.itemCount", -1)),
    ("itemCount-max", at("data.orderPlaced.itemCount", 2**31 - 1)),
    ("orderId-empty", at("data.orderPlaced.orderId", "")),
    ("orderId-long", at("data.orderPlaced.orderId", "o" * 201)),
    (
        "many-problems",
        lambda e: e.update(
            eventId="",
            source="X",
            correlationId="c" * 201,
            traceparent="bad",
            occurredAt=(NOW + dt.timedelta(hours=1)).isoformat(),
        ),
    ),
]

PER_MEMBER: list[tuple[str, str, Mutation]] = [
    ("payment-provider-empty", "paymentCaptured", at("data.paymentCaptured.provider", "")),
    ("payment-provider-1000", "paymentCaptured", at("data.paymentCaptured.provider", "p" * 1000)),
    ("payment-provider-1001", "paymentCaptured", at("data.paymentCaptured.provider", "p" * 1001)),
    ("signin-ok", "userSignedIn", at("data.userSignedIn.sessionId", "s_1")),
    ("signin-session-null", "userSignedIn", at("data.userSignedIn.sessionId", None)),
    ("failed-attempt-0", "userSignInFailed", at("data.userSignInFailed.attempt", 0)),
    ("failed-attempt-1", "userSignInFailed", at("data.userSignInFailed.attempt", 1)),
    ("scopes-50", "apiKeyCreated", at("data.apiKeyCreated.scopes", [f"s{i}" for i in range(50)])),
    ("scopes-51", "apiKeyCreated", at("data.apiKeyCreated.scopes", [f"s{i}" for i in range(51)])),
    ("scopes-bad-id", "apiKeyCreated", at("data.apiKeyCreated.scopes", ["ok", "not ok"])),
    ("expires-null", "apiKeyCreated", at("data.apiKeyCreated.expiresAt", None)),
    ("changes-0", "settingChanged", at("data.settingChanged.changes", [])),
    ("changes-100", "settingChanged", at("data.settingChanged.changes", [{"field": f"f{i}"} for i in range(100)])),
    ("changes-101", "settingChanged", at("data.settingChanged.changes", [{"field": f"f{i}"} for i in range(101)])),
    ("value-4096", "settingChanged", at("data.settingChanged.changes.0.after", "v" * 4096)),
    ("value-4097", "settingChanged", at("data.settingChanged.changes.0.after", "v" * 4097)),
    ("value-control", "settingChanged", at("data.settingChanged.changes.0.before", "a\x00b")),
    ("records-negative", "dataExported", at("data.dataExported.recordCount", -1)),
    ("role-long", "roleGranted", at("data.roleGranted.role", "r" * 1001)),
    ("refund-reason", "refundIssued", at("data.refundIssued.reason", "r" * 1001)),
]

# GraphQL type errors: the whole request is refused (the fast path must hand these to the reference path).
TYPE_ERRORS: list[tuple[str, Mutation]] = [
    ("missing-eventId", at("eventId", ...)),
    ("missing-actor", at("actor", ...)),
    ("null-source", at("source", None)),
    ("eventId-int", at("eventId", 5)),
    ("eventId-list", at("eventId", ["a"])),
    ("actor-type-unknown", at("actor.type", "ROBOT")),
    ("actor-type-lower", at("actor.type", "user")),
    ("actor-string", at("actor", "u_42")),
    ("unknown-field", at("colour", "red")),
    ("unknown-actor-field", at("actor.email", "a@b")),
    ("two-members", lambda e: e["data"].update(userSignedIn={"method": "SSO", "mfa": True})),
    ("no-member", at("data", {})),
    ("null-member", at("data", {"orderPlaced": None})),
    ("unknown-member", at("data", {"orderShipped": {}})),
    ("data-missing", at("data", ...)),
    ("datetime-naive", at("occurredAt", "2026-01-01T00:00:00")),
    ("datetime-garbage", at("occurredAt", "yesterday")),
    ("datetime-int", at("occurredAt", 1700000000)),
    ("datetime-too-early", at("occurredAt", "0001-01-01T00:00:00+23:59")),
    ("bigint-too-big", at("data.orderPlaced.total.amountMinor", str(2**63))),
    ("bigint-float", at("data.orderPlaced.total.amountMinor", 1.5)),
    ("bigint-bool", at("data.orderPlaced.total.amountMinor", True)),
    ("bigint-text", at("data.orderPlaced.total.amountMinor", "12a")),
    ("int-too-big", at("data.orderPlaced.itemCount", 2**31)),
    ("int-float-integral", at("data.orderPlaced.itemCount", 2.0)),
    ("int-string", at("data.orderPlaced.itemCount", "2")),
    ("enum-channel", at("data.orderPlaced.channel", "FAX")),
    ("mfa-string", at("data", {"userSignedIn": {"method": "SSO", "mfa": "yes"}})),
    ("outcome-null", at("outcome", None)),
]

DOCUMENTS = [
    RECORD,
    "mutation Record($events: [RecordEventInput!]!) { recordEvents(events: $events) { acceptedCount "
    "duplicateCount rejectedCount results { __typename ... on EventRejected { index eventId errors { path code "
    "message } } } } }",
    "mutation($e: [RecordEventInput!]!) { r: recordEvents(events: $e) { __typename n: rejectedCount "
    "results { ...R ... on EventAccepted { event { __typename ...E } } } results { ... on EventRejected { "
    "errors { code } } } } } fragment R on RecordEventResult { __typename ... on EventRejected { index } "
    "...R2 } fragment R2 on EventRejected { eventId errors { __typename path } } "
    "fragment E on Node { id ... on AuditEvent { sequence actor { __typename type } target { id } } "
    "... on OrderPlaced { eventId integrity { hash } } }",
    # Not covered (each answered by the reference path, visibly):
    "mutation($events: [RecordEventInput!]!) { recordEvents(events: $events) { results { ... on EventAccepted "
    "{ event { ... on OrderPlaced { data { orderId } } } } } } }",
    "mutation($events: [RecordEventInput!]!, $all: Boolean!) { recordEvents(events: $events) { acceptedCount "
    "results @include(if: $all) { __typename } } }",
]


class Pair:
    """A gateway with the fast path and one without, each on a database of its own with keys of the same rights."""

    def __init__(self, fast: httpx.AsyncClient, reference: httpx.AsyncClient, keys: list[dict[str, str]]) -> None:
        self.clients = (fast, reference)
        self.keys = keys
        self.executors: list[str | None] = []

    async def same(self, body: dict[str, Any], key: str = "writer", masked: bool = False) -> dict[str, Any]:
        raw = json.dumps(body).encode()
        answers = []
        for client, keys in zip(self.clients, self.keys, strict=True):
            answers.append(
                await client.post(
                    "/graphql",
                    content=raw,
                    headers={"Authorization": f"Bearer {keys[key]}", "Content-Type": "application/json"},
                )
            )
        fast, reference = answers
        assert reference.headers.get(fast_ingest.HEADER) == "reference"  # the reference gateway has fast ingest off
        contents = [answer.content for answer in answers]
        if masked:  # a masked error's id is new each time
            contents = [re.sub(rb"[0-9a-f]{16}", b"ID", content) for content in contents]
        assert (fast.status_code, contents[0]) == (reference.status_code, contents[1]), body
        self.executors.append(fast.headers.get(fast_ingest.HEADER))
        return fast.json()


async def _fresh(backend: str, tmp: Any, created: list[str]) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp / f'{uuid.uuid4().hex[:8]}.db'}"
    name = f"audit_test_ingest_{uuid.uuid4().hex[:10]}"
    await postgres_admin(f'CREATE DATABASE "{name}"')
    created.append(name)
    return f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"


@pytest.fixture
async def pair(backend: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Pair]:
    monkeypatch.setattr(store_append, "utc_now", lambda: RECORDED)
    created: list[str] = []
    engines: list[AsyncEngine] = []
    clients: list[httpx.AsyncClient] = []
    keys: list[dict[str, str]] = []
    try:
        for fast in (True, False):
            url = await _fresh(backend, tmp_path, created)
            engine = create_engine(url)
            engines.append(engine)
            await upgrade(engine)
            own = {}
            for name, tenants, scopes in (
                ("writer", [TENANT], ["events:write"]),
                ("multi", [TENANT, "other"], ["events:write"]),
                ("reader", [TENANT], ["events:read"]),
            ):
                own[name] = (await create_key(engine, name=name, tenants=tenants, scopes=scopes, sources=SOURCES))[1]
            keys.append(own)
            app = create_app(Settings(database_url=url, fast_ingest=fast), engine=engine)
            clients.append(httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway"))
        yield Pair(clients[0], clients[1], keys)
    finally:
        for client in clients:
            await client.aclose()
        for engine in engines:
            await engine.dispose()
        for name in created:
            await postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def boundary_variants() -> list[dict[str, Any]]:
    events = []
    for n, (_, mutate) in enumerate(PER_INPUT):
        event = base(1000 + n)
        mutate(event)
        events.append(event)
    for n, (_, member, mutate) in enumerate(PER_MEMBER):
        event = base(2000 + n, member)
        mutate(event)
        events.append(event)
    return events


async def test_fast_and_reference_paths_answer_alike(pair: Pair) -> None:
    variants = boundary_variants()
    for document in DOCUMENTS:
        for start in range(0, len(variants), 40):
            chunk = copy.deepcopy(variants[start : start + 40])
            body = {"query": document, "variables": {"events": chunk, "e": chunk, "all": True}}
            await pair.same(body)
            await pair.same(body)  # duplicates (and the same rejections) the second time
    first = variants[0]
    conflicting = copy.deepcopy(first)
    conflicting["actor"]["displayName"] = "Someone else"
    await pair.same({"query": RECORD, "variables": {"events": [first, conflicting, first]}})
    for _, mutate in TYPE_ERRORS:
        event = base(3000)
        mutate(event)
        await pair.same({"query": RECORD, "variables": {"events": [base(3001), event]}})
    for variables in (
        {"events": base(3002)},
        {"events": None},
        {},
        {"events": [None]},
        {"events": "x"},
        {"events": []},
    ):
        await pair.same({"query": RECORD, "variables": variables})
    await pair.same({"query": RECORD, "variables": {"events": [base(3003)]}}, key="reader")
    await pair.same({"query": RECORD, "variables": {"events": [base(3004), base(3005)]}}, key="multi")
    other = base(3006)
    other["tenant"] = "other"
    await pair.same({"query": RECORD, "variables": {"events": [other]}}, key="multi")
    await pair.same({"query": RECORD, "variables": {"events": [base(n) for n in range(4000, 5001)]}})  # > batch max

    fast = pair.executors.count("fast-ingest")
    assert fast >= 2 * 3 * ((len(variants) + 39) // 40) + 3, pair.executors
    assert "reference" in pair.executors  # the uncovered documents and the type errors


async def test_a_database_failure_is_the_same_masked_error(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(ingest, "append", broken)  # the write path calls the store through this name
    body = await pair.same(
        {"query": RECORD.replace("recordEvents(", "r: recordEvents("), "variables": {"events": [base(1)]}}, masked=True
    )
    assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "INTERNAL"
    assert pair.executors == ["fast-ingest"]


def test_unknown_schema_extensions_turn_the_fast_path_off() -> None:
    from strawberry.extensions import SchemaExtension

    from app.graphql.schema import build_schema

    class Unknown(SchemaExtension):
        pass

    schema = build_schema(Settings())
    original = schema.extensions
    try:
        schema.extensions = [*original, Unknown]
        assert fast_ingest.FastIngest(schema).disabled == "extension-Unknown"
    finally:
        schema.extensions = original
    assert fast_ingest.FastIngest(schema).disabled is None
