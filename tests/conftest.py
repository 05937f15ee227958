"""Fixtures: every store and API test runs on SQLite and on a real PostgreSQL.

PostgreSQL comes from AUDIT_TEST_POSTGRES_URL (default: the local server,
postgres@127.0.0.1:5432). The suite creates its own database and drops it at
the end. Where no server answers, the PostgreSQL half skips with the reason —
unless AUDIT_REQUIRE_POSTGRES=1 (CI sets it), where that is a failure.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.keys import create_key
from app.config import Settings
from app.server import create_app
from app.store.engine import create_engine
from app.store.migrate import upgrade
from tests.helpers import (
    POSTGRES_ADMIN_URL,
    REQUIRE_POSTGRES,
    SOURCES,
    Api,
    Keys,
    StatementCounter,
    postgres_admin,
    uid,
)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    name = f"audit_test_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(postgres_admin(f'CREATE DATABASE "{name}"'))
    except Exception as error:
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required (AUDIT_REQUIRE_POSTGRES=1) but unreachable: {error}")
        pytest.skip(f"no PostgreSQL at {POSTGRES_ADMIN_URL}: {error}")
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    migrated = create_engine(url)
    asyncio.run(_upgrade_and_dispose(migrated))
    yield url
    asyncio.run(postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


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


@pytest.fixture
async def keys(engine: AsyncEngine, tenant: str) -> Keys:
    async def make(name: str, scopes: list[str], sources: list[str]) -> str:
        return (await create_key(engine, name=name, tenants=[tenant], scopes=scopes, sources=sources))[1]

    return Keys(
        writer=await make("writer", ["events:write"], SOURCES),
        reader=await make("reader", ["events:read"], []),
        rw=await make("rw", ["events:read", "events:write"], SOURCES),
    )


@pytest.fixture
async def api(
    request: pytest.FixtureRequest, engine: AsyncEngine, settings: Settings, keys: Keys
) -> AsyncIterator[Api]:
    """A client of the in-process app. Under ``pytest.mark.hostile`` an unhandled exception comes back as the
    500 a server would send (which the hostile-caller checks refuse) instead of being raised into the test."""
    raising = request.node.get_closest_marker("hostile") is None
    transport = httpx.ASGITransport(app=create_app(settings, engine=engine), raise_app_exceptions=raising)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield Api(client, keys)


@pytest.fixture
async def intruder(engine: AsyncEngine) -> Keys:
    """Keys of another tenant, on the same gateway and database."""
    other = f"t{uid()}"

    async def make(name: str, scopes: list[str], sources: list[str]) -> str:
        return (await create_key(engine, name=name, tenants=[other], scopes=scopes, sources=sources))[1]

    return Keys(
        writer=await make("w", ["events:write"], SOURCES),
        reader=await make("r", ["events:read"], []),
        rw=await make("rw", ["events:read", "events:write"], SOURCES),
    )


@pytest.fixture
def statements(engine: AsyncEngine) -> Iterator[StatementCounter]:
    """Counts every SQL statement the engine sends (``before_cursor_execute``)."""
    counter = StatementCounter()
    event.listen(engine.sync_engine, "before_cursor_execute", counter)
    yield counter
    event.remove(engine.sync_engine, "before_cursor_execute", counter)
