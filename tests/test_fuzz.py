"""Property-based fuzzing of the whole GraphQL API with schemathesis, in process against the ASGI app.

Schemathesis reads the schema by introspection and, for every root field
(seven queries and ``recordEvents``), generates operations — valid ones and
ones that break the schema's types — with hostile scalars mixed in. Whatever
it sends, the gateway must answer without a 5xx, and every error must carry
one of the project's codes; an ``INTERNAL`` error is an unhandled exception,
so it fails the run with the operation that caused it.

The run is bounded and derandomized, so CI sends the same operations every
time. It has its own SQLite database, seeded with a few linked flows so that
nested resolvers meet real data: the point is how the API handles input,
which the backend-parametrized suites already check on PostgreSQL.

Schemathesis' own pytest loader (``schemathesis.pytest.from_fixture``) does not
run under pytest 9.2 (it sets ``Node._nodeid``, which pytest removed), so each
operation's cases come from ``APIOperation.as_strategy`` under ``@given``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.graphql import nodes
from schemathesis.python import asgi
from schemathesis.specs.graphql.schemas import GraphQLSchema
from starlette.applications import Starlette

from app.auth.keys import create_key
from app.config import Settings
from app.ingest import Accepted, Submission, record_events
from app.server import create_app
from app.store.engine import create_engine
from app.store.migrate import upgrade
from tests.helpers import SOURCES, order_placed, payment_captured, refund_issued, uid

ALLOWED_CODES = {
    "BAD_USER_INPUT",
    "INVALID_CURSOR",
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "LIMIT_EXCEEDED",
    "GRAPHQL_VALIDATION_FAILED",
    "INTERNAL",
}
LEAKS = ("Traceback", "sqlalchemy", "SELECT ", "/work/", ".py")
TENANT = "fuzz"
MAX_EXAMPLES = 40

# Every root field; a test fails when the schema grows one that is not listed here.
ROOT_FIELDS = [
    ("Query", "node"),
    ("Query", "nodes"),
    ("Query", "events"),
    ("Query", "event"),
    ("Query", "correlation"),
    ("Query", "eventTypes"),
    ("Query", "verifyIntegrity"),
    ("Mutation", "recordEvents"),
]

# Scalars the generator does not know well enough: valid values, their edges (years 1 and 9999,
# the widest offsets, the 64-bit bounds) and junk.
_DAYS = st.one_of(st.sampled_from(["0001-01-01", "9999-12-31", "1970-01-01"]), st.dates().map(str))
_OFFSETS = st.sampled_from(["Z", "+00:00", "+23:59", "-23:59", "+05:30", ""])
schemathesis.graphql.scalar(
    "DateTime",
    st.one_of(
        st.datetimes(timezones=st.timezones()).map(lambda moment: moment.isoformat()),
        st.builds(lambda day, offset: f"{day}T00:00:00{offset}", _DAYS, _OFFSETS),
        st.sampled_from(["2026-13-01T00:00:00Z", "yesterday", "", "9" * 50]),
        st.text(max_size=50),
    ).map(nodes.String),
)
_BIGINT_EDGES = st.sampled_from([0, -1, 2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 10**20])
schemathesis.graphql.scalar(
    "BigInt",
    st.one_of(
        st.integers().map(nodes.Int),
        _BIGINT_EDGES.map(nodes.Int),
        st.one_of(st.integers(), _BIGINT_EDGES).map(str).map(nodes.String),
        st.text(max_size=25).map(nodes.String),
    ),
)


async def _prepare(url: str) -> str:
    """Migrate, create a read+write key, and record a few linked order → payment → refund flows."""
    engine = create_engine(url)
    try:
        await upgrade(engine)
        principal, secret = await create_key(
            engine, name="fuzz", tenants=[TENANT], scopes=["events:read", "events:write"], sources=SOURCES
        )
        flows = []
        for _ in range(3):
            corr = f"c_{uid()}"
            order = order_placed(corr=corr)
            payment = payment_captured(corr=corr, cause=order["eventId"])
            flows += [order, payment, refund_issued(corr=corr, cause=payment["eventId"])]
        submissions = [
            Submission(
                envelope={name: value for name, value in event.items() if name != "data"},
                member=next(iter(event["data"])),
                data=next(iter(event["data"].values())),
            )
            for event in flows
        ]
        results = await record_events(engine, principal, submissions, max_batch=len(submissions))
        assert all(isinstance(result, Accepted) for result in results), results
    finally:
        await engine.dispose()
    return secret


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Starlette, str]]:
    """The app and a read+write key; the app owns its engine, so its lifespan disposes of it."""
    url = f"sqlite+aiosqlite:///{Path(tmp_path_factory.mktemp('fuzz')) / 'audit.db'}"
    secret = asyncio.run(_prepare(url))
    app = create_app(Settings(database_url=url))
    yield app, secret
    # Schemathesis serves the app on its own event-loop thread; ending the lifespan there closes the pool.
    asgi.shutdown_lifespans()


@pytest.fixture(scope="module")
def graphql_schema(gateway: tuple[Starlette, str]) -> GraphQLSchema:
    app, secret = gateway
    return schemathesis.graphql.from_asgi("/graphql", app, headers={"Authorization": f"Bearer {secret}"})


def test_every_root_field_is_fuzzed(graphql_schema: GraphQLSchema) -> None:
    fields = [(root, field) for root in ("Query", "Mutation") for field in graphql_schema[root]]
    assert sorted(fields) == sorted(ROOT_FIELDS)


@pytest.mark.parametrize(("root", "field"), ROOT_FIELDS, ids=[field for _, field in ROOT_FIELDS])
def test_fuzzed_operations_never_fail_the_server(
    graphql_schema: GraphQLSchema, gateway: tuple[Starlette, str], root: str, field: str
) -> None:
    _, secret = gateway
    operation = graphql_schema[root][field]
    headers = {"Authorization": f"Bearer {secret}"}
    # Positive cases reach the resolvers; negative ones break the schema's types on purpose.
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
    def answers_cleanly(case: schemathesis.Case) -> None:
        response = case.call()
        where = f"\noperation:\n{case.body}"
        assert response.status_code < 500, f"{response.status_code} {response.text[:500]}{where}"
        for leak in LEAKS:
            assert leak not in response.text, f"{leak!r} leaked: {response.text[:500]}{where}"
        if response.status_code != 200:
            assert 400 <= response.status_code < 500, where
            return
        body = response.json()
        assert isinstance(body, dict) and ("data" in body or "errors" in body), f"{body}{where}"
        for error in body.get("errors") or []:
            code = (error.get("extensions") or {}).get("code")
            assert code in ALLOWED_CODES, f"error without a project code: {error}{where}"
            assert code != "INTERNAL", f"unhandled exception (masked as INTERNAL): {error}{where}"

    answers_cleanly()
