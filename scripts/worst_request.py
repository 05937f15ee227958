"""The worst requests a reader can send within the gateway's limits: their time, outcome and peak memory.

Each request runs against a fresh ``audit-gateway serve`` child process (so its peak resident memory,
``VmHWM`` from /proc, belongs to that request alone) on one seeded database. Point ``--checkout`` at another
working tree (e.g. main) to measure its code with the same data and requests: that is the before/after.

    flock /work/bench.lock .venv/bin/python scripts/worst_request.py --checkout /work/main
    flock /work/bench.lock .venv/bin/python scripts/worst_request.py --checkout .

The requests (issue #13): ``correlated(first: 500)`` with ``effects`` under a page of 500; ``nodes`` ×10
aliases of 500 ids through variables, each with its causes and effects; ``verifyIntegrity`` over the whole
tenant. The data: ``--events`` events in correlations of ``--flow`` events, order → payment chains.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

TENANT = "bench"

CORRELATED_EFFECTS = """{ events(first: 500) { edges { node { ... on AuditEvent { eventId
  correlated(first: 500) { ... on AuditEvent { eventId effects(first: 1) { ... on AuditEvent { eventId } } } }
} } } } }"""

ALIASES = 10
NODES = (
    "query("
    + ", ".join(f"$i{n}: [ID!]!" for n in range(ALIASES))
    + ") {"
    + " ".join(
        f"a{n}: nodes(ids: $i{n}) {{ ... on AuditEvent {{ eventId causedBy {{ ... on AuditEvent {{ eventId }} }} "
        f"effects(first: 1) {{ ... on AuditEvent {{ eventId }} }} }} }}"
        for n in range(ALIASES)
    )
    + "}"
)

VERIFY = "{ verifyIntegrity { ok checkedCount } }"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


MEMORY_LIMIT_GIB = 8
"""Address-space cap of each server child, so a runaway request (main's nodes attack) cannot take the machine."""


def _cap_memory() -> None:
    limit = MEMORY_LIMIT_GIB * 1024**3
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


class Server:
    def __init__(self, checkout: Path, url: str, log: Path) -> None:
        self.port = _free_port()
        env = {**os.environ, "AUDIT_DATABASE_URL": url, "AUDIT_LOG_LEVEL": "warning", "PYTHONPATH": str(checkout)}
        self.log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", str(self.port)],
            cwd=checkout,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            preexec_fn=_cap_memory,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start; see {log}")
            time.sleep(0.1)

    def memory_kib(self, field: str) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
        raise RuntimeError(field)

    def post(
        self, key: str, query: str, variables: dict[str, Any] | None = None, timeout: float = 600
    ) -> tuple[int, dict[str, Any] | None, int]:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/graphql",
            data=body,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                raw = response.read()
                return response.status, json.loads(raw), len(raw)
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                return error.code, json.loads(raw), len(raw)
            except ValueError:
                return error.code, None, len(raw)
        except OSError:
            return 0, None, 0

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


def _cli(checkout: Path, url: str, *args: str) -> str:
    env = {**os.environ, "AUDIT_DATABASE_URL": url, "PYTHONPATH": str(checkout)}
    done = subprocess.run(
        [sys.executable, "-m", "app", *args], cwd=checkout, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip().splitlines()[-1]


def _events(count: int, flow: int) -> list[dict[str, Any]]:
    """Correlations of ``flow`` events: orders, each followed by the payment it caused."""
    found = []
    for n in range(count):
        group, position = divmod(n, flow)
        order = f"ord_{group}_{position - position % 2}"
        base = {
            "occurredAt": "2026-01-01T00:00:00Z",
            "correlationId": f"c_{group}",
            "actor": {"type": "SERVICE", "id": "bench"},
        }
        if position % 2 == 0:
            found.append(
                {
                    **base,
                    "eventId": order,
                    "source": "checkout",
                    "data": {
                        "orderPlaced": {
                            "orderId": order,
                            "total": {"amountMinor": "1999", "currency": "EUR"},
                            "itemCount": 1,
                            "channel": "WEB",
                        }
                    },
                }
            )
        else:
            found.append(
                {
                    **base,
                    "eventId": f"pay_{group}_{position}",
                    "source": "payments",
                    "causationId": order,
                    "data": {
                        "paymentCaptured": {
                            "paymentId": f"p_{group}_{position}",
                            "orderId": order,
                            "amount": {"amountMinor": "1999", "currency": "EUR"},
                            "provider": "acmepay",
                        }
                    },
                }
            )
    return found


RECORD = "mutation($e: [RecordEventInput!]!) { recordEvents(events: $e) { acceptedCount rejectedCount } }"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkout", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary directory")
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--flow", type=int, default=100, help="events per correlation id")
    args = parser.parse_args()
    checkout = args.checkout.resolve()
    work = Path(tempfile.mkdtemp(prefix="worst-request-"))
    url = args.database_url or f"sqlite+aiosqlite:///{work / 'audit.db'}"
    log = work / "server.log"
    _cli(checkout, url, "db", "upgrade")
    writer = _cli(
        checkout,
        url,
        "keys",
        "create",
        "--name",
        f"bench-writer-{uuid.uuid4().hex[:8]}",
        "--tenant",
        TENANT,
        "--scope",
        "events:write",
        "--source",
        "checkout",
        "--source",
        "payments",
    )
    reader = _cli(
        checkout,
        url,
        "keys",
        "create",
        "--name",
        f"bench-reader-{uuid.uuid4().hex[:8]}",
        "--tenant",
        TENANT,
        "--scope",
        "events:read",
    )
    server = Server(checkout, url, log)
    try:
        batch = _events(args.events, args.flow)
        for start in range(0, len(batch), 1000):
            status, body, _ = server.post(writer, RECORD, {"e": batch[start : start + 1000]})
            assert status == 200 and body and body["data"]["recordEvents"]["rejectedCount"] == 0, body
    finally:
        server.stop()

    ids = [base64.urlsafe_b64encode(f"AuditEvent:{TENANT}:{s}".encode()).decode() for s in range(1, ALIASES * 500 + 1)]
    requests = {
        "correlated500_effects": (CORRELATED_EFFECTS, None),
        "nodes_10x500": (NODES, {f"i{n}": ids[n * 500 : (n + 1) * 500] for n in range(ALIASES)}),
        "verify_all": (VERIFY, None),
    }
    print(
        f"checkout {checkout} ({_revision(checkout)}), {args.events} events in correlations of {args.flow}, "
        f"{url.split(':')[0]}"
    )
    print(f"{'request':24} {'outcome':28} {'seconds':>8} {'answer MB':>9} {'peak MiB':>9} {'growth MiB':>10}")
    measured: list[dict[str, Any]] = []
    for name, (query, variables) in requests.items():
        server = Server(checkout, url, log)
        try:
            server.post(reader, "{ events(first: 1) { totalCount } }")  # warm: schema, pool, key lookup
            before = server.memory_kib("VmRSS")
            started = time.perf_counter()
            status, body, size = server.post(reader, query, variables)
            seconds = time.perf_counter() - started
            peak = server.memory_kib("VmHWM")
        finally:
            server.stop()
        print(
            f"{name:24} {_outcome(status, body):28} {seconds:8.2f} {size / 1e6:9.1f} {peak / 1024:9.0f} "
            f"{(peak - before) / 1024:10.0f}",
            flush=True,
        )
        measured.append(
            {
                "request": name,
                "outcome": _outcome(status, body),
                "seconds": round(seconds, 3),
                "peak_memory_mb": round(peak / 1024, 1),
            }
        )
    lines = log.read_text(errors="replace").splitlines()
    print(f"server log: {len(lines)} lines, {log.stat().st_size / 1e6:.1f} MB ({log})")
    # Last line, for scripts/bench/worst.py: the slowest request of this run.
    print(json.dumps({**max(measured, key=lambda m: m["seconds"]), "server_log_lines": len(lines)}))


def _outcome(status: int, body: dict[str, Any] | None) -> str:
    if status == 0:
        return "no answer (connection lost)"
    errors = (body or {}).get("errors") or []
    if not errors:
        return f"{status} ok"
    codes = sorted({str(e.get("extensions", {}).get("code")) for e in errors})
    return f"{status} {len(errors)} errors {','.join(codes)}"[:28]


def _revision(checkout: Path) -> str:
    done = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


if __name__ == "__main__":
    main()
