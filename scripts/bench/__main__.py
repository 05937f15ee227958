"""``python -m scripts.bench``: run the benchmarks and write docs/benchmarks.md (see ``--help``).

Run it from the repository root, serialised with every other benchmark on the machine:

    flock /work/bench.lock .venv/bin/python -m scripts.bench [--quick] [--compare docs/benchmarks/before-….json]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import fcntl
import functools
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import peer, report
from .ingest import ingestion
from .measure import log
from .reads import Plan as ReadPlan
from .reads import reads, summary
from .servers import ROOT, FreshDatabases, read_log, workers_supported
from .workload import INGEST_TENANT, READ_TENANT, ingest_bodies
from .worst import worst_request

LOCK = Path("/work/bench.lock")


@dataclass(frozen=True)
class Plan:
    read_events: int
    ingest: dict[int, tuple[int, float]]
    """Batch size → (at most this many events, at most this many seconds)."""
    read_rounds: int
    read_seconds: float
    load_seconds: float
    clients: int
    peer_rounds: int
    peer_seconds: int
    peer_connections: int


FULL = Plan(
    read_events=1_000_000,
    ingest={100: (40_000, 12.0), 500: (100_000, 12.0)},
    read_rounds=300,
    read_seconds=45.0,
    load_seconds=6.0,
    clients=4,
    peer_rounds=2,
    peer_seconds=15,
    peer_connections=10,
)
QUICK = Plan(
    read_events=100_000,
    ingest={100: (2_000, 3.0), 500: (5_000, 3.0)},
    read_rounds=20,
    read_seconds=5.0,
    load_seconds=2.0,
    clients=4,
    peer_rounds=1,
    peer_seconds=4,
    peer_connections=10,
)


def _lock_held() -> bool:
    """Whether someone holds /work/bench.lock (normally the ``flock`` this run was started under)."""
    if not LOCK.exists():
        return False
    with LOCK.open() as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def _node_version() -> str:
    node = peer.WORK / peer.NODE
    if not node.exists():
        return "-"
    return subprocess.run([str(node), "--version"], capture_output=True, text=True, check=False).stdout.strip()


async def run(args: argparse.Namespace, plan: Plan, command: str) -> dict[str, Any]:
    started_at = dt.datetime.now(dt.UTC)
    started = time.perf_counter()
    info = report.machine()
    if "postgresql" in args.backends:
        info["postgresql"] = await report.postgres_version()
    figures: dict[str, Any] = {
        "command": command,
        "started": started_at.isoformat(),
        "quick": args.quick,
        "machine": info,
        "plan": {**plan.__dict__, "ingest": {str(k): v for k, v in plan.ingest.items()}},
        "load": {"before": report.load_average()},
        "steps": {},
        "generated": {},
        "ingest": {},
        "read": {},
        "failures": {},
        "worst": {"measured": False, "reason": "not run"},
    }
    directory = Path(tempfile.mkdtemp(prefix="audit-bench-"))

    async def step(name: str, work: Callable[[], Awaitable[None]]) -> None:
        """One step, timed; a step that fails is reported in the page ("failed: …"), the others still run."""
        since = time.perf_counter()
        try:
            await work()
        except Exception as error:  # the run goes on: one broken step must not cost the other figures
            log(f"{name}: FAILED: {error!r}")
            figures["failures"][name] = f"{type(error).__name__}: {str(error)[:1500]}"
        figures["steps"][name] = time.perf_counter() - since
        figures["load"].setdefault("steps", {})[name] = report.load_average()

    read_urls: dict[str, str] = {}
    bodies: dict[int, list[tuple[bytes, int]]] = {}

    async def ingest_step(backend: str) -> None:
        if not bodies:
            log("ingestion: serializing the request bodies (once for every backend)")
            bodies.update(ingest_bodies({size: count for size, (count, _) in plan.ingest.items()}, INGEST_TENANT, 101))
        log(f"{backend}: ingestion, batches {', '.join(map(str, plan.ingest))}")
        results = await ingestion(backend, directory, plan.ingest, plan.clients, bodies)
        figures["ingest"][backend] = [r.as_json() for r in results]

    async def log_step(backend: str) -> None:
        log(f"{backend}: the {plan.read_events:,}-event read log")
        read_urls[backend], figures["generated"][backend] = await read_log(
            backend, plan.read_events, READ_TENANT, args.data_dir
        )

    async def read_step(backend: str) -> None:
        log(f"{backend}: reads")
        read_plan = ReadPlan(plan.read_rounds, plan.read_seconds, plan.load_seconds, plan.clients)
        refused: dict[str, str] = {}
        executors: dict[str, str] = {}
        results = await reads(backend, read_urls[backend], directory, read_plan, refused, executors)
        figures["read"][backend] = summary(results, refused, executors)

    async def peer_step() -> None:
        outcome = await peer.side_by_side(
            read_urls["postgresql"],
            directory,
            plan.peer_rounds,
            plan.peer_seconds,
            plan.peer_connections,
            args.peer_modes.split(","),
        )
        figures["peer"] = {
            "rounds": outcome.rounds,
            "duration": outcome.duration,
            "connections": outcome.connections,
            "runs": outcome.runs,
            "summary": outcome.summary(),
            "indexed": outcome.indexed,
            "workers_supported": workers_supported(),
        }

    async def worst_step() -> None:
        url = read_urls.get("postgresql") or next(iter(read_urls.values()))
        figures["worst"] = await asyncio.to_thread(worst_request, url)

    async def profile_step() -> None:
        figures["profiles"] = await _profiles(figures, read_urls, directory)

    try:
        if not args.no_ingest:
            for backend in args.backends:
                await step(f"{backend} ingestion", functools.partial(ingest_step, backend))
        for backend in args.backends:
            await step(f"{backend} read log", functools.partial(log_step, backend))
            if not args.no_reads and backend in read_urls:
                await step(f"{backend} reads", functools.partial(read_step, backend))
        if args.no_peer:
            figures["peer"] = {"skipped": "--no-peer"}
        elif "postgresql" not in read_urls:
            figures["peer"] = {"skipped": "no PostgreSQL read log in this run"}
        else:
            await step("PostGraphile side by side", peer_step)
        info["node"] = _node_version()
        if read_urls:
            await step("worst request", worst_step)
        if args.profile and read_urls:
            await step("profile", profile_step)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    figures["load"]["after"] = report.load_average()
    figures["runtime_s"] = time.perf_counter() - started
    return figures


async def _profiles(figures: dict[str, Any], read_urls: dict[str, str], directory: Path) -> list[dict[str, Any]]:
    from .profile import profile_read, profile_write

    backend = "postgresql" if "postgresql" in read_urls else next(iter(read_urls))
    log(f"profiling on {backend}")
    documents = figures["read"].get(backend, {}).get("documents", {})
    name, document = next(iter(documents.items()))
    profiles = [await profile_read(read_urls[backend], json.dumps(document).encode(), f"{name} (in-process)", 10.0)]
    fresh = await FreshDatabases(backend, directory / "profile", ("profile",)).create()
    try:
        profiles.append(await profile_write(fresh.urls["profile"], 10.0))
    finally:
        await fresh.drop()
    return [p.as_json() for p in profiles]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a 100,000-event log, short loops, one peer round")
    parser.add_argument("--backends", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"])
    parser.add_argument("--read-events", type=int, help="size of the read log (default 1,000,000; quick 100,000)")
    parser.add_argument("--peer-rounds", type=int, help="rounds of the PostGraphile pairs (default 2; quick 1)")
    parser.add_argument("--peer-seconds", type=int, help="seconds per harness run (default 15; quick 4)")
    parser.add_argument("--peer-connections", type=int, help="concurrent connections (default 10)")
    parser.add_argument(
        "--peer-modes",
        default=",".join(peer.MODES),
        help=f"PostGraphile modes to pair (default {','.join(peer.MODES)}; the indexed re-run needs d100, d1000)",
    )
    parser.add_argument("--no-ingest", action="store_true")
    parser.add_argument("--no-reads", action="store_true")
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--profile", action="store_true", help="add pyinstrument profiles of a page and a batch")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path("/work/bench-data"),
        help="where the reusable SQLite read log lives (default /work/bench-data)",
    )
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument(
        "--json",
        type=Path,
        default=ROOT / "docs" / "benchmarks" / "latest.json",
        help="the run's raw figures (default docs/benchmarks/latest.json)",
    )
    parser.add_argument("--compare", type=Path, help="a previous run's JSON: add a before → after table")
    parser.add_argument("--render", type=Path, help="only render --output from this JSON (no measuring)")
    args = parser.parse_args(argv)
    before = json.loads(args.compare.read_text()) if args.compare else None
    if args.render:
        args.output.write_text(report.render(json.loads(args.render.read_text()), before))
        log(f"wrote {args.output} from {args.render}")
        return 0
    base = QUICK if args.quick else FULL
    plan = Plan(
        **{
            **base.__dict__,
            **{
                k: v
                for k, v in {
                    "read_events": args.read_events,
                    "peer_rounds": args.peer_rounds,
                    "peer_seconds": args.peer_seconds,
                    "peer_connections": args.peer_connections,
                }.items()
                if v
            },
        }
    )
    if not _lock_held():
        log(f"warning: {LOCK} is not held: run benchmarks under `flock {LOCK} …` so two never measure at once")
    command = "flock /work/bench.lock .venv/bin/python -m scripts.bench" + "".join(
        f" {a}" for a in (sys.argv[1:] if argv is None else argv)
    )
    figures = asyncio.run(run(args, plan, command))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=1, default=str) + "\n")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report.render(figures, before))
    log(f"wrote {args.output} and {args.json} ({figures['runtime_s'] / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
