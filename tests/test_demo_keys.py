"""The demo prints the same reader and writer keys on every run, kept in a private file; stale keys are replaced."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.keys import authenticate, revoke_key
from app.auth.principal import Scope
from app.demo import SOURCES, TENANT
from app.demo_keys import demo_keys, keys_path


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_keys_are_created_once_privately_and_reused(engine: AsyncEngine, tmp_path: Path) -> None:
    path = tmp_path / "audit.db.demo-keys.json"
    old_umask = os.umask(0)  # even a permissive umask must not widen the file
    try:
        keys = await demo_keys(engine, path, TENANT, SOURCES)
    finally:
        os.umask(old_umask)
    assert mode(path) == 0o600
    assert await demo_keys(engine, path, TENANT, SOURCES) == keys
    reader, writer = await authenticate(engine, keys.reader), await authenticate(engine, keys.writer)
    assert reader is not None and reader.tenants == {TENANT} and reader.scopes == {Scope.READ}
    assert writer is not None and writer.tenants == {TENANT} and writer.scopes == {Scope.WRITE}
    assert writer.sources == set(SOURCES)
    assert [p.name for p in tmp_path.iterdir()] == [path.name], "no temporary file is left behind"


async def test_a_revoked_or_foreign_key_is_replaced(engine: AsyncEngine, tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    keys = await demo_keys(engine, path, TENANT, SOURCES)
    assert await revoke_key(engine, keys.reader.split("_")[1])
    replaced = await demo_keys(engine, path, TENANT, SOURCES)
    assert replaced.reader != keys.reader and replaced.writer != keys.writer
    assert await authenticate(engine, replaced.reader) is not None

    path.write_text('{"reader": "agw_0_from_another_database", "writer": "agw_1_from_another_database"}')
    assert (await demo_keys(engine, path, TENANT, SOURCES)).reader.startswith("agw_")
    assert await demo_keys(engine, path, "another-tenant", SOURCES) != await demo_keys(engine, path, TENANT, SOURCES)


async def test_an_unreadable_file_is_replaced_and_a_loose_one_tightened(engine: AsyncEngine, tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text("not json")
    keys = await demo_keys(engine, path, TENANT, SOURCES)
    assert await authenticate(engine, keys.writer) is not None
    path.chmod(0o644)
    assert await demo_keys(engine, path, TENANT, SOURCES) == keys
    assert mode(path) == 0o600


def test_the_keys_file_sits_beside_the_sqlite_file_or_is_named_after_the_database() -> None:
    assert keys_path("sqlite+aiosqlite:///./audit.db") == Path("audit.db.demo-keys.json")
    assert keys_path("sqlite+aiosqlite:////var/lib/audit/x.db") == Path("/var/lib/audit/x.db.demo-keys.json")
    assert keys_path("postgresql+asyncpg://u:pw@db.example/audit") == Path("audit.demo-keys.json")


def test_demo_no_serve_prints_both_keys_the_same_each_run_and_no_url(tmp_path: Path) -> None:
    env = {**os.environ, "AUDIT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/audit.db"}

    def run() -> str:
        result = subprocess.run(
            [sys.executable, "-m", "app", "demo", "--events", "40", "--no-serve"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    first, second = run(), run()
    exports = [line for line in first.splitlines() if line.startswith("export ")]
    assert [line.split("=")[0] for line in exports] == ["export AUDIT_DEMO_READER", "export AUDIT_DEMO_WRITER"]
    assert exports == [line for line in second.splitlines() if line.startswith("export ")]
    assert "http://" not in first and "Open" not in first
    assert mode(tmp_path / "audit.db.demo-keys.json") == 0o600
