"""In-process A/B of the request-side shortcuts: the whole ASGI app with them on and off, interleaved.

    PYTHONPATH=. .venv/bin/python scripts/request_side_ab.py URL KEYFILE [full,env,rel,tiny] [rounds=40]

Two apps over one engine: as shipped, and with the ``/graphql`` shortcut (``Gateway.graphql_shortcut``), the
cost cache and the argument cache off. Each round runs 20 requests of one gwbench document through each app
(``scripts/profile_http.py``'s documents), and times the process's CPU (``time.process_time``): the median
per request, the median ratio on/off and the median saving are printed. Responses are checked equal first.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvloop

from app.config import Settings
from app.graphql.cost import operation_cost
from app.graphql.plan.run import Run
from app.server import create_app
from app.store.engine import create_engine
from scripts.profile_http import DOCUMENTS


def _scope(body: bytes, key: str) -> dict[str, Any]:
    headers = [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json")]
    headers += [(b"authorization", f"Bearer {key}".encode()), (b"content-length", str(len(body)).encode())]
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 5555),
        "server": ("127.0.0.1", 8000),
    }


async def _through(app: Any, body: bytes, key: str) -> list[dict[str, Any]]:
    done = asyncio.Event()
    given: list[bool] = []
    out: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if not given:
            given.append(True)
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        out.append(message)

    await app(_scope(body, key), receive, send)
    done.set()
    assert out[0]["status"] == 200 and b'"errors"' not in out[1]["body"], out
    return out


def _nothing() -> None:
    pass


async def interleaved_cpu(
    sides: list[tuple[Callable[[], None], Any]], body: bytes, key: str, rounds: int
) -> list[list[float]]:
    """Per side (``prepare``, app): its CPU seconds per request in each round, 20 requests a side a round, the sides
    in turn within each round, ``prepare`` called before each side's requests."""
    figures: list[list[float]] = [[] for _ in sides]
    for _ in range(rounds):
        for (prepare, app), times in zip(sides, figures, strict=True):
            prepare()
            started = time.process_time()
            for _ in range(20):
                await _through(app, body, key)
            times.append((time.process_time() - started) / 20)
    return figures


def print_compared(name: str, old_label: str, old: list[float], new_label: str, new: list[float]) -> None:
    """The medians per request of both sides, the median per-round ratio new ÷ old and the median saving."""
    ratio = statistics.median([x / y for x, y in zip(new, old, strict=True)])
    saved = statistics.median([y - x for x, y in zip(new, old, strict=True)])
    print(
        f"{name}: {old_label} {statistics.median(old) * 1e6:.0f} µs, {new_label} {statistics.median(new) * 1e6:.0f} µs "
        f"CPU/request; median ratio {ratio:.3f}; saved {saved * 1e6:.0f} µs"
    )


async def main() -> None:
    url, key = sys.argv[1], Path(sys.argv[2]).read_text().strip()
    names = (sys.argv[3] if len(sys.argv) > 3 else "full,env,rel,tiny").split(",")
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 40
    settings = Settings(database_url=url)
    engine = create_engine(url)
    on, off = create_app(settings, engine=engine), create_app(settings, engine=engine)
    off.graphql_shortcut = False
    off.state.compiled._run = Run
    off.state.compiled.cost = lambda prepared, name, variables: operation_cost(
        prepared.document, name, variables, settings
    )
    documents = {**DOCUMENTS, "tiny": "{ events(first: 0) { pageInfo { hasNextPage } } }"}
    for name in names:
        body = json.dumps({"query": documents[name]}).encode()
        for _ in range(30):
            a, b = await _through(on, body, key), await _through(off, body, key)
        assert a[1]["body"] == b[1]["body"] and a[0]["headers"] == b[0]["headers"]
        without, with_ = await interleaved_cpu([(_nothing, off), (_nothing, on)], body, key, rounds)
        print_compared(name, "off", without, "on", with_)
    await engine.dispose()


if __name__ == "__main__":
    uvloop.run(main())
