"""Scopes: the CLI offers exactly the scopes a check reads; a key stored with the retired ``admin`` keeps the rest."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.keys import authenticate, create_key, list_keys
from app.auth.principal import Scope, known_scopes, require
from app.cli import main
from app.errors import Forbidden
from app.store.engine import WRITE
from app.store.tables import api_keys


def test_the_cli_offers_only_checked_scopes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["keys", "create", "--name", "k", "--tenant", "a", "--scope", "admin"])
    assert exit_.value.code == 2
    assert "invalid choice: 'admin'" in capsys.readouterr().err
    assert {scope.value for scope in Scope} == {"events:read", "events:write"}


def test_unknown_stored_scopes_grant_nothing() -> None:
    assert known_scopes(["admin", "events:read", "events:*"]) == {Scope.READ}
    assert known_scopes(["admin"]) == frozenset()


async def _store_scopes(engine: AsyncEngine, key_id: str, scopes: list[str]) -> None:
    """What a key created by an earlier version (which offered ``admin``) looks like in the table."""
    async with engine.connect() as connection:
        connection = await connection.execution_options(**WRITE)
        async with connection.begin():
            await connection.execute(update(api_keys).where(api_keys.c.key_id == key_id).values(scopes=scopes))


async def test_a_key_stored_with_admin_keeps_its_other_scopes(engine: AsyncEngine, tenant: str) -> None:
    principal, secret = await create_key(engine, name="old", tenants=[tenant], scopes=["events:read"], sources=[])
    await _store_scopes(engine, principal.key_id, ["admin", "events:read"])
    found = await authenticate(engine, secret)
    assert found is not None and found.scopes == {Scope.READ}
    assert require(found, Scope.READ) is found
    listed = {key.key_id: key for key, _, _ in await list_keys(engine)}
    assert listed[principal.key_id].scopes == {Scope.READ}


async def test_a_key_stored_with_admin_alone_may_do_nothing(engine: AsyncEngine, tenant: str) -> None:
    principal, secret = await create_key(engine, name="old", tenants=[tenant], scopes=["events:read"], sources=[])
    await _store_scopes(engine, principal.key_id, ["admin"])
    found = await authenticate(engine, secret)
    assert found is not None and found.scopes == frozenset()
    for scope in Scope:
        with pytest.raises(Forbidden):
            require(found, scope)
