"""A writer cannot record into a tenant its key does not hold (app/ingest.py authorizes each input)."""

from __future__ import annotations

import pytest

from tests.helpers import Api, Keys, codes_of, order_placed, record, stored

# The api fixture answers an unhandled exception with the 500 a server sends, which these tests refuse.
pytestmark = pytest.mark.hostile


async def test_a_writer_cannot_name_another_tenant(api: Api, intruder: Keys, tenant: str) -> None:
    them = Api(api.client, intruder)
    event = order_placed(tenant=tenant)
    (result,) = await record(them, event)
    assert result["__typename"] == "EventRejected" and codes_of(result) == {"FORBIDDEN"}, result
    assert not await stored(api, event["eventId"])
