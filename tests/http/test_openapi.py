"""``/openapi.json``: valid OpenAPI 3.1, derived from the contract models; a schemathesis run over it finds no
5xx and no answer that breaks the document's own schemas.

The fuzz run is in process, bounded and derandomized (like ``tests/test_fuzz.py``), on its own
SQLite database with a read+write key and a few stored events.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema
from starlette.applications import Starlette

from app.auth.keys import create_key
from app.config import Settings
from app.contracts.registry import CURRENT, PREVIOUS
from app.http import examples
from app.http.openapi import build_document, data_name
from app.ingest import Accepted, Submission, record_events
from app.server import create_app
from app.store.engine import create_engine
from app.store.migrate import upgrade
from tests.helpers import SOURCES

TENANT = "openapi"
MAX_EXAMPLES = 30
OPERATIONS = [("POST", "/v1/events"), ("GET", "/v1/events"), ("GET", "/v1/events/{eventId}")]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def test_the_document_is_valid_openapi_3_1() -> None:
    document = build_document(Settings())
    validate(document)  # openapi-spec-validator: the OpenAPI 3.1 meta-schema and its JSON Schema dialect
    assert document["openapi"] == "3.1.0"


def test_one_schema_per_contract_version_from_the_models_with_examples() -> None:
    schemas = build_document(Settings())["components"]["schemas"]
    for contract in CURRENT + PREVIOUS:
        schema = schemas[data_name(contract)]
        assert schema["x-contract"] == {"name": contract.name, "version": contract.version}
        assert schema["description"] == contract.description
        fields = {field.alias for field in contract.model.model_fields.values()}
        assert set(schema["properties"]) == fields
        assert schema["examples"] == [examples.data_example(contract)]
        assert contract.model.model_validate(schema["examples"][0])  # the example is valid data
    assert schemas["Money"]["properties"]["amountMinor"]["anyOf"][0]["type"] == "string"
    assert set(schemas["OrderPlacedDataV1"]["properties"]) == {"orderId", "total", "itemCount"}


async def test_served_and_switchable(database_url: str) -> None:
    for docs in (True, False):
        app = create_app(Settings(database_url=database_url, docs=docs))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
            openapi = await client.get("/openapi.json")
            page = await client.get("/docs")
        await app.state.engine.dispose()
        assert (openapi.status_code, page.status_code) == ((200, 200) if docs else (404, 404))
        if docs:
            assert openapi.json()["paths"].keys() == {"/v1/events", "/v1/events/{eventId}"}
            assert "default-src 'self'" in page.headers["content-security-policy"]


async def _prepare(url: str) -> str:
    engine = create_engine(url)
    try:
        await upgrade(engine)
        principal, secret = await create_key(
            engine, name="openapi", tenants=[TENANT], scopes=["events:read", "events:write"], sources=SOURCES
        )
        submissions = [
            Submission(
                envelope={k: v for k, v in examples.event_example(c).items() if k not in ("type", "data")}
                | {"eventId": f"seed_{c.name}"},
                member=c.input_member,
                data=examples.data_example(c),
            )
            for c in CURRENT
        ]
        results = await record_events(engine, principal, submissions, max_batch=100)
        assert all(isinstance(result, Accepted) for result in results), results
    finally:
        await engine.dispose()
    return secret


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Starlette, str]]:
    url = f"sqlite+aiosqlite:///{Path(tmp_path_factory.mktemp('openapi')) / 'audit.db'}"
    secret = asyncio.run(_prepare(url))
    app = create_app(Settings(database_url=url))
    yield app, secret
    asgi.shutdown_lifespans()


@pytest.fixture(scope="module")
def openapi_schema(gateway: tuple[Starlette, str]) -> OpenApiSchema:
    app, _ = gateway
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_every_operation_is_fuzzed(openapi_schema: OpenApiSchema) -> None:
    found = sorted((method.upper(), path) for path in openapi_schema for method in openapi_schema[path])
    assert found == sorted(OPERATIONS)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_fuzzed_requests_get_documented_answers(
    openapi_schema: OpenApiSchema, gateway: tuple[Starlette, str], method: str, path: str
) -> None:
    _, secret = gateway
    operation = openapi_schema[path][method]
    headers = {"Authorization": f"Bearer {secret}"}
    cases = st.one_of(*(operation.as_strategy(mode, headers=headers) for mode in GenerationMode))

    @given(case=cases)
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def answers_as_documented(case: schemathesis.Case) -> None:
        response = case.call()
        case.validate_response(response, checks=CHECKS)
        body: Any = response.json()
        assert "Traceback" not in response.text and "INTERNAL" not in str(body)

    answers_as_documented()
