"""The OpenAPI 3.1 document of the HTTP routes, derived from the models — nothing here is a hand-written schema.

- Each contract version's data: ``Contract.model.model_json_schema(by_alias=True)``
  (``OrderPlacedDataV2``, ``OrderPlacedDataV1``…), examples from ``app.http.examples``.
- The envelope: the ``Envelope`` contract model; the CloudEvent: the same fields under
  the attribute names of ``app.http.cloudevents.ATTRIBUTES``.
- Answers: the typed shapes of ``app.http.wire`` (``TypeAdapter(...).json_schema()``).
- ``BigInt`` fields (found by their annotation) take an integer or a decimal string and
  are answered as a string, as in GraphQL.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from typing import Any, get_args

from pydantic import BaseModel, TypeAdapter

from app.config import Settings
from app.contracts.declare import Contract
from app.contracts.envelope import Envelope
from app.contracts.registry import CURRENT, PREVIOUS
from app.contracts.values import BIGINT_MAX, BIGINT_MIN
from app.http import examples
from app.http.cloudevents import ATTRIBUTES, SPECVERSION
from app.http.events import CLOUDEVENT, CLOUDEVENTS_BATCH, JSON
from app.http.wire import ErrorBody, EventJson, EventPage, RecordAnswer, is_bigint

REF = "#/components/schemas/{model}"
Schema = dict[str, Any]

BIGINT: Schema = {
    "anyOf": [
        {"type": "string", "pattern": "^-?[0-9]{1,19}$"},
        {"type": "integer", "minimum": BIGINT_MIN, "maximum": BIGINT_MAX},
    ],
    "description": "A signed 64-bit integer: taken as an integer or a decimal string, answered as a string.",
}


def ref(name: str) -> Schema:
    return {"$ref": REF.format(model=name)}


def data_name(contract: Contract) -> str:
    return f"{contract.graphql_type}DataV{contract.version}"


class _Components:
    """``components.schemas``, filled from models; two different schemas under one name are a bug."""

    def __init__(self) -> None:
        self.schemas: dict[str, Schema] = {}
        self.models: dict[str, type[BaseModel]] = {}

    def add(self, name: str, schema: Schema) -> None:
        if self.schemas.get(name, schema) != schema:
            raise RuntimeError(f"two different schemas are named {name}")
        self.schemas[name] = schema

    def model(self, model: type[BaseModel], name: str | None = None) -> Schema:
        """The model's schema, its nested models added as components, ``BigInt`` fields widened."""
        schema = model.model_json_schema(by_alias=True, ref_template=REF)
        for nested in _nested(model):
            self.models[nested.__name__] = nested
        for key, definition in schema.pop("$defs", {}).items():
            nested_model = self.models.get(key)
            self.add(key, _widen_bigints(definition, nested_model) if nested_model else definition)
        schema = _widen_bigints(schema, model)
        if name is not None:
            self.add(name, schema)
        return schema

    def shape(self, shape: Any, name: str) -> Schema:
        schema = TypeAdapter(shape).json_schema(by_alias=True, ref_template=REF)
        for key, definition in schema.pop("$defs", {}).items():
            self.add(key, definition)
        self.add(name, schema)
        return schema


def _nested(model: type[BaseModel]) -> Iterator[type[BaseModel]]:
    for field in model.model_fields.values():
        pending = [field.annotation]
        while pending:
            annotation = pending.pop()
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                yield annotation
                yield from _nested(annotation)
            pending.extend(get_args(annotation))


def _widen_bigints(schema: Schema, model: type[BaseModel]) -> Schema:
    properties = schema.get("properties", {})
    for name, field in model.model_fields.items():
        key = field.alias or name
        if key in properties and is_bigint(field.annotation):
            described = {"description": field.description} if field.description else {}
            properties[key] = {**BIGINT, **described}
    return schema


