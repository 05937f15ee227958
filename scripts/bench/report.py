"""docs/benchmarks.md, written from the run's raw figures (JSON) and nothing else: no hand-edited numbers.

The same JSON is saved beside it (``--json``), so a later run can show before → after (``--compare``) and the
page can be rendered again from it (``--render``).
"""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import statistics
import subprocess
from importlib import metadata
from typing import Any

import asyncpg

from .servers import POSTGRES_ADMIN_URL, ROOT

PACKAGES = (
    "strawberry-graphql",
    "graphql-core",
    "pydantic",
    "sqlalchemy",
    "asyncpg",
    "aiosqlite",
    "uvicorn",
    "starlette",
)


def _run(command: list[str]) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=10, check=False, cwd=ROOT).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def _first(path: str, prefix: str) -> str:
    with open(path) as lines:
        for line in lines:
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    return "?"


def machine() -> dict[str, str]:
    dirty = " (with uncommitted changes)" if _run(["git", "status", "--porcelain", "--untracked-files=no"]) else ""
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    memory = _first("/proc/meminfo", "MemTotal")
    return {
        "commit": _run(["git", "rev-parse", "HEAD"]) + dirty,
        "branch": _run(["git", "rev-parse", "--abbrev-ref", "HEAD"]),
        "nproc": str(os.cpu_count()),
        "cpu": _first("/proc/cpuinfo", "model name"),
        "memory": f"{int(memory.split()[0]) / 1024 / 1024:.1f} GiB" if memory != "?" else "?",
        "python": platform.python_version(),
        "os": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "node": "?",
        "packages": ", ".join(versions),
    }


async def postgres_version() -> str:
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=10)
    try:
        settings = [
            f"{name}={await connection.fetchval(f'SHOW {name}')}"
            for name in ("autovacuum", "shared_buffers", "synchronous_commit", "max_connections")
        ]
        return f"{await connection.fetchval('SHOW server_version')} ({', '.join(settings)})"
    finally:
        await connection.close()


def load_average() -> list[float]:
    return [float(part) for part in open("/proc/loadavg").read().split()[:3]]


# --- rendering ----------------------------------------------------------------------------------


