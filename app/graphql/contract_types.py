"""GraphQL object and input types of the contracts, derived from the Pydantic models.

Every type here is a contract model run through Strawberry's Pydantic
integration: fields, types and descriptions come from the one declaration in
``app.contracts``. Nested models and enums a contract uses get their types on
the way. The one thing added is ``BigInt``: GraphQL's ``Int`` is 32-bit, so a
field annotated ``BigInt`` in a model is declared ``BigInt`` here too.
"""

from __future__ import annotations

import enum
import types
import typing
from typing import TYPE_CHECKING, Any, TypeAlias

import pydantic
import strawberry
from strawberry.experimental.pydantic import input as pydantic_input
from strawberry.experimental.pydantic import type as pydantic_type
from strawberry.types.enum import has_enum_definition

from app.contracts import envelope
from app.contracts.envelope import ActorType, Outcome
from app.contracts.registry import CURRENT
from app.contracts.values import BigInt, ContractModel

_OBJECTS: dict[type[pydantic.BaseModel], type] = {}
_INPUTS: dict[type[pydantic.BaseModel], type] = {}


def _referenced(annotation: Any) -> typing.Iterator[type]:
    """The classes an annotation names: ``list[Money] | None`` → ``Money``."""
    arguments = typing.get_args(annotation)
    if not arguments and isinstance(annotation, type):
        yield annotation
    for argument in arguments:
        yield from _referenced(argument)


def _bigint_fields(model: type[pydantic.BaseModel]) -> dict[str, Any]:
    """Model fields typed ``BigInt`` (or ``BigInt | None``), which Strawberry would otherwise map to ``Int``."""
    overrides: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if field.annotation is BigInt:
            overrides[name] = BigInt
        elif typing.get_origin(field.annotation) in (typing.Union, types.UnionType) and BigInt in typing.get_args(
            field.annotation
        ):
            overrides[name] = BigInt | None
    return overrides


def _prepare_references(model: type[pydantic.BaseModel], *, as_input: bool) -> None:
    """Give every enum and nested model that ``model`` uses its GraphQL type first, as Strawberry requires."""
    for field in model.model_fields.values():
        for referenced in _referenced(field.annotation):
            if issubclass(referenced, enum.Enum) and not has_enum_definition(referenced):
                strawberry.enum(referenced)
            elif issubclass(referenced, ContractModel):
                input_type(referenced) if as_input else object_type(referenced)


def object_type(model: type[pydantic.BaseModel], *, name: str | None = None, description: str | None = None) -> type:
    """The GraphQL object type of ``model``; named after the model unless ``name`` is given."""
    if model not in _OBJECTS:
        _prepare_references(model, as_input=False)
        name = name or model.__name__
        shell = type(name, (), {"__annotations__": _bigint_fields(model), "__module__": __name__})
        _OBJECTS[model] = pydantic_type(model=model, all_fields=True, name=name, description=description)(shell)
    return _OBJECTS[model]


def input_type(
    model: type[pydantic.BaseModel],
    *,
    name: str | None = None,
    description: str | None = None,
    extra: dict[str, Any] | None = None,
) -> type:
    """The GraphQL input type of ``model`` (``<Model>Input`` unless ``name`` is given), plus ``extra`` fields."""
    if model not in _INPUTS:
        _prepare_references(model, as_input=True)
        name = name or f"{model.__name__}Input"
        annotations = {**_bigint_fields(model), **(extra or {})}
        shell = type(name, (), {"__annotations__": annotations, "__module__": __name__, "__doc__": description})
        _INPUTS[model] = pydantic_input(model=model, all_fields=True, name=name, description=description)(shell)
    return _INPUTS[model]


strawberry.enum(ActorType)
strawberry.enum(Outcome)
if TYPE_CHECKING:
    # To a type checker the GraphQL types of the envelope's parts are the models they are derived from (and
    # resolvers do hand Strawberry those models: it reads their attributes).
    Actor: TypeAlias = envelope.Actor
    Target: TypeAlias = envelope.Target
else:
    Actor = object_type(envelope.Actor)
    Target = object_type(envelope.Target)

DATA_TYPES: dict[str, type] = {
    c.name: object_type(c.model, name=f"{c.graphql_type}Data", description=c.description) for c in CURRENT
}
"""Contract name → the GraphQL type of its data, e.g. ``order.placed`` → ``OrderPlacedData``."""

DATA_INPUTS: dict[str, type] = {
    c.name: input_type(c.model, name=f"{c.graphql_type}DataInput", description=c.description) for c in CURRENT
}


def _snake(member: str) -> str:
    return "".join(f"_{char.lower()}" if char.isupper() else char for char in member)


EventDataInput: Any = strawberry.input(
    type(
        "EventDataInput",
        (),
        {
            "__annotations__": {_snake(c.input_member): DATA_INPUTS[c.name] | None for c in CURRENT},
            **{_snake(c.input_member): strawberry.UNSET for c in CURRENT},
            "__module__": __name__,
        },
    ),
    one_of=True,
    description="Exactly one member is set; it names the contract (current version).",
)
"""The ``data`` of ``RecordEventInput``: one member per current contract, named by its ``input_member``."""

__all__ = ["DATA_INPUTS", "DATA_TYPES", "MEMBERS", "Actor", "ActorType", "EventDataInput", "Outcome", "Target"]

MEMBERS: dict[str, str] = {_snake(c.input_member): c.input_member for c in CURRENT}
"""``EventDataInput`` attribute → GraphQL member name, e.g. ``order_placed`` → ``orderPlaced``."""
