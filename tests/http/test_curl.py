"""A CloudEvents batch of 1,000 sent with curl to a real server lands exactly once and reads back the same ways.

Resending the batch answers 1,000 duplicates; the stored events read through GraphQL
and through ``GET /v1/events`` are the same events, field by field.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import SOURCES, now, uid
from tests.http.live import make_key, running

COUNT = 1000

READ = """
query Page($after: String) {
  events(first: 500, after: $after, orderBy: {field: SEQUENCE, direction: ASC}) {
    pageInfo { hasNextPage endCursor }
    nodes {
      ... on AuditEvent {
        eventId type source tenant sequence schemaVersion occurredAt recordedAt
        actor { type id displayName ip userAgent } target { type id displayName }
        outcome correlationId causationId traceparent integrity { hash previousHash }
      }
      ... on OrderPlaced { orderData: data { orderId total { amountMinor currency } itemCount channel } }
      ... on PaymentCaptured { paymentData: data { paymentId orderId amount { amountMinor currency } provider } }
    }
  }
}
"""


def _batch(run: str) -> list[dict[str, Any]]:
    events = []
    for index in range(COUNT):
        order = index % 2 == 0
        data = (
            {
                "orderId": f"o_{index}",
                "total": {"amountMinor": 100 + index, "currency": "EUR"},
                "itemCount": index % 7,
                "channel": "WEB",
            }
            if order
            else {
                "paymentId": f"p_{index}",
                "orderId": f"o_{index - 1}",
                "amount": {"amountMinor": str(100 + index), "currency": "USD"},
                "provider": "acmepay",
            }
        )
        event = {
            "specversion": "1.0",
            "id": f"{run}_{index}",
            "source": "checkout" if order else "payments",
            "type": "order.placed" if order else "payment.captured",
            "time": now(-600 + index * 0.1),
            "datacontenttype": "application/json",
            "actortype": "SERVICE",
            "actorid": "worker-1",
            "correlationid": f"c_{index // 2}",
            "data": data,
        }
        if not order:
            event["causationid"] = f"{run}_{index - 1}"
        events.append(event)
    return events


def _curl(origin: str, key: str, body: Path) -> dict[str, Any]:
    result = subprocess.run(
        [
            "curl",
            "--silent",
            "--show-error",
            "--fail-with-body",
            "--noproxy",
            "*",
            "-X",
            "POST",
            f"{origin}/v1/events",
            "-H",
            f"Authorization: Bearer {key}",
            "-H",
            "Content-Type: application/cloudevents-batch+json",
            "--data-binary",
            f"@{body}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    return json.loads(result.stdout)


def _graphql_events(origin: str, key: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after = None
    while True:
        response = httpx.post(
            f"{origin}/graphql",
            json={"query": READ, "variables": {"after": after}},
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
        )
        body = response.json()
        assert not body.get("errors"), body
        page = body["data"]["events"]
        for node in page["nodes"]:
            node["data"] = node.pop("orderData", None) or node.pop("paymentData")
            node["integrity"] = dict(node["integrity"])
            found.append(node)
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


def _rest_events(origin: str, key: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    url: str | None = f"{origin}/v1/events?first=300&order=asc"
    while url:
        response = httpx.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=60)
        assert response.status_code == 200, response.text
        found += response.json()["events"]
        link = response.headers.get("link")
        url = link.split(">", 1)[0].lstrip("<") if link else None
    return found


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_a_curl_batch_of_1000_cloudevents_lands_once(database_url: str, tmp_path: Path) -> None:
    tenant = f"t{uid()}"
    writer = make_key(database_url, tenant, ["events:write"], SOURCES)
    reader = make_key(database_url, tenant, ["events:read"], [])
    body = tmp_path / "batch.json"
    batch = _batch(f"ce{uid()}")
    body.write_text(json.dumps(batch))
    with running(database_url, tmp_path / "gateway.log") as gateway:
        first = _curl(gateway.origin, writer, body)
        assert (first["acceptedCount"], first["duplicateCount"], first["rejectedCount"]) == (COUNT, 0, 0), [
            r for r in first["results"] if r["status"] != "accepted"
        ][:3]
        again = _curl(gateway.origin, writer, body)
        assert (again["acceptedCount"], again["duplicateCount"], again["rejectedCount"]) == (0, COUNT, 0)
        assert [r["sequence"] for r in again["results"]] == [r["sequence"] for r in first["results"]]

        over_graphql = _graphql_events(gateway.origin, reader)
        over_rest = _rest_events(gateway.origin, reader)
    assert [event["id"] for event in batch] == [event["eventId"] for event in over_rest]
    assert len(over_rest) == COUNT
    for rest in over_rest:
        assert rest["data"].get("total", rest["data"].get("amount"))["amountMinor"].isdigit()
    assert over_graphql == over_rest
