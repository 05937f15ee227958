"""A short-lived cache of authenticated API keys, so a request does not read the key table every time.

A key that authenticated is trusted for ``AUDIT_KEY_CACHE_SECONDS`` (default 5)
in that process without asking the database again; that is the revocation
delay: ``keys revoke`` takes effect in every process within that bound. Unknown
and revoked keys are never cached (a new key works at once, and random keys
cannot fill the cache); the cache holds at most ``max_entries`` keys, by their
SHA-256, never the secret. ``0`` turns the cache off (revocation at once).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.keys import authenticate, secret_hash
from app.auth.principal import Principal


class KeyCache:
    def __init__(
        self,
        engine: AsyncEngine,
        seconds: float,
        *,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.seconds = seconds
        self.max_entries = max_entries
        self.clock = clock
        self._trusted: dict[str, tuple[Principal, float]] = {}

    async def authenticate(self, secret: str) -> Principal | None:
        if self.seconds <= 0:
            return await authenticate(self.engine, secret)
        key = secret_hash(secret)
        now = self.clock()
        found = self._trusted.get(key)
        if found is not None and found[1] > now:
            return found[0]
        principal = await authenticate(self.engine, secret)
        self._trusted.pop(key, None)
        if principal is not None:
            if len(self._trusted) >= self.max_entries:
                del self._trusted[next(iter(self._trusted))]  # the oldest entry
            self._trusted[key] = (principal, now + self.seconds)
        return principal
