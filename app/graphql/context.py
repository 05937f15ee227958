"""What every resolver can reach: the caller, their tenant-scoped reader, and this request's loaders."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.principal import Principal, Scope, require
from app.config import Settings
from app.errors import BadUserInput, LimitExceeded, SharedFailure
from app.graphql.loaders import Loaders
from app.graphql.pacing import Pacer
from app.store.read import TenantReader


@dataclass
class Context:
    engine: AsyncEngine
    settings: Settings
    principal: Principal | None
    auth_failure: Exception | None = None
    """Why the API key could not be checked (the database failed): reported, masked, by every field needing it."""

    def require(self, scope: Scope) -> Principal:
        if self.auth_failure is not None:
            raise SharedFailure(self.auth_failure)
        return require(self.principal, scope)

    @cached_property
    def reader(self) -> TenantReader:
        """The reader for the caller's one tenant; raises unless the caller may read."""
        return TenantReader(self.engine, self.require(Scope.READ).read_tenant)

    @cached_property
    def loaders(self) -> Loaders:
        return Loaders(self.reader)

    @cached_property
    def pacer(self) -> Pacer:
        return Pacer()

    def bounded(self, size: int, argument: str = "first") -> int:
        """A page size, checked against ``AUDIT_MAX_PAGE_SIZE``."""
        maximum = self.settings.max_page_size
        if size < 0:
            raise BadUserInput(f"{argument} must be between 0 and {maximum}, got {size}")
        if size > maximum:
            raise LimitExceeded(f"{argument} must be at most {maximum} (the maximum page size), got {size}")
        return size
