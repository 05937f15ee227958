"""A database the CLI cannot open is one clear line (which database, why, what to do), never a traceback."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from tests.test_cli import run


@pytest.mark.postgres
@pytest.mark.parametrize("command", [["db", "upgrade"], ["serve", "--port", "1"], ["demo", "--no-serve"]])
def test_a_missing_postgres_database_names_createdb(postgres_url: str, command: list[str]) -> None:
    base = postgres_url.rsplit("/", 1)[0].replace("postgres@", "postgres:hunter2@")
    name = f"audit_missing_{uuid.uuid4().hex[:8]}"
    result = run(*command, url=f"{base}/{name}")
    assert result.returncode == 3
    assert f'database "{name}" does not exist' in result.stderr, result.stderr
    assert re.search(rf"`createdb -h \S+ -U \S+ {name}`", result.stderr), result.stderr
    assert "Traceback" not in result.stderr and "hunter2" not in result.stderr


def test_an_unreachable_database_is_one_clear_error(tmp_path: Path) -> None:
    result = run("db", "upgrade", url=f"sqlite+aiosqlite:///{tmp_path}/no/such/dir/audit.db")
    assert result.returncode == 3 and "Traceback" not in result.stderr
    assert result.stderr.startswith("audit-gateway: database error (sqlite+aiosqlite:///"), result.stderr
