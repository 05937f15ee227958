"""What the benchmarks send: the GraphQL documents and the events, serialized before any clock starts."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from app.ingest import Submission
from scripts import generate

INGEST_TENANT = "bench"
READ_TENANT = "tenant-1"

ENVELOPE = (
    "id eventId tenant source type schemaVersion sequence occurredAt recordedAt "
    "actor { type id displayName ip userAgent } target { type id displayName } "
    "outcome correlationId causationId traceparent traceId"
)
DATA = """
  ... on UserSignedIn { data { method mfa sessionId } }
  ... on UserSignInFailed { data { method failureReason attempt } }
  ... on RoleGranted { data { role granteeId scope } }
  ... on RoleRevoked { data { role granteeId scope reason } }
  ... on ApiKeyCreated { data { keyId name scopes expiresAt } }
  ... on ApiKeyRevoked { data { keyId reason } }
  ... on OrderPlaced { data { orderId total { amountMinor currency } itemCount channel } }
  ... on PaymentCaptured { data { paymentId orderId amount { amountMinor currency } provider } }
  ... on PaymentFailed { data { paymentId orderId amount { amountMinor currency } failureCode } }
  ... on RefundIssued { data { refundId paymentId amount { amountMinor currency } reason } }
  ... on DataExported { data { dataset format recordCount destination } }
  ... on SettingChanged { data { setting changes { field before after } } }
"""
PAGE_QUERY = (
    "query Page($after: String) { events(first: 100, after: $after) { "
    f"edges {{ cursor node {{ __typename ... on AuditEvent {{ {ENVELOPE} }} {DATA} }} }} "
    "pageInfo { hasNextPage endCursor } } }"
)
RELATED = "id eventId type source occurredAt"
RELATIONS_QUERY = (
    "query Related { events(first: 20) { edges { node { __typename ... on AuditEvent { "
    f"{ENVELOPE} "
    f"causedBy {{ ... on AuditEvent {{ {RELATED} }} }} "
    f"effects {{ ... on AuditEvent {{ {RELATED} }} }} "
    f"correlated {{ ... on AuditEvent {{ {RELATED} }} }} "
    "} } } } }"
)
RECORD_MUTATION = (
    "mutation Record($events: [RecordEventInput!]!) { recordEvents(events: $events) { "
    "acceptedCount duplicateCount rejectedCount "
    "results { __typename ... on EventRejected { index eventId errors { path code message } } } } }"
)


@dataclass(frozen=True)
class ReadDocument:
    """A read request: its name, its body, and how many edges a correct answer has."""

    name: str
    body: bytes
    expect_edges: int


def page(after: str | None = None) -> bytes:
    variables = {"after": after} if after else {}
    return json.dumps({"query": PAGE_QUERY, "variables": variables}).encode()


def relations() -> bytes:
    return json.dumps({"query": RELATIONS_QUERY}).encode()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _graphql_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {_camel(key): _graphql_value(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_graphql_value(item) for item in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def record_input(submission: Submission) -> dict[str, Any]:
    """A submission as a ``RecordEventInput`` value, the way a producer would send it."""
    envelope, data = submission.envelope, submission.data
    if not isinstance(envelope, Mapping) or not isinstance(data, Mapping):
        raise TypeError("the generator yields mappings")
    document: dict[str, Any] = _graphql_value(dict(envelope))
    document["data"] = {submission.member: _graphql_value(dict(data))}
    return document


def take(stream: Iterator[Submission], count: int) -> list[Submission]:
    return [item for _, item in zip(range(count), stream, strict=False)]


def record_body(submissions: list[Submission]) -> bytes:
    return json.dumps(
        {"query": RECORD_MUTATION, "variables": {"events": [record_input(s) for s in submissions]}}
    ).encode()


def ingest_bodies(batches: dict[int, int], tenant: str, seed: int) -> dict[int, list[tuple[bytes, int]]]:
    """Pre-serialized ``recordEvents`` bodies per batch size (at most ``batches[size]`` distinct events each).

    Key 0 holds the warm-up: 20 requests of one event.
    """
    wanted = sum(batches.values()) + 50
    stream = generate.submissions(wanted, [tenant], seed=seed)
    bodies: dict[int, list[tuple[bytes, int]]] = {}
    for size, count in [(0, 20), *sorted(batches.items())]:
        chunk = max(size, 1)
        prepared: list[tuple[bytes, int]] = []
        for _ in range(0, count, chunk):
            submissions = take(stream, chunk)
            if not submissions:
                break
            prepared.append((record_body(submissions), len(submissions)))
        bodies[size] = prepared
    return bodies
