"""The audit-gateway command, run as a user runs it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid

import pytest

from app.auth.keys import authenticate
from app.auth.principal import Scope
from app.store.engine import create_engine


def run(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AUDIT_DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "app", *args], env=env, capture_output=True, text=True, timeout=60)


def test_keys_create_prints_the_secret_alone_on_the_last_line(database_url: str) -> None:
    tenant = f"t{uuid.uuid4().hex[:10]}"
    result = run(
        "keys",
        "create",
        "--name",
        "svc",
        "--tenant",
        tenant,
        "--scope",
        "events:write",
        "--source",
        "checkout",
        url=database_url,
    )
    assert result.returncode == 0, result.stderr
    secret = result.stdout.strip().splitlines()[-1]
    assert " " not in secret and secret.startswith("agw_")

    async def check() -> None:
        engine = create_engine(database_url)
        try:
            principal = await authenticate(engine, secret)
        finally:
            await engine.dispose()
        assert principal is not None
        assert principal.tenants == {tenant} and principal.scopes == {Scope.WRITE} and principal.sources == {"checkout"}

    asyncio.run(check())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tenant", "a", "--tenant", "b", "--scope", "events:read"], "exactly one tenant"),
        (["--tenant", "a", "--scope", "events:write"], "--source"),
        (["--tenant", "Not A Name", "--scope", "events:read"], "tenant"),
    ],
)
def test_keys_create_refuses_unsafe_keys(sqlite_url: str, args: list[str], message: str) -> None:
    result = run("keys", "create", "--name", "k", *args, url=sqlite_url)
    assert result.returncode == 2 and message in result.stderr


@pytest.mark.postgres
def test_serve_refuses_an_out_of_date_postgres_database(postgres_url: str) -> None:
    empty = postgres_url.rsplit("/", 1)[0] + "/postgres_missing_" + uuid.uuid4().hex[:8]
    from tests.helpers import postgres_admin

    name = empty.rsplit("/", 1)[1]
    asyncio.run(postgres_admin(f'CREATE DATABASE "{name}"'))
    try:
        result = run("serve", "--port", "1", url=empty)
    finally:
        asyncio.run(postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    assert result.returncode == 2
    assert "audit-gateway db upgrade" in result.stderr


def test_a_revoked_key_no_longer_authenticates(sqlite_url: str) -> None:
    created = run("keys", "create", "--name", "leaky", "--tenant", "acme", "--scope", "events:read", url=sqlite_url)
    secret = created.stdout.strip().splitlines()[-1]
    key_id = secret.split("_")[1]
    listed = run("keys", "list", url=sqlite_url)
    assert key_id in listed.stdout and secret not in listed.stdout

    assert run("keys", "revoke", key_id, url=sqlite_url).returncode == 0
    assert run("keys", "revoke", key_id, url=sqlite_url).returncode == 2

    async def check() -> None:
        engine = create_engine(sqlite_url)
        try:
            assert await authenticate(engine, secret) is None
        finally:
            await engine.dispose()

    asyncio.run(check())
    assert "revoked" in run("keys", "list", url=sqlite_url).stdout