def _variant(
    base: Schema, contract: Contract, *, title: str, example: dict[str, Any] | None = None, **fixed: Schema
) -> Schema:
    """``base`` for one contract: ``type`` is its name, ``data`` its current data schema."""
    variant = copy.deepcopy(base)
    variant.update(title=title, description=contract.description)
    if example is not None:
        variant["examples"] = [example]
    variant["properties"].update(type={"const": contract.name}, data=ref(data_name(contract)), **fixed)
    variant["required"] = sorted({*variant.get("required", ()), "type", "data"})
    return variant


def _one_of(names: dict[str, str]) -> Schema:
    """A choice by ``type``: contract name → component name."""
    return {
        "oneOf": [ref(name) for name in names.values()],
        "discriminator": {"propertyName": "type", "mapping": {key: REF.format(model=n) for key, n in names.items()}},
    }


def _cloudevent_base(components: _Components, envelope: Schema) -> Schema:
    """The envelope's field schemas under the CloudEvents attribute names."""
    actor, target = components.schemas["Actor"], components.schemas["Target"]
    sources = {"actor": actor["properties"], "target": target["properties"]}
    properties: dict[str, Schema] = {
        "specversion": {"const": SPECVERSION},
        "datacontenttype": {"type": "string", "examples": ["application/json"]},
    }
    required = ["specversion"]
    for attribute, path in ATTRIBUTES.items():
        if attribute in ("type", "data"):
            continue
        if len(path) == 2:
            properties[attribute] = sources[path[0]][path[1]]
            if path[0] == "actor" and path[1] in actor.get("required", ()):
                required.append(attribute)
        else:
            properties[attribute] = envelope["properties"][path[0]]
            if path[0] in envelope.get("required", ()):
                required.append(attribute)
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


def _errors(*statuses: int) -> dict[str, Schema]:
    reasons = {
        400: "Malformed request (not JSON, or not the shape this route takes), or a bad parameter.",
        401: "No valid API key: send `Authorization: Bearer <key>`.",
        403: "The key lacks the scope this route needs.",
        404: "No event with this eventId in the caller's tenant.",
        413: "The body or the batch is larger than allowed.",
        415: "Unsupported Content-Type.",
        422: "A parameter breaks a rule (page size, search term, cursor, order).",
    }
    content = {JSON: {"schema": ref("ErrorBody")}}
    return {str(status): {"description": reasons[status], "content": content} for status in statuses}


def _package_version() -> str:
    try:
        return version("audit-gateway")
    except PackageNotFoundError:
        return "0"


def build_document(settings: Settings) -> Schema:
    components = _Components()
    for contract in CURRENT + PREVIOUS:
        schema = components.model(contract.model)
        schema["examples"] = [examples.data_example(contract)]
        schema["x-contract"] = {"name": contract.name, "version": contract.version}
        components.add(data_name(contract), schema)
    envelope = components.model(Envelope)
    cloudevent_base = _cloudevent_base(components, envelope)
    inputs: dict[str, str] = {}
    cloudevents: dict[str, str] = {}
    outputs: dict[str, str] = {}
    components.shape(EventJson, "EventJson")
    event_base = components.schemas.pop("EventJson")
    for contract in CURRENT:
        name = contract.graphql_type
        inputs[contract.name] = f"{name}EventInput"
        components.add(
            inputs[contract.name],
            _variant(envelope, contract, title=f"{contract.name} event", example=examples.event_example(contract)),
        )
        cloudevents[contract.name] = f"{name}CloudEvent"
        components.add(
            cloudevents[contract.name],
            _variant(
                cloudevent_base,
                contract,
                title=f"{contract.name} CloudEvent",
                example=examples.cloudevent_example(contract),
            ),
        )
        outputs[contract.name] = f"{name}Event"
        components.add(
            outputs[contract.name],
            _variant(
                event_base, contract, title=f"{contract.name} (stored)", schemaVersion={"const": contract.version}
            ),
        )
    components.add("EventInput", _one_of(inputs))
    components.add("CloudEvent", _one_of(cloudevents))
    components.add("AuditEvent", _one_of(outputs))
    components.shape(RecordAnswer, "RecordAnswer")
    components.shape(ErrorBody, "ErrorBody")
    page = components.shape(EventPage, "EventPage")
    page["properties"]["events"]["items"] = ref("AuditEvent")
    components.schemas.pop("EventJson")  # stands only for the per-contract ``AuditEvent`` variants
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Audit gateway HTTP API",
            "version": _package_version(),
            "description": _DESCRIPTION,
        },
        "paths": _paths(settings),
        "components": {
            "schemas": dict(sorted(components.schemas.items())),
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key from `audit-gateway keys create` (events:write to record, "
                    "events:read to read).",
                }
            },
        },
        "security": [{"apiKey": []}],
    }


