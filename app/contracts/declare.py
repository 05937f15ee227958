"""How an event contract is declared: one decorator on one frozen Pydantic model.

Everything else — the GraphQL object type, the ``@oneOf`` input member, the
union membership, validation and the JSON Schema — is derived from what the
decorator records here. Example::

    @event_contract("ticket.opened", version=1, examples=[{"ticketId": "t_1"}])
    class TicketOpenedData(ContractModel):
        \"\"\"A support ticket was opened.\"\"\"

        ticket_id: Id

``app.contracts.registry`` builds the catalog from every declaration, so the
domain module that holds the declaration must be imported there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from app.contracts.values import ContractModel

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
"""Turns data recorded in one version into the next version's data (camelCase JSON in, camelCase JSON out)."""

ModelT = TypeVar("ModelT", bound=type[ContractModel])


@dataclass(frozen=True)
class Contract:
    name: str
    """Contract name as stored in ``type``, e.g. ``order.placed``."""
    version: int
    model: type[ContractModel]
    upcast: Upcaster | None = None
    """For an older version: turns its data into the next version's."""
    examples: Sequence[dict[str, Any]] = field(default=())
    """Valid data as stored (GraphQL field names, BigInt as JSON integers); published in the JSON Schema, tested."""

    @property
    def graphql_type(self) -> str:
        """``order.placed`` → ``OrderPlaced``: the GraphQL object type of the event."""
        return "".join(part[:1].upper() + part[1:] for part in self.name.replace(".", "_").split("_"))

    @property
    def input_member(self) -> str:
        """``OrderPlaced`` → ``orderPlaced``: the ``EventDataInput`` member that names this contract."""
        return self.graphql_type[:1].lower() + self.graphql_type[1:]

    @property
    def description(self) -> str:
        return " ".join((self.model.__doc__ or "").split())


DECLARED: list[Contract] = []
"""Every declaration, in import order; ``app.contracts.registry`` reads it once all domains are imported."""


def event_contract(
    name: str, *, version: int, upcast: Upcaster | None = None, examples: Sequence[dict[str, Any]] = ()
) -> Callable[[ModelT], ModelT]:
    """Declare ``model`` as the data of contract ``name`` at ``version``."""

    def declare(model: ModelT) -> ModelT:
        if any(c.name == name and c.version == version for c in DECLARED):
            raise ValueError(f"{name} v{version} is declared twice")
        DECLARED.append(Contract(name, version, model, upcast, tuple(examples)))
        return model

    return declare
