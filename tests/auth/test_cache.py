"""The key cache: a trusted key skips the key table for a bounded time; revocation takes effect within it."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.cache import KeyCache
from app.auth.keys import create_key, revoke_key
from app.config import Settings
from app.server import create_app
from tests.helpers import StatementCounter


class Clock:
    """A clock the test moves by hand, so the bound is checked without waiting for it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_revoked_key_stops_working_within_the_bound(
    engine: AsyncEngine, tenant: str, statements: StatementCounter
) -> None:
    principal, secret = await create_key(engine, name="ui", tenants=[tenant], scopes=["events:read"], sources=[])
    clock = Clock()
    cache = KeyCache(engine, 5, clock=clock)
    assert await cache.authenticate(secret) == principal
    before = statements.count
    assert await cache.authenticate(secret) == principal
    assert statements.count == before, "a trusted key is not looked up again"

    assert await revoke_key(engine, principal.key_id)
    clock.now += 4.9
    assert await cache.authenticate(secret) == principal  # the documented delay: at most 5 seconds
    clock.now += 0.2
    assert await cache.authenticate(secret) is None
    clock.now += 60
    assert await cache.authenticate(secret) is None  # revoked keys are never cached


async def test_unknown_keys_are_not_cached_and_zero_turns_the_cache_off(
    engine: AsyncEngine, tenant: str, statements: StatementCounter
) -> None:
    cache = KeyCache(engine, 5, max_entries=2)
    before = statements.count
    for _ in range(3):
        assert await cache.authenticate("agw_0_unknown") is None
    assert statements.count == before + 3
    secrets = [
        (await create_key(engine, name=f"k{n}", tenants=[tenant], scopes=["events:read"], sources=[]))[1]
        for n in range(3)
    ]
    for secret in secrets:
        assert await cache.authenticate(secret) is not None
    assert len(cache._trusted) == 2  # bounded

    principal, secret = await create_key(engine, name="now", tenants=[tenant], scopes=["events:read"], sources=[])
    off = KeyCache(engine, 0)
    assert await off.authenticate(secret) == principal
    assert await revoke_key(engine, principal.key_id)
    assert await off.authenticate(secret) is None


async def test_the_gateway_uses_the_configured_bound(engine: AsyncEngine, settings: Settings, tenant: str) -> None:
    principal, secret = await create_key(engine, name="ui", tenants=[tenant], scopes=["events:read"], sources=[])
    query = {"query": "{ events(first: 1) { totalCount } }"}
    headers = {"Authorization": f"Bearer {secret}"}
    for seconds, after_revocation in ((60.0, None), (0.0, "UNAUTHENTICATED")):
        app = create_app(settings.model_copy(update={"key_cache_seconds": seconds}), engine=engine)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
            first = (await client.post("/graphql", json=query, headers=headers)).json()
            if after_revocation is None:
                assert "errors" not in first
                assert await revoke_key(engine, principal.key_id)
            second = (await client.post("/graphql", json=query, headers=headers)).json()
            codes = [error["extensions"]["code"] for error in second.get("errors", [])]
            assert codes == ([] if after_revocation is None else [after_revocation]), second
