from __future__ import annotations

from tests.helpers import RECORD, Api, now, order_placed, payment_captured, uid


async def test_accepts_a_batch_and_chains_it(api: Api, tenant: str) -> None:
    corr = f"c_{uid()}"
    order = order_placed(corr=corr)
    payload = (await api.ok(RECORD, {"events": [order, payment_captured(corr=corr, cause=order["eventId"])]}))[
        "recordEvents"
    ]
    assert (payload["acceptedCount"], payload["duplicateCount"], payload["rejectedCount"]) == (2, 0, 0)
    first, second = (r["event"] for r in payload["results"])
    assert first["tenant"] == tenant and first["sequence"] == "1" and second["sequence"] == "2"
    assert first["integrity"]["previousHash"] == "0" * 64
    assert second["integrity"]["previousHash"] == first["integrity"]["hash"]


async def test_rejections_do_not_block_the_batch(api: Api) -> None:
    bad = order_placed()
    bad["data"]["orderPlaced"]["total"]["currency"] = "EURO"
    payload = (await api.ok(RECORD, {"events": [order_placed(), bad, order_placed(occurredAt=now(3600))]}))[
        "recordEvents"
    ]
    assert [r["__typename"] for r in payload["results"]] == ["EventAccepted", "EventRejected", "EventRejected"]
    assert payload["results"][1]["errors"][0]["path"] == ["data", "orderPlaced", "total", "currency"]
    assert payload["results"][1]["errors"][0]["code"] == "INVALID_CURRENCY"
    assert payload["results"][2]["errors"][0] == {
        "path": ["occurredAt"],
        "code": "IN_FUTURE",
        "message": "must not be more than 5 minutes in the future",
    }
