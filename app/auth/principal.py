"""Who is calling, and what they may do."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from app.errors import Forbidden, Unauthenticated


class Scope(enum.StrEnum):
    WRITE = "events:write"
    READ = "events:read"


def known_scopes(stored: Iterable[str]) -> frozenset[Scope]:
    """The scopes of a stored key that this version knows; an unknown one (such as the retired ``admin``,
    which no check ever read) grants nothing rather than locking the key out."""
    known = {scope.value for scope in Scope}
    return frozenset(Scope(s) for s in stored if s in known)


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    name: str
    tenants: frozenset[str]
    scopes: frozenset[Scope]
    sources: frozenset[str]

    @property
    def read_tenant(self) -> str:
        """The one tenant a reading key reads; every read is scoped to it."""
        (tenant,) = self.tenants
        return tenant


def require(principal: Principal | None, scope: Scope) -> Principal:
    if principal is None:
        raise Unauthenticated("send a valid API key as 'Authorization: Bearer <key>'")
    if scope not in principal.scopes:
        raise Forbidden(f"this API key lacks the '{scope}' scope")
    if scope is Scope.READ and len(principal.tenants) != 1:
        raise Forbidden("a reading API key must hold exactly one tenant")
    return principal
