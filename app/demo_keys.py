"""The demo's reader and writer keys, kept in a private file so that every ``demo`` run prints the same two.

Only a key's SHA-256 is in the database, so the secrets themselves must live
somewhere else to be shown again. They go into ``<database file>.demo-keys.json``
(for SQLite; ``<database name>.demo-keys.json`` in the working directory for
PostgreSQL), created with mode 0600 and written atomically. A stored key is
reused only while it still authenticates against this database with the demo's
rights; a missing, stale (another database) or revoked one is replaced by a new
pair. The secrets stay random: a key derived from a fixed seed would be known to
anyone who reads this code, on every database the demo ever ran against.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.keys import authenticate, create_key
from app.auth.principal import Principal, Scope

SUFFIX = ".demo-keys.json"


@dataclass(frozen=True)
class DemoKeys:
    reader: str
    writer: str


def keys_path(database_url: str) -> Path:
    """Beside the SQLite file; for a server database, in the working directory, named after the database."""
    url = make_url(database_url)
    database = url.database or ""
    if url.get_backend_name() == "sqlite" and database and database != ":memory:" and not database.startswith("file:"):
        return Path(database + SUFFIX)
    return Path(re.sub(r"[^A-Za-z0-9_.-]", "_", database or "audit") + SUFFIX)


async def demo_keys(engine: AsyncEngine, path: Path, tenant: str, sources: list[str]) -> DemoKeys:
    """The keys stored at ``path`` if they still hold the demo's rights here; otherwise a new pair, stored."""
    stored = _read(path)
    if stored is not None and await _holds(engine, stored, tenant, sources):
        return stored
    # Key names are unique among a tenant's active keys; a replaced pair may still be active, so each pair has its own.
    pair = secrets.token_hex(3)
    _, reader = await create_key(engine, name=f"demo-reader-{pair}", tenants=[tenant], scopes=[Scope.READ], sources=[])
    _, writer = await create_key(
        engine, name=f"demo-writer-{pair}", tenants=[tenant], scopes=[Scope.WRITE], sources=sources
    )
    keys = DemoKeys(reader=reader, writer=writer)
    _write(path, keys)
    return keys


async def _holds(engine: AsyncEngine, keys: DemoKeys, tenant: str, sources: list[str]) -> bool:
    reader, writer = await authenticate(engine, keys.reader), await authenticate(engine, keys.writer)
    return (
        _may(reader, Scope.READ, tenant)
        and _may(writer, Scope.WRITE, tenant)
        and writer is not None
        and set(sources) <= writer.sources
    )


def _may(principal: Principal | None, scope: Scope, tenant: str) -> bool:
    return principal is not None and scope in principal.scopes and principal.tenants == {tenant}


def _read(path: Path) -> DemoKeys | None:
    try:
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            path.chmod(0o600)  # someone loosened it: the secrets are for this user only
        data = json.loads(path.read_text())
        return DemoKeys(reader=str(data["reader"]), writer=str(data["writer"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write(path: Path, keys: DemoKeys) -> None:
    """Created 0600 from the first byte (never chmod-ed after writing), then renamed into place."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as file:
            json.dump(asdict(keys), file, indent=2)
            file.write("\n")
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
