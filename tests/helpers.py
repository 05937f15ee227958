"""Helpers shared by the test modules (fixtures live in conftest.py; everything here is a plain import).

- basics: ``now``, ``uid``, ``SOURCES``, the PostgreSQL admin connection
- ``Keys``, ``Api`` (a GraphQL client bound to the in-process app), ``StatementCounter``
- event inputs in the shape ``recordEvents`` takes, and the ``RECORD`` mutation
- the hostile-caller checks (``*_hostile.py`` modules): each attack gets a clear 4xx or a GraphQL error with the
  right code, never a 500, never a stack trace, SQL or a path in the body; and the gateway still answers a normal
  query afterwards (``healthy``). Attacks on the transport do not depend on the database and run on SQLite only
  (``SQLITE_ONLY``); everything that reaches the store runs on both backends. Some of these attacks found real
  bugs (500s on JSON bodies that are not an object; INTERNAL errors on out-of-range instants and forged cursors,
  one first found by tests/test_fuzz.py); they are kept as regression tests.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from app.store.records import NewEvent

POSTGRES_ADMIN_URL = os.environ.get("AUDIT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
REQUIRE_POSTGRES = os.environ.get("AUDIT_REQUIRE_POSTGRES") == "1"
SOURCES = ["checkout", "payments", "identity", "console"]


def now(offset_seconds: float = 0) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=offset_seconds)).isoformat()


def uid() -> str:
    return uuid.uuid4().hex[:12]


async def postgres_admin(statement: str) -> None:
    """Runs one statement (CREATE/DROP DATABASE) on the PostgreSQL server the tests use."""
    import asyncpg

    url = POSTGRES_ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(url, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


# Keys, the GraphQL client, statement counting --------------------------------------------------------------------


@dataclass
class Keys:
    writer: str
    reader: str
    rw: str


class Api:
    """A GraphQL client bound to the in-process ASGI app."""

    def __init__(self, client: httpx.AsyncClient, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    async def post(self, query: str, variables: dict[str, Any] | None = None, key: str | None = "rw") -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {getattr(self.keys, key)}"} if key else {}
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def ok(self, query: str, variables: dict[str, Any] | None = None, key: str = "rw") -> dict[str, Any]:
        body = await self.post(query, variables, key)
        assert not body.get("errors"), body["errors"]
        return body["data"]

    async def errors(self, query: str, variables: dict[str, Any] | None = None, key: str | None = "rw") -> list[dict]:
        body = await self.post(query, variables, key)
        assert body.get("errors"), f"expected errors, got {body}"
        return body["errors"]


class StatementCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement != "BEGIN" and not statement.startswith("BEGIN "):  # SQLite's explicit transaction start
            self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)


# Event inputs ----------------------------------------------------------------------------------------------------


def order_placed(event_id: str | None = None, corr: str | None = None, **over: Any) -> dict[str, Any]:
    event_id = event_id or f"ord_{uid()}"
    event = {
        "eventId": event_id,
        "source": "checkout",
        "occurredAt": now(-60),
        "actor": {"type": "USER", "id": "u_42", "displayName": "Ada", "ip": "203.0.113.7", "userAgent": "Firefox"},
        "target": {"type": "order", "id": f"o_{event_id}"},
        "correlationId": corr,
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "data": {
            "orderPlaced": {
                "orderId": f"o_{event_id}",
                "total": {"amountMinor": "1999", "currency": "EUR"},
                "itemCount": 2,
                "channel": "WEB",
            }
        },
    }
    event.update(over)
    return event


def payment_captured(
    event_id: str | None = None, corr: str | None = None, cause: str | None = None, **over: Any
) -> dict[str, Any]:
    event = {
        "eventId": event_id or f"pay_{uid()}",
        "source": "payments",
        "occurredAt": now(-50),
        "actor": {"type": "SERVICE", "id": "payments-worker"},
        "correlationId": corr,
        "causationId": cause,
        "data": {
            "paymentCaptured": {
                "paymentId": f"p_{uid()}",
                "orderId": "o_1",
                "amount": {"amountMinor": "1999", "currency": "EUR"},
                "provider": "acmepay",
            }
        },
    }
    event.update(over)
    return event


def refund_issued(event_id: str | None = None, corr: str | None = None, cause: str | None = None) -> dict[str, Any]:
    return {
        "eventId": event_id or f"ref_{uid()}",
        "source": "payments",
        "occurredAt": now(-40),
        "actor": {"type": "USER", "id": "u_7"},
        "correlationId": corr,
        "causationId": cause,
        "data": {
            "refundIssued": {
                "refundId": f"r_{uid()}",
                "paymentId": "p_1",
                "amount": {"amountMinor": "500", "currency": "EUR"},
                "reason": "damaged",
            }
        },
    }


RECORD = """
mutation Record($events: [RecordEventInput!]!) {
  recordEvents(events: $events) {
    acceptedCount duplicateCount rejectedCount
    results {
      __typename
      ... on EventAccepted { index event { ...Ev } }
      ... on EventDuplicate { index event { ...Ev } }
      ... on EventRejected { index eventId errors { path code message } }
    }
  }
}
fragment Ev on AuditEvent {
  id eventId tenant source type schemaVersion sequence occurredAt recordedAt
  actor { type id displayName ip userAgent } target { type id displayName }
  outcome correlationId causationId traceparent traceId
  integrity { hash previousHash canonical }
}
"""


# Hostile-caller checks -------------------------------------------------------------------------------------------

LEAKS = ("Traceback", "sqlalchemy", "SELECT ", "/work/", ".py")

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def served_client(app: Any) -> httpx.AsyncClient:
    """A client that gets an unhandled exception as the 500 a server would send (``clean`` refuses it)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://gateway")


