"""API keys: created by the CLI, stored as SHA-256 of a 256-bit random secret.

A secret looks like ``agw_<key id>_<43 url-safe characters>``. Its hash is the
lookup key, so a check is a single indexed read; the secret has enough entropy
that a fast hash is the right one (no password stretching needed).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.principal import Principal, Scope, known_scopes
from app.contracts.values import NAME_MAX, NAME_PATTERN
from app.store.engine import WRITE
from app.store.tables import api_keys

PREFIX = "agw_"
MAX_SECRET_LENGTH = 200
MAX_KEY_NAME = 200


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


secret_hash = _hash


def _check_names(kind: str, names: Iterable[str]) -> None:
    for name in names:
        if len(name) > NAME_MAX or not NAME_PATTERN.fullmatch(name):
            raise ValueError(f"{kind} {name!r}: use 1-{NAME_MAX} of a-z 0-9 _ . - (starting with a letter or digit)")


def _check_key_name(name: str) -> None:
    """Names are printed by ``keys list`` and in logs: printable, one line, no escape sequences."""
    if not name.strip() or len(name) > MAX_KEY_NAME:
        raise ValueError(f"a key name has 1-{MAX_KEY_NAME} characters, got {len(name)}")
    if not name.isprintable() or name != name.strip():
        raise ValueError(
            f"key name {name!r}: use printable characters only (no newlines, tabs, escape sequences "
            "or other control characters) and no leading or trailing spaces"
        )


async def create_key(
    engine: AsyncEngine, *, name: str, tenants: list[str], scopes: list[str], sources: list[str]
) -> tuple[Principal, str]:
    """Store a new key; returns it and its secret, which is shown once and never stored."""
    _check_key_name(name)
    if not tenants:
        raise ValueError("a key needs at least one --tenant")
    if not scopes:
        raise ValueError("a key needs at least one --scope")
    parsed = frozenset(Scope(s) for s in scopes)
    _check_names("tenant", tenants)
    _check_names("source", sources)
    if Scope.READ in parsed and len(set(tenants)) != 1:
        raise ValueError("a key with events:read must hold exactly one tenant (reads are scoped to it)")
    if Scope.WRITE in parsed and not sources:
        raise ValueError("a key with events:write needs at least one --source it may write as")
    key_id = secrets.token_hex(8)
    secret = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    principal = Principal(key_id, name, frozenset(tenants), parsed, frozenset(sources))
    async with engine.connect() as connection:
        connection = await connection.execution_options(**WRITE)
        async with connection.begin():
            namesakes = select(api_keys.c.key_id, api_keys.c.tenants).where(
                api_keys.c.name == name, api_keys.c.revoked_at.is_(None)
            )
            for holder, held in await connection.execute(namesakes):
                if shared := sorted(set(held) & set(tenants)):
                    raise ValueError(
                        f"an active key named {name!r} exists already for tenant {shared[0]} "
                        f"(key {holder}): revoke it first or choose another name"
                    )
            await connection.execute(
                api_keys.insert().values(
                    key_id=key_id,
                    name=name,
                    secret_hash=_hash(secret),
                    tenants=sorted(set(tenants)),
                    scopes=sorted(parsed),
                    sources=sorted(set(sources)),
                    created_at=dt.datetime.now(dt.UTC),
                )
            )
    return principal, secret


async def authenticate(engine: AsyncEngine, secret: str) -> Principal | None:
    """The principal behind a secret, or None for an unknown or revoked key."""
    if not secret.startswith(PREFIX) or len(secret) > MAX_SECRET_LENGTH:
        return None
    statement = select(api_keys).where(api_keys.c.secret_hash == _hash(secret), api_keys.c.revoked_at.is_(None))
    async with engine.connect() as connection:
        row = (await connection.execute(statement)).first()
    if row is None:
        return None
    return Principal(
        key_id=row.key_id,
        name=row.name,
        tenants=frozenset(row.tenants),
        scopes=known_scopes(row.scopes),
        sources=frozenset(row.sources),
    )


async def list_keys(engine: AsyncEngine) -> list[tuple[Principal, dt.datetime, dt.datetime | None]]:
    """Every key with its creation and revocation time; secrets are never stored, so never listed."""
    async with engine.connect() as connection:
        rows = (await connection.execute(select(api_keys).order_by(api_keys.c.created_at))).all()
    return [
        (
            Principal(row.key_id, row.name, frozenset(row.tenants), known_scopes(row.scopes), frozenset(row.sources)),
            row.created_at,
            row.revoked_at,
        )
        for row in rows
    ]


async def revoke_key(engine: AsyncEngine, key_id: str) -> bool:
    """Revoke a key at once (the next request with it is UNAUTHENTICATED); False if no such active key."""
    async with engine.connect() as connection:
        connection = await connection.execution_options(**WRITE)
        async with connection.begin():
            result = await connection.execute(
                update(api_keys)
                .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=dt.datetime.now(dt.UTC))
            )
    return result.rowcount == 1
