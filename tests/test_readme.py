"""The README cannot rot: its examples run, as pasted, against a freshly seeded demo.

A demo is seeded with the real CLI (``audit-gateway demo --no-serve``: app/demo.py, through the one write
path) and served by a real ``audit-gateway serve`` on a free port. Then:
- every ```graphql block runs there without errors and finds data (a mutation with the writer key: every
  result accepted or duplicate), with the reader key for everything else;
- the README's line that puts the demo keys into the shell gives it the keys the demo printed first;
- every other ```sh block a newcomer runs against the demo runs in bash with those keys in the environment, and
  ``.venv/bin/`` and ``127.0.0.1:8000`` pointing at this test's Python and server;
- the Python client recipe (docs/clients/python_gql.py, gql) pages through the live demo: every event once;
- the PostgreSQL block runs on the local server, with its own database name.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import POSTGRES_ADMIN_URL, postgres_admin

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"^```(\w*)\n(.*?)^```", README, re.S | re.M)
GRAPHQL = [body for lang, body in BLOCKS if lang == "graphql"]
SHELL = [body for lang, body in BLOCKS if lang == "sh"]
KEYS_LINE = next(body for body in SHELL if body.startswith('eval "$(.venv/bin/audit-gateway demo'))
POSTGRES_BLOCK = next(body for body in SHELL if "createdb" in body)


def not_run_against_the_demo(block: str) -> str | None:
    """Why a shell block is not run against the live demo (None: it is)."""
    if "python3 -m venv" in block or "pip install" in block:
        return "sets up a virtual environment (the one running this test)"
    if block is KEYS_LINE:
        return "runs before every other block"
    if block is POSTGRES_BLOCK:
        return "run by test_the_postgresql_path_from_zero"
    if "audit-gateway serve" in block:
        return "serves (the test's server is already serving)"
    return None


DEMO_SHELL = [block for block in SHELL if not_run_against_the_demo(block) is None]


@dataclass
class Demo:
    url: str
    port: int
    reader: str
    writer: str
    database: Path

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "AUDIT_DATABASE_URL": f"sqlite+aiosqlite:///{self.database}"}

    @property
    def env_with_keys(self) -> dict[str, str]:
        """As after the README's keys line (test_the_keys_line_gives_the_shell_the_demos_keys)."""
        return {**self.env, "AUDIT_DEMO_READER": self.reader, "AUDIT_DEMO_WRITER": self.writer}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    database = tmp_path_factory.mktemp("readme") / "audit.db"
    env = {**os.environ, "AUDIT_DATABASE_URL": f"sqlite+aiosqlite:///{database}", "AUDIT_LOG_LEVEL": "warning"}
    seeded = subprocess.run(
        [sys.executable, "-m", "app", "demo", "--no-serve"], env=env, capture_output=True, text=True, timeout=300
    )
    assert seeded.returncode == 0, seeded.stderr
    keys = dict(re.findall(r"^export (AUDIT_DEMO_\w+)=(\S+)$", seeded.stdout, re.M))
    port = _free_port()
    log = (database.parent / "server.log").open("w")  # a file, not a pipe: nothing reads it while the server runs
    server = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
        text=True,
    )
    try:
        _wait_until_healthy(port, server)
        yield Demo(
            f"http://127.0.0.1:{port}/graphql", port, keys["AUDIT_DEMO_READER"], keys["AUDIT_DEMO_WRITER"], database
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _wait_until_healthy(port: int, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail("audit-gateway serve exited (its log is server.log in the test's directory)")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail("audit-gateway serve did not answer within 30 s")


def _label(block: str) -> str:
    return re.sub(r"\W+", " ", block).strip()[:60]


# --- GraphQL ---------------------------------------------------------------------------------------------------


def test_the_readme_has_examples_to_run() -> None:
    assert len(GRAPHQL) >= 5 and any(b.lstrip().startswith("mutation") for b in GRAPHQL)
    assert len(DEMO_SHELL) >= 4 and any("curl" in b for b in DEMO_SHELL)


def finds_data(field: str, value: Any) -> None:
    """A root field found something: not null, not empty; a connection has edges, a count is positive."""
    assert value not in (None, [], {}), f"{field} found nothing: {value!r}"
    if isinstance(value, dict):
        if "edges" in value:
            assert value["edges"], f"{field} has no edges"
        for count in ("totalCount", "eventCount", "checkedCount"):
            if count in value:
                assert value[count] > 0, f"{field}.{count} is {value[count]}"
        for name, inner in value.items():
            if isinstance(inner, dict) and "edges" in inner:
                finds_data(f"{field}.{name}", inner)


@pytest.mark.parametrize("example", GRAPHQL, ids=[_label(b) for b in GRAPHQL])
def test_graphql_example_runs_on_the_demo_and_finds_data(demo: Demo, example: str) -> None:
    mutation = example.lstrip().startswith("mutation")
    key = demo.writer if mutation else demo.reader
    response = httpx.post(demo.url, json={"query": example}, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    for field, value in body["data"].items():
        finds_data(field, value)
        if mutation:
            kinds = {result["__typename"] for result in value["results"]}
            assert value["rejectedCount"] == 0 and kinds <= {"EventAccepted", "EventDuplicate"}, value
            assert value["acceptedCount"] + value["duplicateCount"] == len(value["results"]) > 0


def test_the_mutation_example_is_idempotent(demo: Demo) -> None:
    (mutation,) = [b for b in GRAPHQL if b.lstrip().startswith("mutation")]
    headers = {"Authorization": f"Bearer {demo.writer}"}
    for _ in range(2):
        payload = httpx.post(demo.url, json={"query": mutation}, headers=headers, timeout=30).json()["data"]
    assert payload["recordEvents"]["duplicateCount"] == len(payload["recordEvents"]["results"])


# --- shell -----------------------------------------------------------------------------------------------------


def as_here(block: str, demo: Demo) -> str:
    """The block with the venv and address of this test run (the README says .venv/bin and 127.0.0.1:8000)."""
    return block.replace(".venv/bin/", f"{Path(sys.executable).parent}/").replace(
        "127.0.0.1:8000", f"127.0.0.1:{demo.port}"
    )


def bash(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_keys_line_gives_the_shell_the_demos_keys(demo: Demo) -> None:
    result = bash(as_here(KEYS_LINE, demo) + 'echo "$AUDIT_DEMO_READER $AUDIT_DEMO_WRITER"', demo.env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [demo.reader, demo.writer], "the same keys as the first run: reused"


@pytest.mark.parametrize("block", DEMO_SHELL, ids=[_label(b) for b in DEMO_SHELL])
def test_shell_example_runs_on_the_demo(demo: Demo, block: str) -> None:
    result = bash(as_here(block, demo), demo.env_with_keys)
    assert result.returncode == 0, f"{block}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    if "curl" in block:
        bodies = json_documents(result.stdout)
        assert bodies, result.stdout
        for body in bodies:
            assert body and "errors" not in body, body
            for field, value in body.get("data", {}).items():  # a GraphQL answer finds data in the demo
                finds_data(field, value)


def json_documents(output: str) -> list[Any]:
    """The JSON answers of a block's curl commands, in order (``curl -i``'s status and headers skipped)."""
    if output.startswith("HTTP/"):
        output = re.split(r"\r?\n\r?\n", output, maxsplit=1)[1]
    decoder, documents, position = json.JSONDecoder(), [], 0
    output = output.strip()
    while position < len(output):
        document, position = decoder.raw_decode(output, position)
        documents.append(document)
        while position < len(output) and output[position].isspace():
            position += 1
    return documents


# --- the Python client recipe ----------------------------------------------------------------------------------


def _recipe() -> Any:
    spec = importlib.util.spec_from_file_location("python_gql", ROOT / "docs" / "clients" / "python_gql.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _stored(demo: Demo, type_prefix: str = "") -> list[str]:
    with sqlite3.connect(demo.database) as connection:
        rows = connection.execute(
            "SELECT event_id FROM events WHERE tenant = 'demo' AND type LIKE ? ORDER BY sequence", (f"{type_prefix}%",)
        ).fetchall()
    return [row[0] for row in rows]


@pytest.mark.parametrize(("search", "prefix", "page_size"), [(None, "", 200), ("type:order.*", "order.", 7)])
def test_the_gql_recipe_pages_through_the_live_demo_finding_every_event_once(
    demo: Demo, search: str | None, prefix: str, page_size: int
) -> None:
    stored = _stored(demo, prefix)
    assert len(stored) > 2 * page_size, "enough events for several pages"
    found = [event["eventId"] for event in _recipe().events(demo.url, demo.reader, search, page_size=page_size)]
    assert found == stored, "every event once, oldest first"


# --- PostgreSQL from zero --------------------------------------------------------------------------------------


@pytest.mark.postgres
def test_the_postgresql_path_from_zero(postgres_url: str) -> None:
    """The README's block as written, but for its database name (and the venv of this run)."""
    if not POSTGRES_ADMIN_URL.startswith("postgresql+asyncpg://postgres@127.0.0.1:5432/"):
        pytest.skip(f"the README's block targets postgres@127.0.0.1:5432, this run {POSTGRES_ADMIN_URL}")
    name = f"audit_readme_{uuid.uuid4().hex[:8]}"
    assert POSTGRES_BLOCK.count("audit_gateway") == 3
    script = POSTGRES_BLOCK.replace("audit_gateway", name).replace(".venv/bin/", f"{Path(sys.executable).parent}/")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDIT_")}
    try:
        result = bash(script, env)
        assert result.returncode == 0, f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        secrets = [line for line in result.stdout.splitlines() if line.startswith("agw_")]
        assert len(secrets) == 2 and "database is at revision" in result.stdout
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
        check = subprocess.run(
            [sys.executable, "-m", "app", "verify", "--tenant", "demo"],
            cwd=ROOT,
            env={**env, "AUDIT_DATABASE_URL": url},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert check.returncode == 0 and "demo: ok, 0 events" in check.stdout, check.stdout + check.stderr
    finally:
        asyncio.run(postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