def clean(response: httpx.Response) -> httpx.Response:
    assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
    for leak in LEAKS:
        assert leak not in response.text, f"{leak!r} leaked: {response.text[:500]}"
    return response


def headers_for(api: Api, key: str | None, content_type: str | None = "application/json") -> dict[str, str]:
    headers = {"Content-Type": content_type} if content_type else {}
    if key:
        headers["Authorization"] = f"Bearer {getattr(api.keys, key)}"
    return headers


async def send(
    api: Api, body: bytes | object, *, key: str | None = "rw", content_type: str | None = "application/json"
) -> httpx.Response:
    """POST a body as is; JSON is ASCII-escaped, so lone surrogates travel as ``\\ud800`` like any client's."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return clean(await api.client.post("/graphql", content=content, headers=headers_for(api, key, content_type)))


async def graphql(api: Api, query: str, variables: dict[str, Any] | None = None, key: str = "rw") -> dict[str, Any]:
    response = await send(api, {"query": query, "variables": variables or {}}, key=key)
    assert response.status_code == 200, response.text
    return response.json()


async def refused(api: Api, query: str, variables: dict[str, Any] | None = None, key: str = "rw") -> list[dict]:
    """The whole operation is refused: errors and no data."""
    body = await graphql(api, query, variables, key)
    assert body.get("errors") and body.get("data") is None, body
    return body["errors"]


def codes(errors: list[dict]) -> set[str]:
    return {error["extensions"]["code"] for error in errors}


async def healthy(api: Api) -> None:
    assert (await api.client.get("/healthz")).text == "ok"
    body = await graphql(api, "{ eventTypes { type } events(first: 1) { totalCount } }", key="reader")
    assert not body.get("errors") and body["data"]["eventTypes"], body


async def record(api: Api, *events: dict[str, Any]) -> list[dict[str, Any]]:
    body = await graphql(api, RECORD_READ_BACK, {"events": list(events)})
    assert not body.get("errors"), body
    return body["data"]["recordEvents"]["results"]


async def stored(api: Api, event_id: str) -> bool:
    body = await graphql(
        api, "query($id: String!) { event(eventId: $id) { __typename } }", {"id": event_id}, key="reader"
    )
    assert not body.get("errors"), body
    return body["data"]["event"] is not None


RECORD_READ_BACK = """
mutation($events: [RecordEventInput!]!) {
  recordEvents(events: $events) {
    results {
      __typename
      ... on EventAccepted { event { ...Back } }
      ... on EventRejected { index eventId errors { path code message } }
    }
  }
}
fragment Back on AuditEvent {
  id eventId tenant source correlationId causationId traceparent
  actor { id displayName ip userAgent } target { type id displayName }
  ... on OrderPlaced { data { orderId total { currency } } }
}
"""


def literal_order(event_id: str) -> str:
    """A recordEvents mutation with its input inline, as a form field or query string would carry it."""
    return (
        'mutation { recordEvents(events: [{eventId: "EVENT_ID", source: "checkout", '
        'occurredAt: "2026-01-01T00:00:00Z", actor: {type: USER, id: "u_1"}, data: {orderPlaced: '
        '{orderId: "o_1", total: {amountMinor: "1", currency: "EUR"}, itemCount: 1, channel: WEB}}}]) '
        "{ acceptedCount } }"
    ).replace("EVENT_ID", event_id)


def codes_of(rejected: dict[str, Any]) -> set[str]:
    return {error["code"] for error in rejected["errors"]}


# Strings a hostile caller puts where text is expected.
HOSTILE = {
    "nul": "a\x00b",
    "lone-surrogate": "a\ud800b",
    "escape": "a\x1b[2Jb",
    "c1-control": "a\x85b",
    "rtl-override": "inv\u202egpj.exe",
    "emoji": "caf\u00e9\U0001f600",
    "10k": "x" * 10_000,
}
CONTROL = {"nul", "escape", "c1-control"}


def stored_event(
    *,
    tenant: str,
    event_id: str,
    type: str,
    schema_version: int,
    data: dict[str, Any],
    occurred_at: dt.datetime,
    correlation_id: str | None = None,
    actor_id: str = "u",
) -> NewEvent:
    """An event as the store takes it, written straight to ``append`` (e.g. in an older contract version):
    a USER actor, no target, outcome SUCCESS, from source ``checkout``."""
    return NewEvent(
        tenant=tenant,
        event_id=event_id,
        source="checkout",
        type=type,
        schema_version=schema_version,
        occurred_at=occurred_at,
        actor_type="USER",
        actor_id=actor_id,
        actor_display_name=None,
        actor_ip=None,
        actor_user_agent=None,
        target_type=None,
        target_id=None,
        target_display_name=None,
        outcome="SUCCESS",
        correlation_id=correlation_id,
        causation_id=None,
        traceparent=None,
        data=data,
    )
