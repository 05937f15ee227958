"""Side by side: the fixed cost of a read over HTTP for several ways of serving, one database, interleaved.

    flock /work/bench.lock .venv/bin/python -m scripts.http_ab --database-url URL [--rounds 200] [--clients 10] \
        h11=.:h11:asyncio default=.:httptools:uvloop main=../main::

Each variant is ``name=CHECKOUT:HTTP:LOOP``: ``audit-gateway serve`` from that checkout's .venv, with
``--http HTTP --loop LOOP`` (leave both empty for a checkout whose ``serve`` has no such options). Every
server serves the same database with the same reader key (made with the first checkout's CLI, tenant
``--tenant``). For each document — a page of 100 with typed data, a page of 20 with each event's cause, and
a tiny read that is almost only fixed cost — it times sequential requests round by round across the
variants (one httpx client each; slow drifts of the machine hit all alike), then ``--clients`` concurrent
clients for ``--load-seconds`` per variant, alternating the order. Prints p50 and req/s with ratios to the
first variant.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from scripts.bench.measure import concurrent
from scripts.bench.servers import free_port
from scripts.bench.workload import ENVELOPE, page, relations

TINY = b'{"query": "{ events(first: 0) { pageInfo { hasNextPage } } }"}'
DOCUMENTS = {"page of 100": page(), "page of 20 + relations": relations(), "tiny": TINY}
assert ENVELOPE  # the page documents are the benchmark's own (scripts/bench/workload.py)


def _serve(checkout: Path, http: str, loop: str, url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    command = [str(checkout / ".venv/bin/audit-gateway"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", "1"]
    if http:
        command += ["--http", http, "--loop", loop]
    env = {**os.environ, "AUDIT_DATABASE_URL": url, "AUDIT_LOG_LEVEL": "warning"}
    with log.open("ab") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=checkout)


@contextlib.asynccontextmanager
async def _servers(variants: dict[str, tuple[Path, str, str]], url: str) -> AsyncIterator[dict[str, str]]:
    processes, urls = [], {}
    try:
        for name, (checkout, http, loop) in variants.items():
            port = free_port()
            processes.append(_serve(checkout, http, loop, url, port, Path(f"/tmp/http_ab-{name}.log")))
            urls[name] = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(trust_env=False, timeout=2) as probe:
            for base in urls.values():
                for _ in range(300):
                    with contextlib.suppress(httpx.TransportError):
                        if (await probe.get(f"{base}/healthz")).status_code == 200:
                            break
                    await asyncio.sleep(0.1)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--tenant", default="demo")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--load-seconds", type=float, default=5.0)
    parser.add_argument("variants", nargs="+", help="name=CHECKOUT:HTTP:LOOP")
    args = parser.parse_args()
    variants: dict[str, tuple[Path, str, str]] = {}
    for spec in args.variants:
        name, _, rest = spec.partition("=")
        checkout, http, loop = rest.split(":")
        variants[name] = (Path(checkout).resolve(), http, loop)
    first = next(iter(variants.values()))[0]
    env = {**os.environ, "AUDIT_DATABASE_URL": args.database_url}
    name = f"http-ab-{os.getpid()}-{time.time_ns()}"
    command = [str(first / ".venv/bin/audit-gateway"), "keys", "create", "--name", name, "--tenant", args.tenant]
    created = subprocess.run(
        [*command, "--scope", "events:read"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    headers = {"Authorization": f"Bearer {created.stdout.strip().splitlines()[-1]}", "Content-Type": "application/json"}
    async with _servers(variants, args.database_url) as urls:
        clients = {n: httpx.AsyncClient(base_url=u, trust_env=False, timeout=60) for n, u in urls.items()}
        for name, client in clients.items():
            for document, body in DOCUMENTS.items():
                for _ in range(10):
                    response = await client.post("/graphql", content=body, headers=headers)
                    assert response.status_code == 200 and b'"errors"' not in response.content, (name, document)
        latencies: dict[tuple[str, str], list[float]] = {(n, d): [] for n in clients for d in DOCUMENTS}
        for _ in range(args.rounds):
            for document, body in DOCUMENTS.items():
                for name, client in clients.items():
                    started = time.perf_counter()
                    (await client.post("/graphql", content=body, headers=headers)).raise_for_status()
                    latencies[(name, document)].append((time.perf_counter() - started) * 1000)
        rates: dict[tuple[str, str], float] = {}
        for index, (document, body) in enumerate(DOCUMENTS.items()):
            order = list(clients) if index % 2 == 0 else list(reversed(clients))
            for name in order:
                limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
                async with httpx.AsyncClient(base_url=urls[name], trust_env=False, timeout=60, limits=limits) as pool:

                    async def call(pool: httpx.AsyncClient = pool, body: bytes = body) -> None:
                        (await pool.post("/graphql", content=body, headers=headers)).raise_for_status()

                    rates[(name, document)] = (await concurrent(call, args.clients, args.load_seconds, 10**9)).rate
        base = next(iter(clients))
        for document in DOCUMENTS:
            for name in clients:
                p50 = statistics.median(latencies[(name, document)])
                ratio = p50 / statistics.median(latencies[(base, document)])
                rate = rates[(name, document)] / rates[(base, document)]
                print(
                    f"{document:24s} {name:10s} p50 {p50:6.2f} ms ({ratio:.3f}x)   "
                    f"{rates[(name, document)]:7.1f} req/s with {args.clients} clients ({rate:.3f}x)"
                )
        for client in clients.values():
            await client.aclose()


if __name__ == "__main__":
    asyncio.run(main())
