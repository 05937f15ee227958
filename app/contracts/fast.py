"""Twins of the contract models that check the common case natively, for the ingestion fast path.

A twin is a ``TypedDict`` with the same fields, aliases, defaults, serializers and configuration as its
contract model, except that each Python rule listed in ``values.PRECHECKS`` is replaced by a native
constraint that only values the rule accepts (unchanged) can pass: visible ASCII for ids, the name,
currency and traceparent patterns, ``ge=0``. So a value a twin accepts is accepted by the contract model
with equal fields and an equal dump; a value a twin refuses (a non-ASCII id, any error) tells nothing:
the caller then validates with the contract model itself, whose problems are the ones reported.

Why a ``TypedDict`` and not a subclass of the model: pydantic validates into a dict without building a
frozen instance per model (three per envelope). Interleaved runs pinned to one CPU, the envelope of the
peer benchmark's events: 10.4 -> 7.0 µs (its model validator included); the order's data: 3.3 -> 1.6 µs.

A model's ``mode="after"`` model validators run on the twin's output, read through attributes as they read
the model (``Envelope._not_its_own_cause``); anything they do not accept is a refusal like any other. A
model with a validator or serializer of another kind has no twin (``twin`` returns None): its events take the
contract models, as every refusal does.

Nothing is declared here: the twins are derived from the declarations in ``app.contracts``.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, NotRequired, Union, get_args, get_origin

from pydantic import AfterValidator, ConfigDict, Field, TypeAdapter
from pydantic_core import PydanticCustomError
from typing_extensions import TypedDict  # pydantic requires it before Python 3.12

from app.contracts.values import PRECHECKS, ContractModel


@dataclass(frozen=True, slots=True)
class Twin:
    """A contract model's twin: ``validate`` (raises ``ValidationError``) and ``dump`` of what it returned.

    ``dump(validate(value))`` equals the contract model's ``model_dump(mode="json", by_alias=True)`` of
    ``model.model_validate(value)`` whenever ``validate`` accepts ``value`` (tests/contracts/test_fast_validation.py).
    """

    typed_dict: type
    validate: Callable[[Any], dict[str, Any]]
    dump: Callable[[dict[str, Any]], dict[str, Any]]


_TWINS: dict[type[ContractModel], Any] = {}
_typed_dict_class: Any = TypedDict  # called with a computed name and fields: a class made at run time
_SUPPORTED_DECORATORS = ("model_validators",)


@functools.cache
def twin(model: type[ContractModel]) -> Twin | None:
    """The model's twin (built once), or None when the model declares what a twin does not mirror."""
    typed_dict = _typed_dict(model)
    if typed_dict is None:
        return None
    adapter: TypeAdapter[Any] = TypeAdapter(typed_dict)
    serializer = adapter.serializer
    return Twin(
        typed_dict=get_args(typed_dict)[0] if get_origin(typed_dict) is Annotated else typed_dict,
        validate=adapter.validator.validate_python,
        dump=lambda value: serializer.to_python(value, mode="json", by_alias=True),
    )


def _typed_dict(model: type[ContractModel]) -> Any:
    if model in _TWINS:
        return _TWINS[model]
    _TWINS[model] = None  # a model that holds itself has no twin
    decorators = model.__pydantic_decorators__
    kinds = [f.name for f in dataclasses.fields(decorators) if f.name not in _SUPPORTED_DECORATORS]
    others = [kind for kind in kinds if getattr(decorators, kind)]
    after = [d.func for d in decorators.model_validators.values() if d.info.mode == "after"]
    if others or len(after) != len(decorators.model_validators):
        return None
    fields: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if {field.validation_alias, field.serialization_alias} - {None, field.alias}:
            return None  # one alias per field is what the twin declares
        inner = _fast(field.annotation)
        if inner is None:
            return None
        annotation = _annotated(inner, [*field.metadata, Field(alias=field.alias)] if field.alias else field.metadata)
        if field.default_factory is not None:
            fields[name] = NotRequired[Annotated[annotation, Field(default_factory=field.default_factory)]]
        elif not field.is_required():
            fields[name] = NotRequired[Annotated[annotation, Field(default=field.default)]]
        else:
            fields[name] = annotation
    typed_dict = _typed_dict_class(f"{model.__name__}Twin", fields)
    config = {key: value for key, value in model.model_config.items() if key != "frozen"}
    typed_dict.__pydantic_config__ = ConfigDict(**config)  # type: ignore[typeddict-item]
    typed_dict.__module__ = __name__
    found: Any = typed_dict
    if after:
        found = Annotated[(typed_dict, *(AfterValidator(_as_model_reads(rule)) for rule in after))]
    _TWINS[model] = found
    return found


def _as_model_reads(rule: Callable[[Any], Any]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The model validator ``rule`` run on a twin's dict, its fields read as attributes (``self.event_id``)."""

    def check(value: dict[str, Any]) -> dict[str, Any]:
        view = _Reads(value)
        try:
            returned = rule(view)
        except PydanticCustomError:
            raise
        except Exception as error:  # e.g. a nested model read as one: the contract model settles it
            raise PydanticCustomError("twin", "not settled by the twin: {error}", {"error": repr(error)}) from None
        if returned is not view:
            raise PydanticCustomError("twin", "the model validator returned another value")
        return value

    return check


class _Reads:
    """A twin's dict read as the model's attributes: the dict itself is the instance's ``__dict__`` (no copy)."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.__dict__ = fields


def _annotated(annotation: Any, metadata: list[Any]) -> Any:
    """``Annotated[annotation, *metadata]`` with each rule of ``PRECHECKS`` replaced by its native check."""
    if not metadata:
        return annotation
    replaced = [_replace(item) for item in metadata]
    patterns = [item for item, original in zip(replaced, metadata, strict=True) if item is not original]
    if sum(1 for item in patterns if getattr(item, "pattern", None)) > 1:
        # Two patterns on one value would not both apply: declare one rule per value (see values.Id).
        raise TypeError(f"more than one pre-checked text rule on {annotation}: {metadata}")
    return Annotated[(annotation, *replaced)]


def _replace(item: Any) -> Any:
    if isinstance(item, AfterValidator) and item.func in PRECHECKS:
        return PRECHECKS[item.func]
    return item


def _fast(annotation: Any) -> Any:
    """The annotation with every contract model in it replaced by its twin, and its rules pre-checked.

    None: a model in it has no twin.
    """
    if isinstance(annotation, type) and issubclass(annotation, ContractModel):
        return _typed_dict(annotation)
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *metadata = get_args(annotation)
        fast = _fast(inner)
        return None if fast is None else _annotated(fast, metadata)
    if origin in (Union, types.UnionType):
        arguments = [_fast(argument) for argument in get_args(annotation)]
        return None if None in arguments else typing.Union[tuple(arguments)]  # noqa: UP007
    if origin is list:
        (item,) = get_args(annotation)
        fast = _fast(item)
        return None if fast is None else list[fast]  # type: ignore[valid-type]
    return annotation  # any other type keeps its own rules (and models): slower, never different
