"""Ingestion side by side with PostGraphile, before and after a change: ``d100`` and ``d1000`` only.

    flock /work/bench.lock .venv/bin/python -m scripts.peer_ingest_ab --before ab53deb --rounds 2

Per round and mode, in a rotating order: PostGraphile's ``createEvents`` (bench.mjs), the gateway at commit
``--before`` (its tree exported with ``git archive``, run by this interpreter from that directory), and this
checkout's gateway (one process, and the default workers). Each gateway gets a fresh database migrated by its
own code and a writer key for ``checkout``; the ratio is gateway ÷ PostGraphile within a round. Uses the set-up,
PostGraphile runner and autocannon wrapper of scripts/bench/peer.py.

``--set NAME=VALUE`` gives this checkout's sides a setting (e.g. ``AUDIT_GROUP_COMMIT=true``); the ``--before``
side runs without it.
``--index-set design`` and ``--index-set peer`` add this checkout's gateway (one process) on a database with fewer
secondary indexes (``INDEX_SETS``), to measure what the index set costs against what the code costs. These sides
are a diagnosis: the gateway ships with every index of app/store/tables.py, and those filters need them.

    flock /work/bench.lock .venv/bin/python -m scripts.peer_ingest_ab --before HEAD --no-default \
        --index-set design --index-set peer --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from scripts.bench import peer
from scripts.bench.measure import log
from scripts.bench.servers import ROOT, Server, admin, environment, postgres_url, workers_supported

TENANT = "peer-ingest"

INDEX_SETS = {
    "design": ("ix_events_source", "ix_events_recorded"),
    "peer": (
        "ix_events_type",
        "ix_events_source",
        "ix_events_actor",
        "ix_events_target",
        "ix_events_occurred",
        "ix_events_recorded",
    ),
}
"""Secondary indexes dropped for each ``--index-set`` side. ``design``: DESIGN.md's example list (no index on
``source`` or ``recorded_at``); ``peer``: PostGraphile's table's set (the key, an order by sequence, correlation and
causation: the ``OUR_INDEXES`` of scripts/bench/peer.py are the six dropped)."""


def _gateway(tree: Path, url: str, *arguments: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "app", *arguments],
        cwd=tree,
        env=environment(url),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"app {' '.join(arguments)} failed: {done.stderr[-2000:]}")
    return done.stdout


class TreeServer(Server):
    """``python -m app serve`` from ``tree`` (another commit's code, this interpreter and its packages)."""

    def __init__(
        self, tree: Path, url: str, log_path: Path, workers: int | None, settings: dict[str, str] | None = None
    ) -> None:
        super().__init__(url, log_path, workers)
        self.tree = tree
        self.settings = settings or {}

    async def __aenter__(self) -> TreeServer:
        import time

        import httpx

        command = [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        if self.workers is not None:
            command += ["--workers", str(self.workers)]
        with self.log_path.open("ab") as output:
            self.process = subprocess.Popen(
                command,
                cwd=self.tree,
                env=environment(self.url) | self.settings,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 90
        async with httpx.AsyncClient(base_url=self.base_url, trust_env=False, timeout=2) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the server exited: {self.log_path.read_text()[-2000:]}")
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        await asyncio.sleep(0.5)
                        return self
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError("the server did not answer within 90 s")


def export(commit: str, directory: Path) -> Path:
    tree = directory / f"tree-{commit}"
    if not tree.exists():
        archive = subprocess.run(["git", "archive", commit], cwd=ROOT, capture_output=True, check=True).stdout
        tree.mkdir(parents=True)
        with tempfile.TemporaryFile() as buffer:
            buffer.write(archive)
            buffer.seek(0)
            with tarfile.open(fileobj=buffer) as tar:
                tar.extractall(tree, filter="data")
    return tree


async def fresh(name: str, tree: Path) -> tuple[str, str]:
    """A fresh database migrated by ``tree``'s code; its URL and a writer key for ``checkout``."""
    await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin(f'CREATE DATABASE "{name}"')
    url = postgres_url(name)
    _gateway(tree, url, "db", "upgrade")
    output = _gateway(
        tree,
        url,
        "keys",
        "create",
        "--name",
        "ab",
        "--tenant",
        TENANT,
        "--scope",
        "events:write",
        "--source",
        "checkout",
    )
    return url, output.strip().splitlines()[-1]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", required=True, help="the commit to compare with (e.g. main's head)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--modes", default="d100,d1000")
    parser.add_argument("--no-default", action="store_true", help="skip the default-workers run of this checkout")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for this checkout's sides only, e.g. AUDIT_GROUP_COMMIT=true (the --before side runs without)",
    )
    parser.add_argument(
        "--index-set",
        action="append",
        default=[],
        choices=sorted(INDEX_SETS),
        help="add this checkout (one process) on a database with only this set's indexes (a diagnosis)",
    )
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "peer_ingest_ab")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    await peer.setup()
    sides: dict[str, tuple[Path, int | None]] = {"before": (export(args.before, args.out), 1), "after": (ROOT, 1)}
    if workers_supported() and not args.no_default:
        sides["after-default"] = (ROOT, None)
    for name in args.index_set:
        sides[f"after@{name}"] = (ROOT, 1)
    databases = {side: await fresh(_database(side), tree) for side, (tree, _) in sides.items()}
    for name in args.index_set:
        for index in INDEX_SETS[name]:
            await admin(f"DROP INDEX {index}", _database(f"after@{name}"))
    runs: list[dict[str, Any]] = []
    try:
        async with peer.PostGraphile() as graphile:
            for round_ in range(args.rounds):
                for mode in args.modes.split(","):
                    order = ["postgraphile", *sides]
                    shift = round_ % len(order)
                    for side in order[shift:] + order[:shift]:
                        log(f"round {round_ + 1}: {side} {mode}")
                        if side == "postgraphile":
                            result = await peer._measured(
                                graphile.pid, peer._autocannon, "bench.run.mjs", mode, args.duration, args.connections
                            )
                        else:
                            tree, workers = sides[side]
                            url, key = databases[side]
                            log_path = args.out / f"server-{side}.log"
                            settings = {} if side == "before" else dict(item.split("=", 1) for item in args.set)
                            async with TreeServer(tree, url, log_path, workers, settings) as server:
                                env = {"GW_URL": f"{server.base_url}/graphql", "GW_KEY": key}
                                result = await peer._measured(
                                    server.pid,
                                    peer._autocannon,
                                    "gwbench.run.mjs",
                                    mode,
                                    args.duration,
                                    args.connections,
                                    env,
                                )
                        peer._say(result)
                        runs.append({"round": round_, "mode": mode, "side": side, "result": result})
    finally:
        for side in sides:
            await admin(f'DROP DATABASE IF EXISTS "{_database(side)}" WITH (FORCE)')
    (args.out / "runs.json").write_text(json.dumps(runs, indent=1))
    print(
        "\nmode  side            events/s per round              ÷ PostGraphile per round   median"
        "   CPU µs/event: server + PostgreSQL"
    )
    for mode in args.modes.split(","):
        theirs = [r["result"]["events_per_s"] for r in runs if r["mode"] == mode and r["side"] == "postgraphile"]
        print(
            f"{mode:5} postgraphile    {' / '.join(f'{v:,.0f}' for v in theirs)}"
            f"   {_cpu([r for r in runs if r['mode'] == mode and r['side'] == 'postgraphile'])}"
        )
        for side in sides:
            ours = [r["result"]["events_per_s"] for r in runs if r["mode"] == mode and r["side"] == side]
            p50 = [r["result"]["p50_ms"] for r in runs if r["mode"] == mode and r["side"] == side]
            ratios = [o / t for o, t in zip(ours, theirs, strict=True)]
            print(
                f"{mode:5} {side:15} {' / '.join(f'{v:,.0f}' for v in ours)} (p50 {p50} ms)  "
                f"{' / '.join(f'{r:.3f}' for r in ratios)}  {statistics.median(ratios):.3f}"
                f"   {_cpu([r for r in runs if r['mode'] == mode and r['side'] == side])}"
            )


def _database(side: str) -> str:
    return "peer_ab_" + side.replace("-", "_").replace("@", "_")


def _cpu(runs: list[dict[str, Any]]) -> str:
    """Per round: the server's and PostgreSQL's CPU µs per event (cores in use ÷ events/s)."""
    figures = [
        f"{peer.cpu_per_unit(r['result'], 'server_cores'):.0f} + {peer.cpu_per_unit(r['result'], 'postgres_cores'):.0f}"
        for r in runs
        if "server_cores" in r["result"]
    ]
    return " / ".join(figures)


if __name__ == "__main__":
    os.chdir(ROOT)
    asyncio.run(main())
