"""Batched lookups stay within what each backend accepts, however many keys one request brings.

The attacks of issue #13.1: ``nodes`` ×10 aliases with 500 ids each through variables (5,000 keys
in one round), and ``events(first:500){… correlated(first:500){… effects(first:1)}}``, which used
to put more than 500 branches into one UNION ALL (SQLite refuses that; PostgreSQL spent seconds
planning it). Now every statement has a constant shape, larger batches run as several statements,
and a failure in one of them is one error and one bounded log record.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.graphql.events import node_id
from app.store import read
from app.store.read import KEYS_PER_STATEMENT, POSTGRES_KEYS_PER_STATEMENT, TenantReader
from app.store.tables import events
from tests.helpers import RECORD, Api, StatementCounter, order_placed, payment_captured, uid

ALIASES = 10
IDS_PER_ALIAS = 500
NODES = (
    "query($ids: [ID!]!) {\n"
    + "\n".join(f"  a{n}: nodes(ids: $ids{n}) {{ ... on AuditEvent {{ eventId sequence }} }}" for n in range(ALIASES))
    + "\n}"
)
NODES = NODES.replace("query($ids: [ID!]!)", "query(" + ", ".join(f"$ids{n}: [ID!]!" for n in range(ALIASES)) + ")")
MAX_STATEMENT_CHARS = 32_000
MAX_POSTGRES_UNION_CHARS = 200_000  # 128 branches of ~1.4 kB


@pytest.fixture
def settings(database_url: str) -> Settings:
    """A budget the attack documents fit in: these tests are about chunking (the cost limit is tests/graphql).

    The reference executor: the compiled one answers any failing request by running it again through the
    reference, so a failure injected into one statement must meet the reference directly.
    """
    return Settings(database_url=database_url, max_cost=10**9, compiled_reads=False)


async def _seed(api: Api, flows: int) -> list[dict[str, Any]]:
    """``flows`` order → payment pairs spread over ``flows // 3`` correlation ids; returns the accepted events."""
    batch = []
    run = uid()[:4]
    for n in range(flows):
        corr = f"c_{n % max(flows // 3, 1)}_{run}"
        order = order_placed(corr=corr)
        batch += [order, payment_captured(corr=corr, cause=order["eventId"])]
    accepted = []
    for start in range(0, len(batch), 1000):
        results = (await api.ok(RECORD, {"events": batch[start : start + 1000]}))["recordEvents"]["results"]
        accepted += [r["event"] for r in results]
    return accepted


async def test_ten_aliases_of_500_node_ids_answer_with_bounded_statements(
    api: Api, statements: StatementCounter, tenant: str
) -> None:
    stored = await _seed(api, 60)  # 120 events
    by_sequence = {int(e["sequence"]): e["eventId"] for e in stored}
    top = max(by_sequence)
    # 5,000 distinct ids: the stored events, sequences that do not exist, and another tenant's ids.
    wanted = [node_id(tenant, s) for s in range(1, ALIASES * IDS_PER_ALIAS - 100 + 1)]
    wanted += [node_id("someone-else", s) for s in range(1, 101)]
    variables = {f"ids{n}": wanted[n * IDS_PER_ALIAS : (n + 1) * IDS_PER_ALIAS] for n in range(ALIASES)}
    statements.statements.clear()
    data = await api.ok(NODES, variables, key="reader")
    answered = [node for n in range(ALIASES) for node in data[f"a{n}"]]
    assert len(answered) == len(wanted)
    for index, node in enumerate(answered[: ALIASES * IDS_PER_ALIAS - 100]):
        sequence = index + 1
        if sequence in by_sequence:
            assert node == {"eventId": by_sequence[sequence], "sequence": str(sequence)}
        else:
            assert node is None, (sequence, top, node)
    assert all(node is None for node in answered[-100:]), "another tenant's ids never resolve"
    # One API-key lookup, then one statement per KEYS_PER_STATEMENT distinct sequences.
    assert statements.count == 1 + math.ceil((ALIASES * IDS_PER_ALIAS - 100) / KEYS_PER_STATEMENT)
    assert max(len(s) for s in statements.statements) < MAX_STATEMENT_CHARS