def _ms(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def _ratio(value: float | None) -> str:
    if value is None:
        return "not measured"
    return f"{value:.3f}" if value else "0 (no request completed: timeouts)"


def _goal(value: float | None, goal: str) -> str:
    if value is None:
        return "not measured"
    bound = float(goal[2:])
    met = value <= bound if goal.startswith("≤") else value >= bound
    return "met" if met else "not yet"


def headline(figures: dict[str, Any]) -> list[tuple[str, float | None, str, str]]:
    """The ratios the issues track: (measure, value, goal, issue)."""
    rows: list[tuple[str, float | None, str, str]] = []
    for backend, read in figures.get("read", {}).items():
        by_name = {r["name"]: r for r in read["results"]}
        first = by_name.get("page of 100 (newest)")
        rows.append(
            (
                f"{backend}: page of 100 over HTTP ÷ raw SQL + json (p50)",
                first["gateway_over_raw"] if first else None,
                "≤ 2.0",
                "#9",
            )
        )
        rows.append(
            (f"{backend}: page at 90% depth ÷ first page (HTTP p50)", read.get("deep_over_first"), "≤ 1.1", "#9")
        )
    for backend, results in figures.get("ingest", {}).items():
        for r in results:
            goal = "≥ 0.5" if r["batch"] >= 500 else "≥ 0.3"
            rows.append(
                (f"{backend}: recordEvents batch {r['batch']} ÷ bare Core insert (events/s)", r["ratio"], goal, "#10")
            )
    for row in figures.get("peer", {}).get("summary", []):
        issue = "#10" if row["metric"] == "events_per_s" else "#9"
        rows.append(
            (
                f"PostgreSQL: gateway ÷ PostGraphile, {row['pair']} (`{row['peer_mode']}` ↔ "
                f"`{row['gateway_mode']}`), {_config(row)}",
                row["ratio"],
                "≥ 1.0",
                issue,
            )
        )
    return rows


def _config(row: dict[str, Any]) -> str:
    processes = "/".join(str(p) for p in row["processes"])
    return "one process" if row["config"] == "single" else f"default workers ({processes} processes)"


def render(figures: dict[str, Any], before: dict[str, Any] | None = None) -> str:
    m = figures["machine"]
    quick = figures.get("quick", False)
    lines = [
        "# Benchmarks",
        "",
        "<!-- Generated by `python -m scripts.bench` (scripts/bench/report.py) from the run's raw JSON; do not edit"
        " by hand. -->",
        "",
        f"Run on {figures['started'][:16].replace('T', ' ')} UTC, {figures['runtime_s'] / 60:.1f} minutes"
        + (" — **quick check run** (small log, short loops; figures are indicative only)." if quick else "."),
        "",
        f"- Command: `{figures['command']}`",
        f"- Commit: `{m['commit']}` (branch `{m.get('branch', '?')}`)",
        f"- Machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory']} RAM, {m['os']}",
        f"- Python {m['python']}; SQLite {m['sqlite']}; PostgreSQL {m.get('postgresql', '-')}; Node {m['node']}",
        f"- Packages: {m['packages']}",
        f"- Load average (1/5/15 min) at the start: {_loads(figures['load']['before'])}; at the end:"
        f" {_loads(figures['load']['after'])}. {_contention(figures)}",
        "- Steps (minutes"
        + ("; load average at the end of each" if "steps" in figures["load"] else "")
        + "): "
        + "; ".join(
            f"{name} {seconds / 60:.1f}"
            + (f" ({figures['load']['steps'][name][0]:.1f})" if name in figures["load"].get("steps", {}) else "")
            for name, seconds in figures["steps"].items()
        )
        + ".",
        "",
        "Client, server and database share the same CPUs. Compare the **ratios** within this run (each measured side"
        " by side with its floor or peer, in turn), not absolute figures across runs.",
        "",
        "## The ratios the issues track",
        "",
        "| measure | this run | goal | issue |",
        "|---|---:|---|---|",
    ]
    for name, value, goal, issue in headline(figures):
        lines.append(f"| {name} | **{_ratio(value)}** | {goal} ({_goal(value, goal)}) | {issue} |")
    for backend, read in figures.get("read", {}).items():
        counts = ", ".join(f"{r['name']} {r['statements']}" for r in read["results"])
        lines.append(f"| {backend}: SQL statements per request (API-key lookup included) | {counts} | constant | #9 |")
    worst = figures.get("worst", {})
    lines.append(f"| worst request within the limits: time, peak memory | {_worst(worst)} | bounded | #13 |")
    lines.append("")
    for name, message in figures.get("failures", {}).items():
        lines.append(f"- **{name} failed** (its figures are missing above): `{message}`")
    if figures.get("failures"):
        lines.append("")
    if before is not None:
        lines += compare_section(before, figures)
    lines += _ingest_section(figures)
    lines += _read_section(figures)
    lines += _peer_section(figures)
    lines += _worst_section(worst)
    lines += _profile_section(figures)
    return "\n".join(lines) + "\n"


def _contention(figures: dict[str, Any]) -> str:
    cpus = int(figures["machine"]["nproc"]) if figures["machine"]["nproc"].isdigit() else 1
    samples = [figures["load"]["before"], figures["load"]["after"], *figures["load"].get("steps", {}).values()]
    highest = max(sample[0] for sample in samples)
    if highest < 0.75 * cpus:
        return "The machine was otherwise quiet."
    return (
        "**The CPUs were contended** (other sessions were building and testing on the same machine): absolute"
        " figures are low and noisy; each ratio's two sides were measured in turn, close together, and the"
        " PostGraphile pairs alternate which side goes first, so contention hits both sides."
    )


def _loads(values: list[float]) -> str:
    return " / ".join(f"{v:.2f}" for v in values)


def _worst(worst: dict[str, Any]) -> str:
    if not worst.get("measured"):
        return "not measured"
    return f"{worst['seconds']:.2f} s, {worst['peak_memory_mb']:.0f} MB"


def _ingest_section(figures: dict[str, Any]) -> list[str]:
    ingest = figures.get("ingest", {})
    if not ingest:
        return []
    plan = figures["plan"]
    lines = [
        "## Ingestion",
        "",
        "`recordEvents` through the real server (`audit-gateway serve`, one process, log level warning) from"
        f" {plan['clients']} concurrent asyncio httpx clients, each request one batch selecting the counts and any"
        " rejections; bodies serialized before the clock starts. Then, into fresh identically migrated databases,"
        " **the same rows** (read back from the gateway's database) in the same batches and clients, one"
        " transaction per batch: *Core* is a bare SQLAlchemy Core `insert()` (executemany) with the application's"
        " engine; *driver* is stdlib `sqlite3` `executemany` (one connection and thread per client) or asyncpg"
        " `executemany`. Same durability everywhere (SQLite WAL + `synchronous=FULL`, PostgreSQL"
        " `synchronous_commit=on`); `ANALYZE` before each size on PostgreSQL. Bounds per size (events, seconds): "
        + ", ".join(f"{size} → ({count:,}, {seconds:g} s)" for size, (count, seconds) in plan["ingest"].items())
        + ".",
        "",
    ]
    for backend, results in ingest.items():
        lines += [
            f"### {backend}",
            "",
            "| batch | events sent | gateway events/s | request p50 (ms) | Core rows/s | driver rows/s "
            "| **gateway ÷ Core** | gateway ÷ driver |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {r['batch']} | {r['sent_events']:,} | {r['gateway_events_per_s']:,.0f} | {_ms(r['gateway_p50_ms'])} "
            f"| {r['core_rows_per_s']:,.0f} | {r['driver_rows_per_s']:,.0f} | **{r['ratio']:.3f}** "
            f"| {r['driver_ratio']:.3f} |"
            for r in results
        ]
        lines.append("")
    return lines


def _read_section(figures: dict[str, Any]) -> list[str]:
    read = figures.get("read", {})
    if not read:
        return []
    plan = figures["plan"]
    generated = figures.get("generated", {})
    made = "; ".join(
        f"{backend}: generated in this run, {g['events']:,} events in {g['seconds']:.0f} s"
        if g
        else f"{backend}: reused from an earlier run"
        for backend, g in generated.items()
    )
    clients = plan["clients"]
    lines = [
        "## Reads",
        "",
        f"A log of {plan['read_events']:,} events in one tenant (`tenant-1`), written once through the append path"
        " (`scripts/generate.py`'s logic: the demo's correlated flows, validated by `app.ingest.validate`, chained by"
        " `app.store.append`) and reused while it holds them, migrated (`audit-gateway db upgrade`) and analysed"
        f" before each run ({made}).",
        "",
        f"- Latencies in interleaved rounds (at most {plan['read_rounds']} rounds or {plan['read_seconds']:g} s):"
        " each round runs every query once over HTTP, once in-process and once raw, one at a time, so drift hits"
        f" every column alike. *req/s ({clients} clients)*: {clients} concurrent clients on the real server for"
        f" {plan['load_seconds']:g} s per query.",
        "- *HTTP*: the real server (`audit-gateway serve`, one process) over 127.0.0.1. *in-process*: the same request"
        " through `httpx.ASGITransport(app=create_app(...))`; *SQL/request* counted there (`before_cursor_execute`,"
        " API-key lookup included, `BEGIN` excluded).",
        "- *raw*: the same SQL through SQLAlchemy Core (same WHERE / ORDER BY / LIMIT; for the relations query the"
        " page, then one statement per relation) with rows serialized by stdlib `json` — no GraphQL, no HTTP, no"
        " API-key check.",
        "- The 90%-depth page uses a keyset cursor made with the gateway's own codec and checked (its first event is"
        " the expected one). Pages select the whole envelope and every contract's `data` (12 inline fragments).",
        "",
    ]
    for backend, summary in read.items():
        lines += [
            f"### {backend}",
            "",
            f"| query | HTTP p50 (ms) | HTTP p99 (ms) | req/s (1 client) | req/s ({clients} clients) "
            "| in-process p50 (ms) | SQL/request | raw p50 (ms) | **HTTP ÷ raw** (p50) | in-process ÷ raw |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {r['name']} | {_ms(r['http_p50_ms'])} | {_ms(r['http_p99_ms'])} | {r['http_rps']:,.0f} "
            f"| {r['load_rps']:,.0f} | {_ms(r['in_process_p50_ms'])} | {r['statements']} | {_ms(r['raw_p50_ms'])} "
            f"| **{r['gateway_over_raw']:.1f}×** | {r['in_process_over_raw']:.1f}× |"
            for r in summary["results"]
        ]
        lines += ["", f"Deep ÷ first (HTTP p50): **{_ratio(summary.get('deep_over_first'))}**."]
        executors = {name: value for name, value in summary.get("executors", {}).items() if value != "-"}
        if executors:
            lines.append(
                "Executor that answered (`x-audit-executor`): "
                + "; ".join(f"{name}: `{value}`" for name, value in executors.items())
                + "."
            )
        for name, reason in summary.get("refused", {}).items():
            lines.append(f"Not measured: {name}: `{reason}`.")
        lines.append("")
    return lines


def _peer_section(figures: dict[str, Any]) -> list[str]:
    peer = figures.get("peer")
    if not peer:
        return []
    lines = ["## Side by side with PostGraphile 5", ""]
    if peer.get("skipped"):
        return [*lines, f"Not measured: {peer['skipped']}.", ""]
    lines += [
        "The harness of `../shared/peer/postgraphile` (set up by `scripts/bench/peer.py`): PostGraphile 5 on Node 22"
        " over its own `events` table of 1,000,000 rows (10 tenants) on the same PostgreSQL, loaded by"
        " autocannon (`bench.mjs`), and the gateway loaded by the same protocol (`gwbench.mjs`) — reads on its"
        f" {figures['plan']['read_events']:,}-event log (reader key for `tenant-1`), writes into a fresh database"
        " (writer key for source `checkout`; PostGraphile's `createEvents` writes into its 1M-row table, and those"
        f" rows are deleted before the next run). {peer['connections']} connections, {peer['duration']} s after a"
        f" 3 s warm-up, {peer['rounds']} round(s); pairs run in turn within a round, PostGraphile first in odd"
        " rounds and the gateway first in even ones. *Ratio* = gateway ÷ PostGraphile within a round; the table"
        " shows the median and each round's. A gateway figure of 0 means no request completed within the run"
        " (autocannon gives up on a request after 10 s: see *timeouts* in the runs below). "
        + (
            "The gateway's `serve` has no `--workers` in this tree: one process only."
            if not peer.get("workers_supported")
            else "*default workers*: `audit-gateway serve` without `--workers`; *one process*: `--workers 1`."
        ),
        "",
        "",
        "*CPU per unit*: CPU µs per event (writes) or request (reads) of the server's processes + PostgreSQL's, median"
        " of the rounds (`scripts/bench/cpu.py`: cores in use over the run, warm-up included, ÷ its rate); client,"
        " server and PostgreSQL share the machine's CPUs, so these bound each side's rate.",
        "",
        "| pair | gateway as | PostGraphile | gateway | **ratio** (median) | per round | CPU per unit: PostGraphile"
        " | CPU per unit: gateway | gateway errors |",
        "|---|---|---:|---:|---:|---|---:|---:|---:|",
    ]
    for row in peer["summary"]:
        unit = "events/s" if row["metric"] == "events_per_s" else "req/s"
        lines.append(
            f"| {row['pair']} (`{row['peer_mode']}` ↔ `{row['gateway_mode']}`) | {_config(row)} "
            f"| {' / '.join(f'{v:,.0f}' for v in row['peer'])} {unit} "
            f"| {' / '.join(f'{v:,.1f}' for v in row['gateway'])} {unit} | **{row['ratio']:.3f}** "
            f"| {' / '.join(f'{v:.3f}' for v in row['ratios'])} | {_cpu(row, 'peer')} | {_cpu(row, 'gateway')} "
            f"| {row['gateway_problems']} |"
        )
    lines += _indexed_section(peer)
    lines += ["", "<details><summary>every harness run (JSON lines as printed)</summary>", "", "```"]
    lines += [
        f"round {r['round'] + 1} {r['side']} {r['config'] or ''} {r['mode']}: {r['result']}".replace("  ", " ")
        for r in peer["runs"]
    ]
    lines += ["```", "", "</details>", ""]
    return lines


def _indexed_section(peer: dict[str, Any]) -> list[str]:
    """PostGraphile's ingest with and without the gateway's secondary indexes on its table, beside the gateway."""
    indexed = peer.get("indexed") or []
    if not indexed:
        return []
    lines = [
        "",
        "PostGraphile's `createEvents` again after the rounds, its table given the gateway's six other secondary"
        " indexes (type, source, actor, target, occurred, recorded; dropped afterwards): what the index set costs a"
        " writer with no chain to keep. *without*: the median of its runs above.",
        "",
        "| mode | PostGraphile without | PostGraphile with the gateway's indexes | CPU per event with:"
        " server + PostgreSQL | gateway (one process, median) | gateway ÷ PostGraphile with the indexes |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for entry in indexed:
        mode, result = entry["mode"], entry["result"]
        row = next((r for r in peer["summary"] if r["peer_mode"] == mode and r["config"] == "single"), None)
        without = statistics.median(row["peer"]) if row else float("nan")
        ours = statistics.median(row["gateway"]) if row else float("nan")
        cpu = (
            f"{result['server_cores'] / result['events_per_s'] * 1e6:,.0f}"
            f" + {result['postgres_cores'] / result['events_per_s'] * 1e6:,.0f} µs"
            if "server_cores" in result and result.get("events_per_s")
            else "–"
        )
        lines.append(
            f"| `{mode}` | {without:,.0f} events/s | {result['events_per_s']:,.0f} events/s | {cpu} "
            f"| {ours:,.0f} events/s | **{ours / result['events_per_s']:.3f}** |"
        )
    return lines


def _cpu(row: dict[str, Any], side: str) -> str:
    """``server + PostgreSQL`` µs per unit, medians of the rounds; runs before CPU was measured have none."""
    figures = row.get("cpu", {}).get(side, [])
    if not figures:
        return "–"
    server = statistics.median(f[0] for f in figures)
    postgres = statistics.median(f[1] for f in figures)
    return f"{server:,.0f} + {postgres:,.0f}"


def _worst_section(worst: dict[str, Any]) -> list[str]:
    lines = ["## Worst request within the limits (#13)", ""]
    if not worst.get("measured"):
        return [*lines, f"Not measured: {worst.get('reason', 'no result')}.", ""]
    details = {k: v for k, v in worst.items() if k not in {"measured", "request", "seconds", "peak_memory_mb"}}
    return [
        *lines,
        f"`{worst['request']}`: **{worst['seconds']:.2f} s**, peak memory **{worst['peak_memory_mb']:.0f}"
        " MB** (`scripts/worst_request.py`)." + (f" Details: `{details}`." if details else ""),
        "",
    ]


def _profile_section(figures: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for report in figures.get("profiles", []):
        lines += [
            f"## Profile: {report['title']}",
            "",
            f"{report['requests']} requests in {report['seconds']:.1f} s under pyinstrument (in-process, async mode,"
            " 0.5 ms interval; self time by package, built-ins charged to their caller).",
            "",
            "| where | share |",
            "|---|---:|",
            *(f"| {name} | {share:.1%} |" for name, share in report["buckets"]),
            "",
            "| top functions by self time | share |",
            "|---|---:|",
            *(f"| `{name}` | {share:.1%} |" for name, share in report["functions"]),
            "",
            "<details><summary>call tree (frames ≥ 2%)</summary>",
            "",
            "```",
            report["tree"],
            "```",
            "",
            "</details>",
            "",
        ]
    return lines


# --- before → after -------------------------------------------------------------------------------


def compare_section(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Each tracked ratio before and after; each run's ratio is to its own floor or peer, measured in that run."""
    old = {name: value for name, value, _, _ in headline(before)}
    lines = [
        "## Before → after",
        "",
        f"Before: commit `{before['machine']['commit'][:10]}` on {before['started'][:10]}"
        f" (`{before['command']}`); after: this run. Each run's ratios are to its own floors and peer, measured"
        " side by side in that run, so they compare across runs where absolute figures do not.",
        "",
        "| measure | before | after | goal | after ÷ before |",
        "|---|---:|---:|---|---:|",
    ]
    # As saved: a run compared in the process that measured it holds int keys and tuples where the JSON has
    # strings and lists, which is no difference of plan.
    old_plan, new_plan = (json.loads(json.dumps(run.get("plan", {}), default=str)) for run in (before, after))
    if old_plan != new_plan or before.get("quick") != after.get("quick"):
        changed = sorted(k for k in {*old_plan, *new_plan} if old_plan.get(k) != new_plan.get(k))
        lines[-2:-2] = [
            f"**Caution: the two runs had different plans** ({', '.join(changed) or 'quick mode'}):"
            " their ratios are not strictly comparable.",
            "",
        ]
    for name, value, goal, _ in headline(after):
        was = old.get(name)
        change = f"{value / was:.2f}" if value is not None and was else "-"
        lines.append(f"| {name} | {_ratio(was)} | **{_ratio(value)}** | {goal} | {change} |")
    lines.append(
        f"| worst request: time, peak memory | {_worst(before.get('worst', {}))} "
        f"| {_worst(after.get('worst', {}))} | bounded | - |"
    )
    return [*lines, ""]
