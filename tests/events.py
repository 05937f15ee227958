"""Event inputs for tests, in the shape ``recordEvents`` takes."""

from __future__ import annotations

import uuid
from typing import Any

from tests.conftest import now


def uid() -> str:
    return uuid.uuid4().hex[:12]


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
        "data": {"orderPlaced": {"orderId": f"o_{event_id}", "total": {"amountMinor": "1999", "currency": "EUR"},
                                 "itemCount": 2, "channel": "WEB"}},
    }
    event.update(over)
    return event


def payment_captured(event_id: str | None = None, corr: str | None = None, cause: str | None = None,
                     **over: Any) -> dict[str, Any]:
    event = {
        "eventId": event_id or f"pay_{uid()}",
        "source": "payments",
        "occurredAt": now(-50),
        "actor": {"type": "SERVICE", "id": "payments-worker"},
        "correlationId": corr,
        "causationId": cause,
        "data": {"paymentCaptured": {"paymentId": f"p_{uid()}", "orderId": "o_1",
                                     "amount": {"amountMinor": "1999", "currency": "EUR"}, "provider": "acmepay"}},
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
        "data": {"refundIssued": {"refundId": f"r_{uid()}", "paymentId": "p_1",
                                  "amount": {"amountMinor": "500", "currency": "EUR"}, "reason": "damaged"}},
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