CORRELATED_EFFECTS = """
{ events(first: 500, orderBy: {field: SEQUENCE, direction: ASC}) { edges { node { ... on AuditEvent {
    eventId
    correlated(first: 500) { ... on AuditEvent { eventId effects(first: 1) { ... on AuditEvent { eventId } } } }
} } } } }
"""


async def test_correlated_500_with_effects_answers_on_both_backends(
    api: Api, statements: StatementCounter, backend: str
) -> None:
    stored = await _seed(api, 450)  # 900 events in 150 interleaved correlations: the page reaches all 900
    caused = {e["causationId"]: e["eventId"] for e in stored if e["causationId"]}
    statements.statements.clear()
    edges = (await api.ok(CORRELATED_EFFECTS, key="reader"))["events"]["edges"]
    assert len(edges) == 500
    effects_keys = set()
    for edge in edges:
        for other in edge["node"]["correlated"]:
            effects_keys.add(other["eventId"])
            expected = [caused[other["eventId"]]] if other["eventId"] in caused else []
            assert [e["eventId"] for e in other["effects"]] == expected
    assert len(effects_keys) > KEYS_PER_STATEMENT, "the attack needs more keys than one statement takes"
    per_statement = POSTGRES_KEYS_PER_STATEMENT if backend == "postgresql" else KEYS_PER_STATEMENT
    # key lookup, page, correlated (150 correlation ids), effects (900 causes), each in chunks
    expected = 1 + 1 + math.ceil(150 / per_statement) + math.ceil(len(effects_keys) / read.EFFECTS_PER_STATEMENT)
    assert statements.count == expected, [s[:100] for s in statements.statements]
    assert max(len(s) for s in statements.statements) < MAX_POSTGRES_UNION_CHARS


