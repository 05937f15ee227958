"""Fixtures: every store and API test runs on SQLite and on a real PostgreSQL.

PostgreSQL comes from AUDIT_TEST_POSTGRES_URL (default: the local server,
postgres@127.0.0.1:5432). The suite creates its own database and drops it at
the end. Where no server answers, the PostgreSQL half skips with the reason —
unless AUDIT_REQUIRE_POSTGRES=1 (CI sets it), where that is a failure.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.keys import create_key
from app.config import Settings
from app.server import create_app
from app.store.engine import create_engine
from app.store.migrate import upgrade

POSTGRES_ADMIN_URL = os.environ.get(
    "AUDIT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = os.environ.get("AUDIT_REQUIRE_POSTGRES") == "1"


async def _admin(statement: str) -> None:
    import asyncpg

    url = POSTGRES_ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(url, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    name = f"audit_test_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except Exception as error:
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required (AUDIT_REQUIRE_POSTGRES=1) but unreachable: {error}")
        pytest.skip(f"no PostgreSQL at {POSTGRES_ADMIN_URL}: {error}")
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    migrated = create_engine(url)
    asyncio.run(_upgrade_and_dispose(migrated))
    yield url
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _upgrade_and_dispose(engine: AsyncEngine) -> None:
    await upgrade(engine)
    await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = Path(tmp_path_factory.mktemp("sqlite")) / "audit.db"
    url = f"sqlite+aiosqlite:///{path}"
    asyncio.run(_upgrade_and_dispose(create_engine(url)))
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def backend(database_url: str) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def tenant() -> str:
    """A tenant of this test alone: tests share a database, never a tenant."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url)


@dataclass
class Keys:
    writer: str
    reader: str
    rw: str


SOURCES = ["checkout", "payments", "identity", "console"]


@pytest.fixture
async def keys(engine: AsyncEngine, tenant: str) -> Keys:
    async def make(name: str, scopes: list[str], sources: list[str]) -> str:
        return (await create_key(engine, name=name, tenants=[tenant], scopes=scopes, sources=sources))[1]

    return Keys(
        writer=await make("writer", ["events:write"], SOURCES),
        reader=await make("reader", ["events:read"], []),
        rw=await make("rw", ["events:read", "events:write"], SOURCES),
    )


class Api:
    """A GraphQL client bound to the in-process ASGI app."""

    def __init__(self, client: httpx.AsyncClient, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    async def post(self, query: str, variables: dict[str, Any] | None = None, key: str | None = "rw") -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {getattr(self.keys, key)}"} if key else {}
        response = await self.client.post("/graphql", json={"query": query, "variables": variables or {}},
                                          headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    async def ok(self, query: str, variables: dict[str, Any] | None = None, key: str = "rw") -> dict[str, Any]:
        body = await self.post(query, variables, key)
        assert not body.get("errors"), body["errors"]
        return body["data"]

    async def errors(self, query: str, variables: dict[str, Any] | None = None, key: str | None = "rw") -> list[dict]:
        body = await self.post(query, variables, key)
        assert body.get("errors"), f"expected errors, got {body}"
        return body["errors"]


@pytest.fixture
async def api(engine: AsyncEngine, settings: Settings, keys: Keys) -> AsyncIterator[Api]:
    app = create_app(settings, engine=engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield Api(client, keys)


class StatementCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement != "BEGIN" and not statement.startswith("BEGIN "):  # SQLite's explicit transaction start
            self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def statements(engine: AsyncEngine) -> Iterator[StatementCounter]:
    """Counts every SQL statement the engine sends (``before_cursor_execute``)."""
    counter = StatementCounter()
    event.listen(engine.sync_engine, "before_cursor_execute", counter)
    yield counter
    event.remove(engine.sync_engine, "before_cursor_execute", counter)


def now(offset_seconds: float = 0) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=offset_seconds)).isoformat()
