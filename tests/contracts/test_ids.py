"""Ids are NFC: canonically equivalent spellings of one id can never be two events."""

from __future__ import annotations

import unicodedata

import pytest

from tests.helpers import RECORD, Api, order_placed, payment_captured, uid

NFC = f"ord_caf\u00e9_{uid()}"  # é as one code point
NFD = unicodedata.normalize("NFD", NFC)  # e + U+0301


def _rejections(result: dict) -> list[tuple[list[str], str]]:
    return [(e["path"], e["code"]) for e in result.get("errors", [])]


@pytest.mark.parametrize(
    ("field", "event"),
    [
        ("eventId", lambda: order_placed(event_id=NFD)),
        ("correlationId", lambda: order_placed(corr=NFD)),
        ("causationId", lambda: payment_captured(cause=NFD)),
        ("actor.id", lambda: order_placed(actor={"type": "USER", "id": NFD})),
        ("target.id", lambda: order_placed(target={"type": "order", "id": NFD})),
        (
            "data.orderPlaced.orderId",
            lambda: order_placed(
                data={
                    "orderPlaced": {
                        "orderId": NFD,
                        "total": {"amountMinor": "1", "currency": "EUR"},
                        "itemCount": 1,
                        "channel": "WEB",
                    }
                }
            ),
        ),
    ],
)
async def test_ids_not_in_nfc_are_rejected(api: Api, field: str, event: object) -> None:
    (result,) = (await api.ok(RECORD, {"events": [event()]}))["recordEvents"]["results"]  # type: ignore[operator]
    assert result["__typename"] == "EventRejected", result
    assert (field.split("."), "NOT_NFC") in _rejections(result), result


async def test_the_nfc_spelling_is_one_event(api: Api) -> None:
    event_id = f"ord_caf\u00e9_{uid()}"
    first = order_placed(event_id=event_id)
    results = (await api.ok(RECORD, {"events": [first]}))["recordEvents"]["results"]
    assert results[0]["__typename"] == "EventAccepted"
    again = await api.ok(RECORD, {"events": [first, {**first, "eventId": unicodedata.normalize("NFD", event_id)}]})
    assert [r["__typename"] for r in again["recordEvents"]["results"]] == ["EventDuplicate", "EventRejected"]
