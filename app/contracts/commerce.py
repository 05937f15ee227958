"""Commerce: orders, payments and refunds."""

from __future__ import annotations

import enum
from typing import Any

from app.contracts.values import ContractModel, Count, Id, Label, Money, Text


class SalesChannel(enum.Enum):
    WEB = "WEB"
    MOBILE = "MOBILE"
    POS = "POS"
    API = "API"


class OrderPlacedDataV1(ContractModel):
    """order.placed v1: an order was placed (before sales channels were recorded)."""

    order_id: Id
    total: Money
    item_count: Count


class OrderPlacedData(ContractModel):
    """order.placed v2: an order was placed through a sales channel."""

    order_id: Id
    total: Money
    item_count: Count
    channel: SalesChannel


def order_placed_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 orders all came through the web shop.

    >>> order_placed_v1_to_v2({"orderId": "o_1", "total": {...}, "itemCount": 1})["channel"]
    'WEB'
    """
    return {**data, "channel": SalesChannel.WEB.value}


class PaymentCapturedData(ContractModel):
    """payment.captured v1: money was taken for an order."""

    payment_id: Id
    order_id: Id
    amount: Money
    provider: Label


class PaymentFailedData(ContractModel):
    """payment.failed v1: a payment attempt for an order failed."""

    payment_id: Id
    order_id: Id
    amount: Money
    failure_code: Id


class RefundIssuedData(ContractModel):
    """refund.issued v1: money was given back for a payment."""

    refund_id: Id
    payment_id: Id
    amount: Money
    reason: Text | None = None