_DESCRIPTION = """\
Record audit events over plain HTTP — as our own JSON event objects or as CloudEvents 1.0 — and read them back.
The same write path, validation, per-item results, limits, keys and idempotency as GraphQL's `recordEvents`.

CloudEvents binary mode is taken too: the CloudEvents attributes as `ce-*` headers (e.g. `ce-id`, `ce-type`,
`ce-actorid`), the contract's data object as the body, `Content-Type: application/json`.
"""


def _paths(settings: Settings) -> Schema:
    batch = settings.max_batch_size
    one = examples.event_example(next(c for c in CURRENT if c.name == "order.placed"))
    body_examples: dict[str, Schema] = {
        "batch": {"summary": "a batch of two", "value": [one, {**one, "eventId": "ord_2"}]}
    }
    for contract in CURRENT:
        body_examples[contract.name] = {"summary": contract.name, "value": examples.event_example(contract)}
    return {
        "/v1/events": {
            "post": {
                "operationId": "recordEvents",
                "summary": "Record one event or a batch",
                "description": f"One result per input, in order. A batch takes at most {batch} events; the "
                "accepted ones are committed in one transaction before the answer. Resending an event is safe: "
                "it answers `duplicate`.",
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {
                            "schema": {
                                "oneOf": [
                                    ref("EventInput"),
                                    {"type": "array", "items": ref("EventInput"), "maxItems": batch},
                                ]
                            },
                            "examples": body_examples,
                        },
                        CLOUDEVENT: {"schema": ref("CloudEvent")},
                        CLOUDEVENTS_BATCH: {"schema": {"type": "array", "items": ref("CloudEvent"), "maxItems": batch}},
                    },
                },
                "responses": {
                    "200": {
                        "description": "The body was read: one result per input (accepted, duplicate or rejected).",
                        "content": {JSON: {"schema": ref("RecordAnswer")}},
                    },
                    **_errors(400, 401, 403, 413, 415),
                },
            },
            "get": {
                "operationId": "listEvents",
                "summary": "One page of the caller's tenant's events",
                "parameters": [
                    {
                        "name": "first",
                        "in": "query",
                        "description": "Page size.",
                        "schema": {
                            "type": "integer",
                            "minimum": 0,
                            "maximum": settings.max_page_size,
                            "default": settings.default_page_size,
                        },
                    },
                    {
                        "name": "after",
                        "in": "query",
                        "description": "`pageInfo.endCursor` of the previous page (same search and order).",
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "search",
                        "in": "query",
                        "description": "The search language, e.g. `type:order.* actor:u_42 occurred:>=2026-01-01`.",
                        "schema": {"type": "string"},
                        "examples": {"orders": {"value": "type:order.*"}},
                    },
                    {
                        "name": "order",
                        "in": "query",
                        "description": "By sequence: newest first (`desc`) or oldest first (`asc`).",
                        "schema": {"type": "string", "enum": ["desc", "asc"], "default": "desc"},
                    },
                ],
                "responses": {
                    "200": {
                        "description": 'A page; `Link: <…>; rel="next"` when there is a next one.',
                        "headers": {"Link": {"description": "The next page's URL.", "schema": {"type": "string"}}},
                        "content": {JSON: {"schema": ref("EventPage")}},
                    },
                    **_errors(401, 403, 422),
                },
            },
        },
        "/v1/events/{eventId}": {
            "get": {
                "operationId": "getEvent",
                "summary": "One event by its eventId",
                "parameters": [{"name": "eventId", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "The event.", "content": {JSON: {"schema": ref("AuditEvent")}}},
                    **_errors(401, 403, 404, 422),
                },
            }
        },
    }
