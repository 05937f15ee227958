"""Batched lookups stay within what each backend accepts: keys are split into statements of a bounded size."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.principal import Principal, Scope
from app.demo import SOURCES, flows
from app.graphql.events import node_id
from app.ingest import Rejected, Submission, validate
from app.store.append import append
from app.store.read import EFFECTS_PER_STATEMENT, KEYS_PER_STATEMENT, TenantReader
from tests.helpers import Api, StatementCounter


async def _seed(engine: AsyncEngine, tenant: str, count: int) -> int:
    principal = Principal("seed", "seed", frozenset({tenant}), frozenset({Scope.WRITE}), frozenset(SOURCES))
    batch = []
    for flow in flows(count, seed=5):
        for step in flow.steps:
            event = validate(
                Submission(envelope={**step.envelope, "tenant": tenant}, member=step.member, data=step.data), principal
            )
            assert not isinstance(event, Rejected)
            batch.append(event)
    await append(engine, batch)
    return len(batch)


async def test_many_keys_are_read_in_bounded_statements(
    engine: AsyncEngine, tenant: str, statements: StatementCounter
) -> None:
    total = await _seed(engine, tenant, 1300)
    reader = TenantReader(engine, tenant)
    statements.statements.clear()
    found = await reader.by_sequences(range(1, total + 1))
    assert len(found) == total and statements.count == -(-total // KEYS_PER_STATEMENT)
    refs = [(record.event_id, record.source, record.sequence) for record in found.values()]
    statements.statements.clear()
    effects = await reader.effects_of(refs, 1)
    assert len(effects) == total and statements.count == -(-total // EFFECTS_PER_STATEMENT)
    causes = {record.causation_id for record in found.values() if record.causation_id}
    assert sum(len(records) for records in effects.values()) == len(causes)


async def test_hundreds_of_nodes_with_relations_answer(api: Api, engine: AsyncEngine, tenant: str) -> None:
    """#13.1: 600 distinct nodes, each with effects and correlated, used to exceed SQLite's 500 branches."""
    total = await _seed(engine, tenant, 700)
    ids = [node_id(tenant, sequence) for sequence in range(1, min(total, 600) + 1)]
    selection = "... on AuditEvent { eventId effects(first: 1) { __typename } correlated(first: 1) { __typename } }"
    query = (
        "query($a: [ID!]!, $b: [ID!]!) { a: nodes(ids: $a) { "
        + selection
        + " } b: nodes(ids: $b) { "
        + (selection + " } }")
    )
    data = await api.ok(query, {"a": ids[:300], "b": ids[300:]}, key="reader")
    assert len(data["a"]) + len(data["b"]) == len(ids) and all(data["a"]) and all(data["b"])


async def test_sqlite_finds_a_causes_earlier_holders_by_its_id(engine: AsyncEngine, tenant: str) -> None:
    """The "earlier holder" check of ``effects`` reads the holders of one id, never the tenant's earlier events."""
    if engine.dialect.name != "sqlite":
        return
    statement = TenantReader(engine, tenant)._effects_branch(("ord_1", "checkout", 900_000), 50)
    sql = str(statement.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    async with engine.connect() as connection:
        plan = " | ".join(str(row[3]) for row in await connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
    assert "sequence<?" not in plan, plan
    assert plan.count("(tenant=? AND event_id=?") == 2, plan
