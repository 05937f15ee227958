"""The catalog of event contracts, as GraphQL serves it."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from app.contracts.declare import Contract
from app.contracts.registry import CURRENT, accepted_versions, json_schema


@strawberry.type
class EventTypeInfo:
    type: str = strawberry.field(description='Contract name, e.g. "order.placed".')
    graphql_type: str = strawberry.field(description='Name of the GraphQL object type, e.g. "OrderPlaced".')
    current_version: int
    accepted_versions: list[int] = strawberry.field(
        description="Every version that events in the log may be stored in (older ones are upcast on read); "
        "ingestion takes the current version."
    )
    description: str
    data_schema: JSON = strawberry.field(
        description="JSON Schema (draft 2020-12) of the current version's data as stored."
    )


def _info(contract: Contract) -> EventTypeInfo:
    return EventTypeInfo(
        type=contract.name,
        graphql_type=contract.graphql_type,
        current_version=contract.version,
        accepted_versions=accepted_versions(contract.name),
        description=contract.description,
        data_schema=JSON(json_schema(contract)),
    )


CATALOG: list[EventTypeInfo] = [_info(contract) for contract in CURRENT]
