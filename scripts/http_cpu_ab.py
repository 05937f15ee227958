"""Server CPU per request, side by side: ``audit-gateway serve`` of several checkouts, one database, interleaved.

    .venv/bin/python -m scripts.http_cpu_ab --database-url URL --tenant tenant-1 [--rounds 20] [--block 100] \
        main=../../main:httptools:uvloop this=.:httptools:uvloop

Variants are ``name=CHECKOUT:HTTP:LOOP`` as for ``scripts/http_ab.py`` (whose servers this reuses). For each
gwbench read document (``full``, ``env``, ``rel``: ``scripts/profile_http.py``) and ``tiny``, round by round,
each variant's server gets ``--block`` sequential keep-alive requests, and the CPU its process spent on them
(``/proc/PID/stat`` utime + stime) is read around the block. CPU time is what a loaded machine disturbs least;
the median of the rounds is printed, with the ratio to the first variant.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import statistics
import subprocess
import time
from pathlib import Path

from scripts.http_ab import _servers
from scripts.profile_http import DOCUMENTS

TINY = "{ events(first: 0) { pageInfo { hasNextPage } } }"


def _cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` and its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _server_pid(port: int) -> int:
    """The pid listening on ``port`` (``serve`` runs uvicorn in the process it starts, with one worker)."""
    out = subprocess.run(["ss", "-Htlnp", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout
    return int(out.split("pid=")[1].split(",")[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--tenant", default="tenant-1")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--block", type=int, default=100)
    parser.add_argument("--documents", default="full,env,rel,tiny")
    parser.add_argument("variants", nargs="+")
    args = parser.parse_args()
    variants: dict[str, tuple[Path, str, str]] = {}
    for spec in args.variants:
        name, _, rest = spec.partition("=")
        checkout, protocol, loop = rest.split(":")
        variants[name] = (Path(checkout).resolve(), protocol, loop)
    first = next(iter(variants.values()))[0]
    env = {**os.environ, "AUDIT_DATABASE_URL": args.database_url}
    command = [str(first / ".venv/bin/audit-gateway"), "keys", "create", "--name", f"cpu-ab-{time.time_ns()}"]
    created = subprocess.run(
        [*command, "--tenant", args.tenant, "--scope", "events:read"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    key = created.stdout.strip().splitlines()[-1]
    headers = {"content-type": "application/json", "authorization": f"Bearer {key}"}
    documents = {**DOCUMENTS, "tiny": TINY}
    bodies = {name: f'{{"query": {json_string(documents[name])}}}'.encode() for name in args.documents.split(",")}

    async def run() -> None:
        async with _servers(variants, args.database_url) as urls:
            ports = {name: int(url.rsplit(":", 1)[1]) for name, url in urls.items()}
            pids = {name: _server_pid(port) for name, port in ports.items()}
            connections = {name: http.client.HTTPConnection("127.0.0.1", port) for name, port in ports.items()}
            executors: dict[tuple[str, str], set[str]] = {}

            def block(name: str, document: str, count: int) -> float:
                connection = connections[name]
                connection.close()  # a fresh connection per block: the last may have idled past the keep-alive
                before = _cpu_seconds(pids[name])
                for _ in range(count):
                    connection.request("POST", "/graphql", bodies[document], headers)
                    response = connection.getresponse()
                    data = response.read()
                    assert response.status == 200 and b'"errors"' not in data, (name, document, data[:300])
                    executors.setdefault((name, document), set()).add(str(response.getheader("x-audit-executor")))
                return (_cpu_seconds(pids[name]) - before) / count

            for name in connections:
                for document in bodies:
                    block(name, document, 50)  # warm-up
            samples: dict[tuple[str, str], list[float]] = {}
            for index in range(args.rounds):
                for document in bodies:
                    order = list(connections) if index % 2 == 0 else list(reversed(connections))
                    for name in order:
                        samples.setdefault((name, document), []).append(block(name, document, args.block))
            base = next(iter(connections))
            for document in bodies:
                reference = statistics.median(samples[(base, document)])
                for name in connections:
                    cpu = statistics.median(samples[(name, document)])
                    print(
                        f"{document:5s} {name:10s} {cpu * 1e6:7.0f} µs CPU/request ({cpu / reference:.3f}x)  "
                        f"executor {','.join(sorted(executors[(name, document)]))}"
                    )

    asyncio.run(run())


def json_string(text: str) -> str:
    import json

    return json.dumps(text)


if __name__ == "__main__":
    main()
