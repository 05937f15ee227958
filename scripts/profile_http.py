"""Profile whole requests through the real server: ``serve``'s uvicorn (guarded httptools, uvloop) under cProfile.

    AUDIT_DATABASE_URL=URL .venv/bin/python -m scripts.profile_http --key KEY --document rel \
        [--requests 2000] [--sort tottime] [--out /tmp/profile.pstats]

The server runs in this process with the options ``audit-gateway serve --workers 1`` uses; a client process
sends ``--requests`` sequential keep-alive POSTs of one gwbench document (``full``, ``env``, ``rel``:
``../shared/peer/postgraphile/gwbench.mjs``), after 200 unprofiled warm-up requests. Prints the top of the
profile and the server's CPU per request (``time.process_time``, profiler included).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import subprocess
import sys
import threading
import time

import uvicorn

from app.config import Settings
from app.server import create_app
from app.serving import uvicorn_options
from scripts.bench.servers import free_port

_ENVELOPE = (
    "id eventId tenant source type schemaVersion sequence occurredAt recordedAt actor { type id displayName ip "
    "userAgent } target { type id displayName } outcome correlationId causationId traceparent traceId"
)
_DATA = """... on UserSignedIn { data { method mfa sessionId } }
  ... on UserSignInFailed { data { method failureReason attempt } }
  ... on RoleGranted { data { role granteeId scope } }
  ... on RoleRevoked { data { role granteeId scope reason } }
  ... on ApiKeyCreated { data { keyId name scopes expiresAt } }
  ... on ApiKeyRevoked { data { keyId reason } }
  ... on OrderPlaced { data { orderId total { amountMinor currency } itemCount channel } }
  ... on PaymentCaptured { data { paymentId orderId amount { amountMinor currency } provider } }
  ... on PaymentFailed { data { paymentId orderId amount { amountMinor currency } failureCode } }
  ... on RefundIssued { data { refundId paymentId amount { amountMinor currency } reason } }
  ... on DataExported { data { dataset format recordCount destination } }
  ... on SettingChanged { data { setting changes { field before after } } }"""
_FLAT = (
    "sequence tenant eventId source type occurredAt recordedAt actor { type id } target { type id } outcome "
    "correlationId causationId"
)
DOCUMENTS = {
    "full": "query Page { events(first: 100) { pageInfo { hasNextPage endCursor } edges { cursor node { "
    f"__typename ... on AuditEvent {{ {_ENVELOPE} }} {_DATA} }} }} }} }}",
    "env": "query Page { events(first: 100) { pageInfo { hasNextPage endCursor } edges { cursor node { "
    f"... on AuditEvent {{ {_FLAT} }} }} }} }} }}",
    "rel": "query PageCause { events(first: 20) { pageInfo { hasNextPage endCursor } edges { cursor node { "
    f"... on AuditEvent {{ {_FLAT} causedBy {{ ... on AuditEvent {{ {_FLAT} }} }} }} }} }} }} }}",
}
"""gwbench.mjs's read documents, verbatim; and ``tiny``, almost only fixed cost (scripts/http_ab.py's)."""
DOCUMENTS["tiny"] = "{ events(first: 0) { pageInfo { hasNextPage } } }"

CLIENT = """
import http.client, json, sys
port, key, count, body = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4].encode()
connection = http.client.HTTPConnection("127.0.0.1", port)
headers = {"content-type": "application/json", "authorization": "Bearer " + key}
for _ in range(count):
    connection.request("POST", "/graphql", body, headers)
    response = connection.getresponse()
    data = response.read()
    assert response.status == 200 and b'"errors"' not in data, data[:300]
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--key", required=True)
    parser.add_argument("--document", choices=sorted(DOCUMENTS), default="rel")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--limit", type=int, default=45)
    parser.add_argument("--out")
    parser.add_argument("--no-profile", action="store_true", help="only the CPU per request")
    args = parser.parse_args()
    settings = Settings()
    port = free_port()
    options = {"host": "127.0.0.1", "port": port, "log_level": "warning", **uvicorn_options(settings)}
    server = uvicorn.Server(uvicorn.Config(create_app(settings), **options))
    profiler = cProfile.Profile(time.process_time)  # CPU time: waiting for the database is not counted
    body = json.dumps({"query": DOCUMENTS[args.document]})
    measured: dict[str, float] = {}

    def drive() -> None:
        while not server.started:
            time.sleep(0.05)
        client = [sys.executable, "-c", CLIENT, str(port), args.key]
        subprocess.run([*client, "200", body], check=True)
        started = time.process_time()
        subprocess.run([*client, str(args.requests), body], check=True)
        measured["cpu"] = time.process_time() - started
        server.should_exit = True

    thread = threading.Thread(target=drive, daemon=True)
    thread.start()
    if args.no_profile:
        server.run()
    else:
        threading.setprofile(None)
        profiler.enable()
        try:
            server.run()
        finally:
            profiler.disable()
    thread.join()
    print(f"{args.document}: server CPU {measured['cpu'] / args.requests * 1e6:.0f} µs/request over {args.requests}")
    if not args.no_profile:
        stats = pstats.Stats(profiler)
        if args.out:
            stats.dump_stats(args.out)
        stats.sort_stats(args.sort).print_stats(args.limit)
        print_areas(stats, args.requests + 200)


AREAS = (
    (
        "store (app/store, SQLAlchemy, drivers)",
        ("app/store/", "sqlalchemy", "asyncpg", "aiosqlite", "greenlet", "sqlite3"),
    ),
    (
        "plan run/compile (app/graphql/plan/run, compile, loaders, connection, query)",
        (
            "plan/run.py",
            "plan/compile.py",
            "<record_builder>",
            "loaders.py",
            "connection.py",
            "graphql/query.py",
            "contracts/",
            "event_query.py",
            "json/",
            "datetime",
        ),
    ),
    ("cost", ("graphql/cost.py",)),
    ("prepare/variables (executor, graphql-core)", ("plan/executor.py", "/graphql/")),
    ("auth", ("app/auth/",)),
    (
        "HTTP: server.py, json_body, request_guard, http_rules, starlette",
        ("app/server.py", "json_body.py", "request_guard.py", "http_rules.py", "starlette", "orjson"),
    ),
    ("uvicorn protocol, serving.py", ("uvicorn", "app/serving.py", "httptools")),
    ("asyncio / event loop", ("asyncio", "uvloop", "contextvars", "contextlib")),
)


def print_areas(stats: pstats.Stats, requests: int) -> None:
    """CPU time per request by area (each function's own time, by the first area its file matches)."""
    totals: dict[str, float] = {}
    for (filename, _, name), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = f"{filename}:{name}"
        area = next((label for label, marks in AREAS if any(mark in where for mark in marks)), "other")
        totals[area] = totals.get(area, 0.0) + tottime
    for area, seconds in sorted(totals.items(), key=lambda item: -item[1]):
        print(f"{seconds / requests * 1e6:8.0f} µs/request  {area}")


if __name__ == "__main__":
    main()
