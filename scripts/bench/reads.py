"""Reads on a large log: the real server over HTTP, the same app in-process, and the raw SQL + json floor."""

from __future__ import annotations

import importlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.store.engine import create_engine
from app.store.tables import events

from . import floors
from .measure import StatementCounter, Timing, concurrent, graphql_data, interleaved, log
from .servers import Server, http_client, in_process_client, reader_key
from .workload import READ_TENANT, ReadDocument, page, relations

FIRST, DEEP, RELATIONS = "page of 100 (newest)", "page of 100 at 90% depth", "page of 20 + causedBy/effects/correlated"


@dataclass
class ReadResult:
    name: str
    body: bytes
    http: Timing
    load: Timing
    in_process: Timing
    statements: int
    raw: Timing

    @property
    def gateway_over_raw(self) -> float:
        return self.http.p50_ms / self.raw.p50_ms if self.raw.p50_ms else 0.0

    @property
    def in_process_over_raw(self) -> float:
        return self.in_process.p50_ms / self.raw.p50_ms if self.raw.p50_ms else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "http_p50_ms": self.http.p50_ms,
            "http_p99_ms": self.http.p99_ms,
            "http_rps": self.http.rate,
            "load_rps": self.load.rate,
            "in_process_p50_ms": self.in_process.p50_ms,
            "statements": self.statements,
            "raw_p50_ms": self.raw.p50_ms,
            "raw_ops": self.raw.rate,
            "gateway_over_raw": self.gateway_over_raw,
            "in_process_over_raw": self.in_process_over_raw,
        }


@dataclass(frozen=True)
class Plan:
    rounds: int
    seconds: float
    """Interleaved latency rounds: at most this many, or this long."""
    load_seconds: float
    clients: int


EXECUTOR_HEADER = "x-audit-executor"
"""Which executor answered (the read fast path says so); recorded when the gateway sends it."""


