"""Per-request DataLoaders: one SQL statement per field and nesting level, whatever the page size."""

from __future__ import annotations

from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from app.store.read import TenantReader
from app.store.records import EventRecord

LimitedKey = tuple[str, int]
"""(id, how many events at most)."""


class Loaders:
    def __init__(self, reader: TenantReader) -> None:
        self.reader = reader
        self.by_event_id = DataLoader[str, EventRecord | None](self._by_event_id)
        self.by_sequence = DataLoader[int, EventRecord | None](self._by_sequence)
        self.effects = DataLoader[LimitedKey, list[EventRecord]](self._effects)
        self.correlated = DataLoader[LimitedKey, list[EventRecord]](self._correlated)

    async def _by_event_id(self, keys: Sequence[str]) -> list[EventRecord | None]:
        found = await self.reader.by_event_ids(keys)
        return [found.get(key) for key in keys]

    async def _by_sequence(self, keys: Sequence[int]) -> list[EventRecord | None]:
        found = await self.reader.by_sequences(keys)
        return [found.get(key) for key in keys]

    async def _effects(self, keys: Sequence[LimitedKey]) -> list[list[EventRecord]]:
        # One statement for the widest limit asked for; each key takes its own share.
        found = await self.reader.effects([event_id for event_id, _ in keys], max(limit for _, limit in keys))
        return [found[event_id][:limit] for event_id, limit in keys]

    async def _correlated(self, keys: Sequence[LimitedKey]) -> list[list[EventRecord]]:
        found = await self.reader.by_correlation([cid for cid, _ in keys], max(limit for _, limit in keys))
        return [found[cid][:limit] for cid, limit in keys]
