"""Key names are printable, bounded and unique among active keys; the CLI says so in one line, never a trace."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.keys import MAX_KEY_NAME, create_key, revoke_key
from tests.helpers import uid
from tests.test_cli import run

BAD_NAMES = {
    "empty": "",
    "blank": "   ",
    "newline": "ops\nthe secret is shown once, on the next line:",
    "ansi": "ops\x1b[2K\x1b[1Afake",
    "tab": "ops\tkey",
    "line-separator": "ops\u2028key",
    "bidi": "ops\u202ekey",
    "leading-space": " ops",
    "201-characters": "k" * (MAX_KEY_NAME + 1),
    "5000-characters": "k" * 5000,
}


@pytest.mark.parametrize("name", BAD_NAMES.values(), ids=BAD_NAMES.keys())
async def test_unsafe_key_names_are_refused(engine: AsyncEngine, name: str) -> None:
    with pytest.raises(ValueError, match="key name"):
        await create_key(engine, name=name, tenants=["t"], scopes=["events:read"], sources=[])


async def test_names_are_unique_among_a_tenants_active_keys(engine: AsyncEngine) -> None:
    name = f"support-ui Zoë {uid()}"  # printable Unicode is fine
    first, _ = await create_key(engine, name=name, tenants=["t"], scopes=["events:read"], sources=[])
    taken = f"an active key named .* exists already for tenant t \\(key {first.key_id}\\)"
    with pytest.raises(ValueError, match=taken):
        await create_key(engine, name=name, tenants=["u", "t"], scopes=["events:write"], sources=["s"])
    other, _ = await create_key(engine, name=name, tenants=["u"], scopes=["events:read"], sources=[])
    assert await revoke_key(engine, first.key_id)
    again, _ = await create_key(engine, name=name, tenants=["t"], scopes=["events:read"], sources=[])
    assert len({first.key_id, other.key_id, again.key_id}) == 3


@pytest.mark.parametrize("name", [BAD_NAMES["newline"], BAD_NAMES["5000-characters"]], ids=["newline", "5000"])
def test_the_cli_refuses_bad_names_in_one_line(database_url: str, name: str) -> None:
    result = run("keys", "create", "--name", name, "--tenant", "t", "--scope", "events:read", url=database_url)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "key name" in result.stderr
    assert "secret" not in result.stdout


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+asyncpg://postgres@127.0.0.1:1/audit",  # nothing listens there: PostgreSQL is down
        "postgresql+asyncpg://postgres@127.0.0.1:5432/audit_hard_no_such_database",
    ],
)
@pytest.mark.parametrize("command", [["verify"], ["keys", "list"], ["db", "upgrade"]])
def test_database_failures_are_one_line_and_a_nonzero_exit(url: str, command: list[str]) -> None:
    result = run(*command, url=url)
    assert result.returncode == 3 and "Traceback" not in result.stderr, result.stderr
    line, *hint = result.stderr.strip().splitlines()
    assert line.startswith("audit-gateway: database error (postgresql+asyncpg://"), line
    assert hint == [] or (len(hint) == 1 and "createdb" in hint[0]), hint