async def _check(
    client: httpx.AsyncClient, key: str, document: ReadDocument, executors: dict[str, str] | None = None
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    response = await client.post("/graphql", content=document.body, headers=headers)
    if executors is not None:
        executors[document.name] = response.headers.get(EXECUTOR_HEADER, "-")
    data = graphql_data(response)
    edges = data["events"]["edges"]
    if len(edges) != document.expect_edges:
        raise RuntimeError(f"{document.name}: expected {document.expect_edges} edges, got {len(edges)}")
    return data


def deep_cursor(head: int) -> tuple[str, int] | None:
    """A keyset cursor 0.9 × head events from the top (newest first), made with the gateway's own codec.

    Paging 900,000 events to get there would take longer than the benchmark; if the codec has moved, the
    deep page is reported as not measured rather than guessed.
    """
    for name in ("app.store.event_query", "app.store.query"):  # the module was renamed once
        try:
            codec = importlib.import_module(name)
        except ImportError:
            continue
        sequence = head - int(0.9 * head)
        return codec.encode_cursor((sequence,), codec.EventQuery().digest(READ_TENANT)), sequence
    return None


async def reads(
    backend: str, url: str, directory: Path, plan: Plan, refused: dict[str, str], executors: dict[str, str]
) -> list[ReadResult]:
    """The read measurements; documents the gateway refuses land in ``refused``, executors in ``executors``."""
    engine = create_engine(url, statement_timeout_ms=600_000)
    try:
        key = reader_key(url, READ_TENANT)
        async with engine.connect() as connection:
            statement = select(func.max(events.c.sequence)).where(events.c.tenant == READ_TENANT)
            head = int((await connection.execute(statement)).scalar_one())
        documents: list[tuple[ReadDocument, Callable[[AsyncEngine], Awaitable[bytes]]]] = [
            (ReadDocument(FIRST, page(), 100), lambda e: floors.raw_page(e, READ_TENANT, 100, None)),
        ]
        deep = deep_cursor(head)
        if deep is not None:
            cursor, deep_sequence = deep
            documents.append(
                (ReadDocument(DEEP, page(cursor), 100), lambda e: floors.raw_page(e, READ_TENANT, 100, deep_sequence))
            )
        documents.append((ReadDocument(RELATIONS, relations(), 20), lambda e: floors.raw_relations(e, READ_TENANT)))
        async with (
            Server(url, directory / f"server-read-{backend}.log") as server,
            http_client(server.base_url, plan.clients) as client,
            in_process_client(url, engine) as local,
        ):
            for document, raw in list(documents):  # a document the gateway refuses is reported, not measured
                try:
                    answer = await _check(client, key, document, executors)
                except (RuntimeError, httpx.HTTPError) as error:
                    log(f"  {backend} {document.name}: not measured: {error}")
                    refused[document.name] = str(error)[:500]
                    documents.remove((document, raw))
                    continue
                if document.name == DEEP and deep is not None:
                    first = int(answer["events"]["edges"][0]["node"]["sequence"])
                    if first != deep[1] - 1:
                        log(f"  {backend}: the deep cursor starts at {first}, expected {deep[1] - 1}: not measured")
                        refused[document.name] = f"the deep cursor starts at {first}, expected {deep[1] - 1}"
                        documents.remove((document, raw))
            for _ in range(5):  # warm every path up before measuring any
                for document, raw in documents:
                    await _check(client, key, document)
                    await _check(local, key, document)
                    await raw(engine)
            results = await _measure(documents, client, local, engine, key, plan)
            for r in results:
                log(
                    f"  {backend} {r.name}: HTTP p50 {r.http.p50_ms:.1f} ms, in-process "
                    f"{r.in_process.p50_ms:.1f} ms, raw {r.raw.p50_ms:.2f} ms ({r.gateway_over_raw:.1f}×), "
                    f"{r.statements} statements, {r.load.rate:.0f} req/s with {plan.clients} clients"
                )
        return results
    finally:
        await engine.dispose()


async def _measure(
    documents: list[tuple[ReadDocument, Callable[[AsyncEngine], Awaitable[bytes]]]],
    client: httpx.AsyncClient,
    local: httpx.AsyncClient,
    engine: AsyncEngine,
    key: str,
    plan: Plan,
) -> list[ReadResult]:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def post(to: httpx.AsyncClient, body: bytes) -> Callable[[], Awaitable[None]]:
        async def call() -> None:
            (await to.post("/graphql", content=body, headers=headers)).raise_for_status()

        return call

    def floor(raw: Callable[[AsyncEngine], Awaitable[bytes]]) -> Callable[[], Awaitable[bytes]]:
        return lambda: raw(engine)

    calls: dict[str, Callable[[], Awaitable[object]]] = {}
    for document, raw in documents:
        calls[f"http {document.name}"] = post(client, document.body)
        calls[f"local {document.name}"] = post(local, document.body)
        calls[f"raw {document.name}"] = floor(raw)
    timings = await interleaved(calls, plan.rounds, plan.seconds)
    results = []
    for document, _ in documents:
        load = await concurrent(post(client, document.body), plan.clients, plan.load_seconds, 20_000)
        counter = StatementCounter()
        event.listen(engine.sync_engine, "before_cursor_execute", counter)
        try:
            await _check(local, key, document)
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", counter)
        results.append(
            ReadResult(
                document.name,
                document.body,
                timings[f"http {document.name}"],
                load,
                timings[f"local {document.name}"],
                counter.count,
                timings[f"raw {document.name}"],
            )
        )
    return results


def deep_over_first(results: list[ReadResult]) -> float | None:
    by_name = {r.name: r for r in results}
    if FIRST in by_name and DEEP in by_name and by_name[FIRST].http.p50_ms:
        return by_name[DEEP].http.p50_ms / by_name[FIRST].http.p50_ms
    return None


def summary(results: list[ReadResult], refused: dict[str, str], executors: dict[str, str]) -> dict[str, Any]:
    return {
        "results": [r.as_json() for r in results],
        "deep_over_first": deep_over_first(results),
        "refused": refused,
        "executors": executors,
        "documents": {r.name: json.loads(r.body) for r in results},
    }
