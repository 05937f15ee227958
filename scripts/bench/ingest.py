"""Ingestion: ``recordEvents`` over HTTP against the real server, then the same rows through the floors."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.store.engine import create_engine
from app.store.tables import events
from scripts import generate

from . import floors
from .measure import Timing, concurrent, graphql_data, log
from .servers import FreshDatabases, Server, http_client, writer_key
from .workload import INGEST_TENANT


@dataclass
class IngestResult:
    batch: int
    sent_events: int
    gateway_events_per_s: float
    gateway_p50_ms: float
    core_rows_per_s: float
    driver_rows_per_s: float

    @property
    def ratio(self) -> float:
        """Gateway events/s ÷ Core rows/s."""
        return self.gateway_events_per_s / self.core_rows_per_s if self.core_rows_per_s else 0.0

    @property
    def driver_ratio(self) -> float:
        return self.gateway_events_per_s / self.driver_rows_per_s if self.driver_rows_per_s else 0.0

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio, "driver_ratio": self.driver_ratio}


async def _head(engine: AsyncEngine, tenant: str) -> int:
    async with engine.connect() as connection:
        statement = select(func.coalesce(func.max(events.c.sequence), 0)).where(events.c.tenant == tenant)
        return int((await connection.execute(statement)).scalar_one())


async def _send_all(
    client: httpx.AsyncClient, key: str, bodies: list[tuple[bytes, int]], clients: int, seconds: float
) -> tuple[int, Timing]:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    queue = iter(bodies)
    accepted = [0]

    async def one() -> None:
        body, count = next(queue)
        result = graphql_data(await client.post("/graphql", content=body, headers=headers))["recordEvents"]
        if result["acceptedCount"] != count:
            raise RuntimeError(f"recordEvents did not accept every event: {json.dumps(result)[:1000]}")
        accepted[0] += count

    timing = await concurrent(one, clients, seconds, len(bodies))
    return accepted[0], timing


async def ingestion(
    backend: str,
    directory: Path,
    batches: dict[int, tuple[int, float]],
    clients: int,
    bodies: dict[int, list[tuple[bytes, int]]],
) -> list[IngestResult]:
    """Per batch size: gateway events/s, then Core and the driver on the same rows, in that order, in one run.

    ``bodies``: :func:`workload.ingest_bodies` for ``INGEST_TENANT`` (each backend gets fresh databases).
    """
    databases = await FreshDatabases(backend, directory / backend, ("ingest", "core", "driver")).create()
    url = databases.urls["ingest"]
    key = writer_key(url, INGEST_TENANT)
    gateway_engine, core_engine = create_engine(url), create_engine(databases.urls["core"])
    results: list[IngestResult] = []
    try:
        async with (
            Server(url, directory / f"server-ingest-{backend}.log") as server,
            http_client(server.base_url, clients) as client,
        ):
            await _send_all(client, key, bodies[0], clients, 60)  # warm-up: connections, caches, statements
            for size, (_, seconds) in sorted(batches.items()):
                for engine in (gateway_engine, core_engine):  # what autovacuum would have done by now
                    await generate.analyze(engine)
                before = await _head(gateway_engine, INGEST_TENANT)
                sent, timing = await _send_all(client, key, bodies[size], clients, seconds)
                after = await _head(gateway_engine, INGEST_TENANT)
                if after - before != sent:
                    raise RuntimeError(f"batch {size}: {sent} events acknowledged, {after - before} stored")
                async with gateway_engine.connect() as connection:
                    stored = await connection.execute(
                        select(events)
                        .where(events.c.tenant == INGEST_TENANT, events.c.sequence > before, events.c.sequence <= after)
                        .order_by(events.c.sequence)
                    )
                    rows = [dict(row._mapping) for row in stored]
                core_rows, core = await floors.core_insert(core_engine, rows, size, clients, seconds)
                driver_url = databases.urls["driver"]
                if backend == "sqlite":
                    raw = floors.stored_rows_sqlite(url.split("///", 1)[1], INGEST_TENANT, before, after)
                    driver_rows, driver = await floors.sqlite_executemany(
                        driver_url.split("///", 1)[1], raw, size, clients, seconds
                    )
                else:
                    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
                    raw = await floors.stored_rows_postgres(dsn, INGEST_TENANT, before, after)
                    driver_rows, driver = await floors.postgres_executemany(
                        driver_url.replace("postgresql+asyncpg://", "postgresql://"), raw, size, clients, seconds
                    )
                result = IngestResult(
                    size,
                    sent,
                    sent / timing.elapsed,
                    timing.p50_ms,
                    core_rows / core.elapsed,
                    driver_rows / driver.elapsed,
                )
                log(
                    f"  {backend} ingest batch {size}: gateway {result.gateway_events_per_s:,.0f} ev/s, "
                    f"Core {result.core_rows_per_s:,.0f} rows/s, driver {result.driver_rows_per_s:,.0f} rows/s; "
                    f"gateway ÷ Core {result.ratio:.3f}"
                )
                results.append(result)
    finally:
        await core_engine.dispose()
        await gateway_engine.dispose()
        await databases.drop()
    return results
