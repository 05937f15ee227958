"""Twins of the contract models that check the common case natively, for the ingestion fast path.

A twin is a subclass of a contract model with the same fields, defaults, aliases, serializers and model
validators, except that each Python rule listed in ``values.PRECHECKS`` is replaced by a native
constraint that only values the rule accepts (unchanged) can pass: visible ASCII for ids, the name,
currency and traceparent patterns, ``ge=0``. So a value a twin accepts is accepted by the contract model
with equal fields and an equal dump; a value a twin refuses (a non-ASCII id, any error) tells nothing:
the caller then validates with the contract model itself, whose problems are the ones reported.

Nothing is declared here: the twins are derived from the declarations in ``app.contracts``.
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any, TypeVar, Union, cast, get_args, get_origin

from pydantic import AfterValidator, Field, create_model

from app.contracts.values import PRECHECKS, ContractModel

_TWINS: dict[type[ContractModel], type[ContractModel]] = {}
ModelT = TypeVar("ModelT", bound=ContractModel)


def twin(model: type[ModelT]) -> type[ModelT]:
    """The model's twin (built once): a subclass that checks what it can natively."""
    found = _TWINS.get(model)
    if found is None:
        fields: dict[str, Any] = {}
        for name, field in model.model_fields.items():
            annotation = _annotated(_fast(field.annotation), field.metadata)
            if field.default_factory is not None:
                default: Any = Field(default_factory=field.default_factory)
            else:
                default = ... if field.is_required() else field.default
            fields[name] = (annotation, default)
        found = create_model(f"{model.__name__}Twin", __base__=model, __module__=__name__, **fields)
        _TWINS[model] = found
    return cast(type[ModelT], found)


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
    """The annotation with every contract model in it replaced by its twin, and its rules pre-checked."""
    if isinstance(annotation, type) and issubclass(annotation, ContractModel):
        return twin(annotation)
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *metadata = get_args(annotation)
        return _annotated(_fast(inner), metadata)
    if origin in (Union, types.UnionType):
        return typing.Union[tuple(_fast(arg) for arg in get_args(annotation))]  # noqa: UP007
    if origin is list:
        (item,) = get_args(annotation)
        return list[_fast(item)]  # type: ignore[misc]
    return annotation  # any other type keeps its own rules (and models): slower, never different
