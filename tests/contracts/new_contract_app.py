"""A gateway with one more contract, declared here and nowhere else; run by ``test_new_contract.py``.

It must run in a fresh interpreter: the catalog is collected when ``app.contracts.registry``
is first imported, so the declaration comes before anything imports it.

    python -m tests.contracts.new_contract_app <sqlite path>   → one JSON object on stdout
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from typing import Any

import httpx

from app.contracts.declare import event_contract
from app.contracts.values import ContractModel, Count, Id, Label


@event_contract("ticket.opened", version=1, examples=[{"ticketId": "t_1", "subject": "Cannot sign in", "seats": 3}])
class TicketOpenedData(ContractModel):
    """A support ticket was opened."""

    ticket_id: Id
    subject: Label
    seats: Count


async def main(path: str) -> dict[str, Any]:
    from app.auth.keys import create_key
    from app.config import Settings
    from app.graphql.schema import build_schema
    from app.server import create_app
    from app.store.engine import create_engine
    from app.store.migrate import upgrade

    settings = Settings(database_url=f"sqlite+aiosqlite:///{path}")
    engine = create_engine(settings.database_url)
    await upgrade(engine)
    _, key = await create_key(engine, name="t", tenants=["t"], scopes=["events:read", "events:write"], sources=["help"])
    event = {
        "eventId": "tk_1",
        "source": "help",
        "occurredAt": dt.datetime.now(dt.UTC).isoformat(),
        "actor": {"type": "USER", "id": "u_1"},
        "data": {"ticketOpened": {"ticketId": "t_1", "subject": "Cannot sign in", "seats": 3}},
    }
    bad = {**event, "eventId": "tk_2", "data": {"ticketOpened": {"ticketId": "t_2", "subject": "", "seats": -1}}}
    record = """mutation($events: [RecordEventInput!]!) { recordEvents(events: $events) { results {
        __typename ... on EventRejected { errors { path code } } } } }"""
    read = """{ events(first: 5) { nodes { __typename
        ... on TicketOpened { eventId type data { ticketId subject seats } } } }
        eventTypes { type graphqlType description dataSchema } }"""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(settings, engine=engine)),
        base_url="http://gateway",
        headers={"Authorization": f"Bearer {key}"},
    ) as client:
        recorded = (await client.post("/graphql", json={"query": record, "variables": {"events": [event, bad]}})).json()
        served = (await client.post("/graphql", json={"query": read})).json()
    await engine.dispose()
    return {"sdl": build_schema(settings).as_str(), "recorded": recorded, "served": served}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1]))))
