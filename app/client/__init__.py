"""A Python client for the audit gateway's HTTP API (install with the ``client`` extra: ``pip install
"audit-gateway[client]"``).

    from app.client import AuditClient
    from app.contracts.envelope import Actor, ActorType
    from app.contracts.commerce import OrderPlacedData, SalesChannel
    from app.contracts.values import Money

    with AuditClient("http://127.0.0.1:8000", api_key) as audit:
        audit.record(
            OrderPlacedData(order_id="o_1", total=Money(amount_minor=1999, currency="EUR"), item_count=2,
                            channel=SalesChannel.WEB),
            source="checkout", actor=Actor(type=ActorType.USER, id="u_42"),
        )

``AsyncAuditClient`` is the same for asyncio. Both batch in the background, retry with
backoff and jitter (eventIds make resending safe), bound their queue and flush on close.
"""

from app.client.aio import AsyncAuditClient
from app.client.delivery import Backoff, ClientError, DeliveryFailed, GaveUp, QueueFull, Refused, Stats
from app.client.events import build_event, new_event_id
from app.client.sync import AuditClient

__all__ = [
    "AsyncAuditClient",
    "AuditClient",
    "Backoff",
    "ClientError",
    "DeliveryFailed",
    "GaveUp",
    "QueueFull",
    "Refused",
    "Stats",
    "build_event",
    "new_event_id",
]
