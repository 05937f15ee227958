"""The catalog: every declared event contract, its versions and the upcasters between them.

A contract is declared once, with ``@event_contract`` on its data model in a
domain module (``app.contracts.declare``). Importing the domain modules here
collects the declarations; the newest version of each name is the current one.
"""

from __future__ import annotations

from typing import Any

from app.contracts import access, commerce, data, identity
from app.contracts.declare import DECLARED, Contract
from app.contracts.values import ContractModel

DOMAINS = (identity, access, commerce, data)
"""The domain modules whose declarations form the catalog, in the order the schema lists them."""


def _catalog_order(contract: Contract) -> int:
    """Domain order first, then declaration order (a sorted sort is stable); other modules' contracts go last."""
    modules = [domain.__name__ for domain in DOMAINS]
    module = contract.model.__module__
    return modules.index(module) if module in modules else len(modules)


_DECLARED = sorted(DECLARED, key=_catalog_order)
_ALL_VERSIONS: dict[tuple[str, int], Contract] = {(c.name, c.version): c for c in _DECLARED}
_NAMES = list(dict.fromkeys(c.name for c in _DECLARED))

CURRENT: tuple[Contract, ...] = tuple(
    max((c for c in _DECLARED if c.name == name), key=lambda c: c.version) for name in _NAMES
)
"""The version each contract is ingested and served in."""
PREVIOUS: tuple[Contract, ...] = tuple(c for c in _DECLARED if c not in CURRENT)
"""Older versions that may still be stored; each has an upcaster to the next version."""

BY_NAME: dict[str, Contract] = {c.name: c for c in CURRENT}
BY_INPUT_MEMBER: dict[str, Contract] = {c.input_member: c for c in CURRENT}

for _old in PREVIOUS:
    if _old.upcast is None or (_old.name, _old.version + 1) not in _ALL_VERSIONS:
        raise TypeError(f"{_old.name} v{_old.version} needs an upcaster to v{_old.version + 1}")


def accepted_versions(name: str) -> list[int]:
    return sorted(version for (n, version) in _ALL_VERSIONS if n == name)


def version_of(name: str, version: int) -> Contract:
    try:
        return _ALL_VERSIONS[(name, version)]
    except KeyError:
        raise LookupError(f"no contract {name} v{version}") from None


def upcast(name: str, version: int, recorded: dict[str, Any]) -> dict[str, Any]:
    """Data as recorded → the current version's data (camelCase JSON), one version at a time."""
    current = BY_NAME[name].version
    while version < current:
        upcaster = version_of(name, version).upcast
        assert upcaster is not None  # checked for every older version at import
        recorded = upcaster(recorded)
        version += 1
    return recorded


def decode(name: str, version: int, recorded: dict[str, Any]) -> ContractModel:
    """Data as recorded → the current version's model."""
    return BY_NAME[name].model.model_validate(upcast(name, version, recorded))


def json_schema(contract: Contract) -> dict[str, Any]:
    """JSON Schema (2020-12) of the data as stored, with every ``$ref`` written out in place, and its examples."""
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

    examples = {"examples": list(contract.examples)} if contract.examples else {}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **inline(schema), **examples}