async def test_per_key_lookups_merge_chunks_exactly(
    engine: AsyncEngine, api: Api, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same answer whatever the chunk size: chunks split keys, never a key's events."""
    stored = await _seed(api, 30)
    reader = TenantReader(engine, tenant)
    correlations = [*sorted({e["correlationId"] for e in stored}), "missing"]
    causes = [*sorted({e["eventId"] for e in stored}), "missing"]
    refs = [*sorted({(e["eventId"], e["source"], int(e["sequence"])) for e in stored}), ("missing", "x", 10**9)]
    sequences = [int(e["sequence"]) for e in stored] + [10**9]

    async def answers() -> tuple[object, ...]:
        return (
            {k: [r.sequence for r in v] for k, v in (await reader.by_correlation(correlations, 4)).items()},
            {k: [r.sequence for r in v] for k, v in (await reader.effects_of(refs, 2)).items()},
            sorted((await reader.by_sequences(sequences)).keys()),
            sorted((await reader.by_event_ids(causes)).keys()),
            await reader.correlation_summaries(correlations),
        )

    whole = await answers()
    for size in (1, 3, 7):
        monkeypatch.setattr(read, "KEYS_PER_STATEMENT", size)
        monkeypatch.setattr(read, "POSTGRES_KEYS_PER_STATEMENT", size)
        monkeypatch.setattr(read, "EFFECTS_PER_STATEMENT", size)
        monkeypatch.setattr(read.chunks, "__defaults__", (size,))
        assert await answers() == whole
    assert whole[0]["missing"] == [] and len(whole[4]) == len(correlations) - 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_sqlite_reaches_events_only_through_the_keys(engine: AsyncEngine, tenant: str) -> None:
    """The plan of the per-key lookup: keys outside, events by primary key, a LIMIT search per key."""
    statement = TenantReader(engine, tenant).first_per_key_statement(events.c.correlation_id, ["a", "b"], 3)
    sql = str(statement.compile(engine.sync_engine, compile_kwargs={"literal_binds": True}))
    async with engine.connect() as connection:
        plan = [row[3] for row in await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")]
    assert plan[0].startswith("SCAN k"), plan
    assert not any(step.startswith("SCAN events") for step in plan), plan


async def test_a_failing_chunk_is_one_error_and_one_bounded_log_record(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tenant: str
) -> None:
    await _seed(api, 5)
    calls = 0
    original = read._fetch
    huge_sql = "SELECT " + ", ".join(f"column_{n}" for n in range(50_000))

    async def fail_third(connection: Any, statement: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise OperationalError(huge_sql, {"tenant": tenant}, Exception("too many terms in compound SELECT"))
        return await original(connection, statement)

    monkeypatch.setattr(read, "_fetch", fail_third)
    wanted = [node_id(tenant, s) for s in range(1, ALIASES * IDS_PER_ALIAS + 1)]
    variables = {f"ids{n}": wanted[n * IDS_PER_ALIAS : (n + 1) * IDS_PER_ALIAS] for n in range(ALIASES)}
    with caplog.at_level(logging.ERROR, logger="app.errors"):
        body = await api.post(NODES, variables, key="reader")
    errors = body["errors"]
    assert len(errors) == 1, errors[:3]
    (error,) = errors
    assert error["extensions"]["code"] == "INTERNAL"
    assert calls == 3, "the chunks after the failed one are not run"
    logged = [r for r in caplog.records if r.name == "app.errors"]
    assert len(logged) == 1
    text = caplog.text
    assert error["extensions"]["errorId"] in text and "too many terms" in text
    assert len(text) < 20_000 and "column_1000" not in text


EFFECTS_OF_PAGE = "{ events(first: 50) { edges { node { ... on AuditEvent { effects(first: 2) { __typename } } } } } }"


async def test_fields_failing_with_one_batch_are_one_error(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """25 ``causedBy`` fields share one failed statement: one error (with its count) and one log record.

    (The effects' ``causedBy``: the page's own are read with the page, ``app.graphql.lookahead``.)
    """
    await _seed(api, 25)

    async def fail(*_: Any, **__: Any) -> Any:
        raise OperationalError("SELECT " + "x, " * 100_000, {}, Exception("disk I/O error"))

    monkeypatch.setattr(TenantReader, "holders", fail)  # what causedBy's lookup (TenantReader.causes) reads
    query = EFFECTS_OF_PAGE.replace("{ __typename }", "{ ... on AuditEvent { causedBy { __typename } } }")
    with caplog.at_level(logging.ERROR, logger="app.errors"):
        body = await api.post(query, key="reader")
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "INTERNAL" and error["extensions"]["occurrences"] == 25, error
    assert len(body["data"]["events"]["edges"]) == 50, "the other fields still answer"
    assert len([r for r in caplog.records if r.name == "app.errors"]) == 1 and len(caplog.text) < 20_000


async def test_distinct_internal_errors_are_logged_a_few_times_then_summed_up(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from app.graphql import errors as policy

    await _seed(api, 25)

    def explode(*_: Any, **__: Any) -> Any:
        raise RuntimeError("x" * 100_000)  # a new exception for each causedBy field

    monkeypatch.setattr("app.graphql.events.to_event", explode)
    query = EFFECTS_OF_PAGE.replace("effects(first: 2) { __typename }", "causedBy { __typename }")
    with caplog.at_level(logging.ERROR, logger="app.errors"):
        body = await api.post(query, key="reader")
    assert len(body["errors"]) == 25 and {e["extensions"]["code"] for e in body["errors"]} == {"INTERNAL"}
    logged = [r for r in caplog.records if r.name == "app.errors"]
    assert len(logged) == policy.MAX_LOGGED + 1 and "22 more internal errors" in logged[-1].getMessage()
    assert len(caplog.text) < 50_000
