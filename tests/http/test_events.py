"""``/v1/events`` in process, on both backends: content types, CloudEvents mapping, answers, status codes."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.keys import create_key
from app.config import Settings
from app.server import create_app
from tests.helpers import Api, now, order_placed, payment_captured, uid
from tests.http.rest import get, post, to_rest


def cloudevent(event_id: str | None = None, **over: Any) -> dict[str, Any]:
    event = {
        "specversion": "1.0",
        "id": event_id or f"ce_{uid()}",
        "source": "checkout",
        "type": "order.placed",
        "time": now(-30),
        "datacontenttype": "application/json",
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "actortype": "USER",
        "actorid": "u_42",
        "actorname": "Ada",
        "actorip": "203.0.113.7",
        "actoragent": "Firefox",
        "targettype": "order",
        "targetid": "o_1",
        "targetname": "Order 1",
        "outcome": "FAILURE",
        "correlationid": "c_1",
        "causationid": "x_0",
        "data": {"orderId": "o_1", "total": {"amountMinor": 1999, "currency": "EUR"}, "itemCount": 2, "channel": "API"},
    }
    event.update(over)
    return event


async def test_one_event_and_a_batch_answer_per_item_in_order(api: Api, tenant: str) -> None:
    first = to_rest(order_placed())
    response = await post(api.client, api.keys.rw, first)
    assert response.status_code == 200
    assert response.json() == {
        "acceptedCount": 1,
        "duplicateCount": 0,
        "rejectedCount": 0,
        "results": [{"index": 0, "status": "accepted", "eventId": first["eventId"], "sequence": "1"}],
    }
    bad = to_rest(order_placed())
    bad["data"]["itemCount"] = -1
    conflicting = {**first, "correlationId": "c_other"}
    unknown = {**to_rest(order_placed()), "type": "order.shipped"}
    batch = [first, bad, to_rest(order_placed()), conflicting, unknown, "not an event", {"eventId": "x"}]
    body = (await post(api.client, api.keys.rw, batch)).json()
    assert (body["acceptedCount"], body["duplicateCount"], body["rejectedCount"]) == (1, 1, 5)
    results = body["results"]
    assert [r["index"] for r in results] == list(range(7))
    assert results[0] == {"index": 0, "status": "duplicate", "eventId": first["eventId"], "sequence": "1"}
    assert results[1]["status"] == "rejected" and results[1]["eventId"] == bad["eventId"]
    assert [(e["path"], e["code"]) for e in results[1]["errors"]] == [("data.itemCount", "TOO_SMALL")]
    assert results[2]["status"] == "accepted" and results[2]["sequence"] == "2"
    assert [(e["path"], e["code"]) for e in results[3]["errors"]] == [("eventId", "CONFLICT")]
    assert [(e["path"], e["code"]) for e in results[4]["errors"]] == [("type", "UNKNOWN_CONTRACT")]
    assert [(e["path"], e["code"]) for e in results[5]["errors"]] == [("", "INVALID_TYPE")]
    assert results[5]["eventId"] is None
    assert [(e["path"], e["code"]) for e in results[6]["errors"]] == [("type", "REQUIRED"), ("data", "REQUIRED")]
    assert results[6]["eventId"] == "x"


async def test_cloudevents_structured_batch_and_binary_map_every_attribute(api: Api, tenant: str) -> None:
    structured = cloudevent()
    batch = [
        cloudevent(),
        cloudevent(
            type="payment.captured",
            source="payments",
            data={
                "paymentId": "p_1",
                "orderId": "o_1",
                "amount": {"amountMinor": "5", "currency": "EUR"},
                "provider": "acme",
            },
        ),
    ]
    response = await post(api.client, api.keys.rw, structured, "application/cloudevents+json")
    assert response.json()["acceptedCount"] == 1, response.text
    response = await post(api.client, api.keys.rw, batch, "application/cloudevents-batch+json; charset=utf-8")
    assert response.json()["acceptedCount"] == 2, response.text
    attributes = {key: value for key, value in structured.items() if key not in ("data", "specversion")}
    attributes.pop("datacontenttype")
    binary_id = f"bin/{uid()}-é"  # header values travel percent-encoded UTF-8
    headers = {"ce-specversion": "1.0", **{f"ce-{k}": v for k, v in attributes.items()}, "ce-id": quote(binary_id)}
    response = await post(api.client, api.keys.rw, structured["data"], headers=headers)
    assert response.json()["acceptedCount"] == 1, response.text

    for event_id in (structured["id"], binary_id):
        stored = (await get(api.client, api.keys.rw, f"/v1/events/{event_id}")).json()
        assert stored["eventId"] == event_id
        assert stored["tenant"] == tenant and stored["source"] == "checkout" and stored["type"] == "order.placed"
        assert stored["actor"] == {
            "type": "USER",
            "id": "u_42",
            "displayName": "Ada",
            "ip": "203.0.113.7",
            "userAgent": "Firefox",
        }
        assert stored["target"] == {"type": "order", "id": "o_1", "displayName": "Order 1"}
        assert (stored["outcome"], stored["correlationId"], stored["causationId"]) == ("FAILURE", "c_1", "x_0")
        assert stored["traceparent"] == structured["traceparent"]
        assert stored["data"] == {
            "orderId": "o_1",
            "total": {"amountMinor": "1999", "currency": "EUR"},
            "itemCount": 2,
            "channel": "API",
        }
        assert stored["occurredAt"].endswith("Z") and len(stored["occurredAt"]) == 27


async def test_cloudevent_problems_are_named_by_attribute(api: Api) -> None:
    missing = cloudevent()
    for attribute in ("id", "time", "actorid"):
        del missing[attribute]
    cases = [
        (missing, [("id", "REQUIRED"), ("time", "REQUIRED"), ("actorid", "REQUIRED")]),
        (cloudevent(actorip="nope", targetid="a b"), [("actorip", "INVALID_IP"), ("targetid", "INVALID_ID")]),
        (cloudevent(specversion="0.3"), [("specversion", "INVALID_VALUE")]),
        (cloudevent(datacontenttype="text/plain"), [("datacontenttype", "INVALID_VALUE")]),
        (cloudevent(subject="x", partitionkey="p"), [("subject", "UNKNOWN_FIELD"), ("partitionkey", "UNKNOWN_FIELD")]),
        (cloudevent(type="nope"), [("type", "UNKNOWN_CONTRACT")]),
        (cloudevent(source="/checkout"), [("source", "INVALID_NAME")]),
        (
            cloudevent(data={"orderId": "o"}),
            [("data.total", "REQUIRED"), ("data.itemCount", "REQUIRED"), ("data.channel", "REQUIRED")],
        ),
    ]
    response = await post(api.client, api.keys.rw, [event for event, _ in cases], "application/cloudevents-batch+json")
    for (_, expected), result in zip(cases, response.json()["results"], strict=True):
        assert result["status"] == "rejected"
        assert [(e["path"], e["code"]) for e in result["errors"]] == expected, result


async def test_request_level_problems(api: Api, engine: AsyncEngine, database_url: str, tenant: str) -> None:
    event = to_rest(order_placed())

    async def status(response: httpx.Response, code: int, error: str) -> None:
        assert response.status_code == code, response.text
        assert response.json()["errors"][0]["code"] == error, response.text

    await status(await post(api.client, None, event), 401, "UNAUTHENTICATED")
    await status(await post(api.client, "agw_not_a_key", event), 401, "UNAUTHENTICATED")
    await status(await post(api.client, api.keys.reader, event), 403, "FORBIDDEN")
    await status(await get(api.client, api.keys.writer, "/v1/events"), 403, "FORBIDDEN")
    await status(await post(api.client, api.keys.rw, event, "text/plain"), 415, "UNSUPPORTED_MEDIA_TYPE")
    await status(
        await post(api.client, api.keys.rw, event, "application/x-www-form-urlencoded"), 415, "UNSUPPORTED_MEDIA_TYPE"
    )
    await status(await post(api.client, api.keys.rw, b'{"eventId": '), 400, "BAD_USER_INPUT")
    await status(await post(api.client, api.keys.rw, b"NaN"), 400, "BAD_USER_INPUT")
    await status(await post(api.client, api.keys.rw, b"\xff\xfe"), 400, "BAD_USER_INPUT")
    await status(await post(api.client, api.keys.rw, "a string"), 400, "BAD_USER_INPUT")
    await status(
        await post(api.client, api.keys.rw, [cloudevent()], "application/cloudevents+json"), 400, "BAD_USER_INPUT"
    )
    await status(
        await post(api.client, api.keys.rw, cloudevent(), "application/cloudevents-batch+json"), 400, "BAD_USER_INPUT"
    )

    small = create_app(Settings(database_url=database_url, max_batch_size=2, max_body_bytes=20_000), engine=engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=small), base_url="http://gateway") as client:
        three = [to_rest(order_placed()) for _ in range(3)]
        await status(await post(client, api.keys.rw, three), 413, "LIMIT_EXCEEDED")
        await status(await post(client, api.keys.rw, three[:1] * 40), 413, "LIMIT_EXCEEDED")
        assert (await post(client, api.keys.rw, three[:2])).json()["acceptedCount"] == 2
    stored = (await get(api.client, api.keys.rw, "/v1/events", first=10)).json()["events"]
    assert {e["eventId"] for e in stored} == {e["eventId"] for e in three[:2]}, "a refused request wrote nothing"


async def test_pages_follow_the_link_header(api: Api, tenant: str) -> None:
    events = [to_rest(order_placed()) for _ in range(5)] + [to_rest(payment_captured())]
    assert (await post(api.client, api.keys.rw, events)).json()["acceptedCount"] == 6
    seen, url, pages = [], "/v1/events?first=2&order=asc&search=type:order.*", 0
    while url:
        response = await api.client.get(url, headers={"Authorization": f"Bearer {api.keys.reader}"})
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [e["eventId"] for e in body["events"]]
        pages += 1
        link = response.headers.get("link")
        assert (link is not None) == body["pageInfo"]["hasNextPage"]
        url = link.split(">", 1)[0].lstrip("<") if link else ""
        assert not link or link.endswith('; rel="next"')
    assert seen == [e["eventId"] for e in events[:5]] and pages == 3
    newest = (await get(api.client, api.keys.reader, "/v1/events", first=1)).json()
    assert newest["events"][0]["eventId"] == events[-1]["eventId"] and newest["events"][0]["sequence"] == "6"
    assert newest["pageInfo"]["hasNextPage"] is True


async def test_read_parameters_are_checked(api: Api, engine: AsyncEngine, tenant: str) -> None:
    async def refused(code: str, **params: Any) -> None:
        response = await get(api.client, api.keys.reader, "/v1/events", **params)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["code"] == code, response.text

    await refused("LIMIT_EXCEEDED", first=501)
    await refused("BAD_USER_INPUT", first=-1)
    await refused("BAD_USER_INPUT", first="ten")
    await refused("BAD_USER_INPUT", order="newest")
    await refused("BAD_USER_INPUT", search="colour:red")
    await refused("BAD_USER_INPUT", frist=1)
    await refused("INVALID_CURSOR", after="garbage")
    page = (await get(api.client, api.keys.reader, "/v1/events", first=0)).json()
    assert page == {"events": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}
    await post(api.client, api.keys.rw, [to_rest(order_placed()) for _ in range(2)])
    cursor = (await get(api.client, api.keys.reader, "/v1/events", first=1)).json()["pageInfo"]["endCursor"]
    await refused("INVALID_CURSOR", after=cursor, order="asc")  # made for another order


async def test_another_tenants_event_is_not_found(api: Api, engine: AsyncEngine, tenant: str) -> None:
    mine = to_rest(order_placed())
    await post(api.client, api.keys.rw, mine)
    other = f"{tenant}x"
    reader = (await create_key(engine, name="other", tenants=[other], scopes=["events:read"], sources=[]))[1]
    response = await get(api.client, reader, f"/v1/events/{mine['eventId']}")
    assert response.status_code == 404 and response.json()["errors"][0]["code"] == "NOT_FOUND"
    assert (await get(api.client, reader, "/v1/events")).json()["events"] == []
    assert (await get(api.client, api.keys.reader, f"/v1/events/{mine['eventId']}")).status_code == 200
    assert (await get(api.client, api.keys.reader, "/v1/events/a%01b")).status_code == 422
