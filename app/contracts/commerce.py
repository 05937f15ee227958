"""Commerce: orders, payments and refunds."""

from __future__ import annotations

import enum
from typing import Any

from app.contracts.declare import event_contract
from app.contracts.values import ContractModel, Count, Id, Label, Money, Text

_EUR_19_99 = {"amountMinor": 1999, "currency": "EUR"}


class SalesChannel(enum.Enum):
    WEB = "WEB"
    MOBILE = "MOBILE"
    POS = "POS"
    API = "API"


def order_placed_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 orders all came through the web shop: channel WEB.

    >>> order_placed_v1_to_v2({"orderId": "o_1", "itemCount": 1})["channel"]
    'WEB'
    """
    return {**data, "channel": SalesChannel.WEB.value}


@event_contract(
    "order.placed",
    version=1,
    upcast=order_placed_v1_to_v2,
    examples=[{"orderId": "o_1000", "total": _EUR_19_99, "itemCount": 1}],
)
class OrderPlacedDataV1(ContractModel):
    """An order was placed (before sales channels were recorded)."""

    order_id: Id
    total: Money
    item_count: Count


@event_contract(
    "order.placed",
    version=2,
    examples=[{"orderId": "o_1001", "total": _EUR_19_99, "itemCount": 2, "channel": "WEB"}],
)
class OrderPlacedData(ContractModel):
    """An order was placed through a sales channel."""

    order_id: Id
    total: Money
    item_count: Count
    channel: SalesChannel


@event_contract(
    "payment.captured",
    version=1,
    examples=[{"paymentId": "p_1", "orderId": "o_1001", "amount": _EUR_19_99, "provider": "stripe"}],
)
class PaymentCapturedData(ContractModel):
    """Money was taken for an order."""

    payment_id: Id
    order_id: Id
    amount: Money
    provider: Label


@event_contract(
    "payment.failed",
    version=1,
    examples=[{"paymentId": "p_2", "orderId": "o_1002", "amount": _EUR_19_99, "failureCode": "card_declined"}],
)
class PaymentFailedData(ContractModel):
    """A payment attempt for an order failed."""

    payment_id: Id
    order_id: Id
    amount: Money
    failure_code: Id


@event_contract(
    "refund.issued",
    version=1,
    examples=[{"refundId": "r_1", "paymentId": "p_1", "amount": _EUR_19_99, "reason": "damaged"}],
)
class RefundIssuedData(ContractModel):
    """Money was given back for a payment."""

    refund_id: Id
    payment_id: Id
    amount: Money
    reason: Text | None = None
