"""In-process CPU A/B of this branch's read-path changes against a base commit: both variants, one process, interleaved.

    PYTHONPATH=. .venv/bin/python scripts/reads_ab.py URL KEYFILE [rel,full] [rounds=40] [--base REF]

The base variant is a second app in this very process, run with the changed functions swapped for their text at
``REF`` (default ``main``): each module of ``SWAPS`` is compiled again from ``git show REF:path`` under another
name, and the listed attributes (functions, methods) are set from it before each base round and restored after
(each app keeps the plans it compiled, so the compiler's changes are compared too). Each round
runs 20 requests of one gwbench document (``scripts/profile_http.py``'s documents) through the whole ASGI app
per variant and times the process's CPU (``time.process_time``); the medians per request, the median ratio
new/base and the median saving are printed. Responses are checked equal first.
"""

from __future__ import annotations

import json
import subprocess
import sys
import types
from importlib import import_module
from pathlib import Path
from typing import Any

import uvloop

from app.config import Settings
from app.server import create_app
from app.store.engine import create_engine
from scripts.profile_http import DOCUMENTS
from scripts.request_side_ab import _through, interleaved_cpu, print_compared

SWAPS: dict[str, list[str]] = {
    "app.graphql.plan.run": ["Run.execute", "Run.connection", "Run.levels", "Run.edges"],
    "app.graphql.loaders": ["Batcher.wake", "Batcher.flush", "Loaders.__init__"],
    "app.graphql.pacing": ["Pacer.spend"],
    "app.store.event_query": ["EventQuery.digest"],
    "app.store.engine": ["loads_json()", "loads_jsonb()"],
    "app.store.read": ["TenantReader.__init__", "TenantReader._connect", "TenantReader._pooled"],
    "app.graphql.plan.compile": ["Compiler.event_plan", "Compiler._object"],
    "app.graphql.events": ["node_id()"],
    "app.request_guard": ["RequestGuard.__call__"],
    "app.server": ["GatewayGraphQL.__call__"],
}
"""Per module, what differs from the base: ``Class.attribute``, a module-level name, or ``function()``: a
function others hold (the engine's JSON deserializer, the JSONB codec), whose code is swapped for a call of the
base one (one call more for the base: ~0.05 µs a row)."""

SHARED: dict[str, list[str]] = {"app.request_guard": ["_current"], "app.server": ["_HANDOVER"]}
"""Module state the base's functions must share with the running app (the requests' context variables)."""

NEW_IN_BRANCH: dict[str, Any] = {
    "loads_jsonb": lambda base: lambda value: base.loads_json(value[1:].decode()),
}
"""What the base did in place of a function it does not have: SQLAlchemy's JSONB decoder (strip the version
byte, decode) calling the base's ``loads_json``."""


def _base_module(name: str, ref: str) -> types.ModuleType:
    path = name.replace(".", "/") + ".py"
    source = subprocess.run(["git", "show", f"{ref}:{path}"], check=True, capture_output=True, text=True).stdout
    module = types.ModuleType(f"base_{name.replace('.', '_')}")
    module.__file__ = f"<{ref}:{path}>"
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def _swaps(ref: str) -> list[tuple[Any, str, Any, Any]]:
    """(owner, attribute, new value, base value) for every swapped attribute."""
    found = []
    for name, attributes in SWAPS.items():
        current, base = import_module(name), _base_module(name, ref)
        for shared in SHARED.get(name, []):
            setattr(base, shared, getattr(current, shared))
        for dotted in attributes:
            if dotted.endswith("()"):
                name = dotted[:-2]
                function = getattr(current, name)
                base_function = getattr(base, name) if hasattr(base, name) else NEW_IN_BRANCH[name](base)
                relay = f"_reads_ab_base_{name}"
                setattr(current, relay, base_function)
                namespace: dict[str, Any] = {}
                exec(f"def relay(*args, **kwargs):\n    return {relay}(*args, **kwargs)\n", namespace)
                found.append((function, "__code__", function.__code__, namespace["relay"].__code__))
                continue
            *owner_path, attribute = dotted.split(".")
            owner, base_owner = current, base
            for part in owner_path:
                owner, base_owner = getattr(owner, part), getattr(base_owner, part)
            found.append((owner, attribute, owner.__dict__[attribute], base_owner.__dict__[attribute]))
    return found


def _apply(swaps: list[tuple[Any, str, Any, Any]], base: bool) -> None:
    for owner, attribute, new, old in swaps:
        setattr(owner, attribute, old if base else new)


async def main() -> None:
    arguments = [each for each in sys.argv[1:] if not each.startswith("--base")]
    ref = next((each.split("=", 1)[1] for each in sys.argv[1:] if each.startswith("--base=")), "main")
    url, key = arguments[0], Path(arguments[1]).read_text().strip()
    names = (arguments[2] if len(arguments) > 2 else "rel,full").split(",")
    rounds = int(arguments[3]) if len(arguments) > 3 else 40
    swaps = _swaps(ref)
    settings = Settings(database_url=url)
    engine = create_engine(url)
    app, base_app = create_app(settings, engine=engine), create_app(settings, engine=engine)
    for name in names:
        body = json.dumps({"query": DOCUMENTS[name]}).encode()
        for _ in range(30):
            _apply(swaps, base=True)
            a = await _through(base_app, body, key)
            _apply(swaps, base=False)
            b = await _through(app, body, key)
        assert a[1]["body"] == b[1]["body"] and a[0]["headers"] == b[0]["headers"]
        old, new = await interleaved_cpu(
            [(lambda: _apply(swaps, base=True), base_app), (lambda: _apply(swaps, base=False), app)], body, key, rounds
        )
        print_compared(name, f"base ({ref})", old, "new", new)
    await engine.dispose()


if __name__ == "__main__":
    uvloop.run(main())
