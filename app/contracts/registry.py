"""The catalog: every event contract, its versions and the upcasters between them.

Adding an event type means declaring its data model in a domain module and
adding one ``Contract`` line here (and its GraphQL type in ``app.graphql.events``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.contracts import access, commerce, data, identity
from app.contracts.values import ContractModel

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Contract:
    name: str
    """Contract name as stored in ``type``, e.g. ``order.placed``."""
    version: int
    graphql_type: str
    """GraphQL object type; its lower-camel form is the ``EventDataInput`` member."""
    model: type[ContractModel]
    upcast: Upcaster | None = None
    """For an older version: turns its data into the next version's."""

    @property
    def description(self) -> str:
        return (self.model.__doc__ or "").strip()

    @property
    def input_member(self) -> str:
        return self.graphql_type[0].lower() + self.graphql_type[1:]


CURRENT: tuple[Contract, ...] = (
    Contract("user.signed_in", 1, "UserSignedIn", identity.UserSignedInData),
    Contract("user.sign_in_failed", 1, "UserSignInFailed", identity.UserSignInFailedData),
    Contract("role.granted", 1, "RoleGranted", access.RoleGrantedData),
    Contract("role.revoked", 1, "RoleRevoked", access.RoleRevokedData),
    Contract("api_key.created", 1, "ApiKeyCreated", identity.ApiKeyCreatedData),
    Contract("api_key.revoked", 1, "ApiKeyRevoked", identity.ApiKeyRevokedData),
    Contract("order.placed", 2, "OrderPlaced", commerce.OrderPlacedData),
    Contract("payment.captured", 1, "PaymentCaptured", commerce.PaymentCapturedData),
    Contract("payment.failed", 1, "PaymentFailed", commerce.PaymentFailedData),
    Contract("refund.issued", 1, "RefundIssued", commerce.RefundIssuedData),
    Contract("data.exported", 1, "DataExported", data.DataExportedData),
    Contract("setting.changed", 1, "SettingChanged", data.SettingChangedData),
)

PREVIOUS: tuple[Contract, ...] = (
    Contract("order.placed", 1, "OrderPlaced", commerce.OrderPlacedDataV1, commerce.order_placed_v1_to_v2),
)

BY_NAME: dict[str, Contract] = {c.name: c for c in CURRENT}
BY_INPUT_MEMBER: dict[str, Contract] = {c.input_member: c for c in CURRENT}
_ALL_VERSIONS: dict[tuple[str, int], Contract] = {(c.name, c.version): c for c in CURRENT + PREVIOUS}


def accepted_versions(name: str) -> list[int]:
    return sorted(version for (n, version) in _ALL_VERSIONS if n == name)


def version_of(name: str, version: int) -> Contract:
    try:
        return _ALL_VERSIONS[(name, version)]
    except KeyError:
        raise LookupError(f"no contract {name} v{version}") from None


def decode(name: str, version: int, recorded: dict[str, Any]) -> ContractModel:
    """Data as recorded → the current version's model, upcasting one version at a time."""
    contract = version_of(name, version)
    current = BY_NAME[name]
    while contract.version < current.version:
        assert contract.upcast is not None, f"{name} v{contract.version} has no upcaster"
        recorded = contract.upcast(recorded)
        contract = version_of(name, contract.version + 1)
    return current.model.model_validate(recorded)


def json_schema(contract: Contract) -> dict[str, Any]:
    """JSON Schema (2020-12) of the data as stored, with every ``$ref`` written out in place."""
    schema = contract.model.model_json_schema(by_alias=True)
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **inline(schema)}
