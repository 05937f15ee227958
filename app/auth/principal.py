"""Who is calling, and what they may do."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from app.errors import Forbidden, Unauthenticated


class Scope(enum.StrEnum):
    WRITE = "events:write"
    READ = "events:read"
    ADMIN = "admin"


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

    def may_write(self, tenant: str, source: str) -> bool:
        return tenant in self.tenants and source in self.sources


def require(principal: Principal | None, scope: Scope) -> Principal:
    if principal is None:
        raise Unauthenticated("send a valid API key as 'Authorization: Bearer <key>'")
    if scope not in principal.scopes:
        raise Forbidden(f"this API key lacks the '{scope}' scope")
    if scope is Scope.READ and len(principal.tenants) != 1:
        raise Forbidden("a reading API key must hold exactly one tenant")
    return principal
