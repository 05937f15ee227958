"""Per-request batch loaders: one SQL statement per field and nesting level, whatever the page size.

Strawberry's DataLoader batches the keys asked for within one event-loop tick.
Here sibling fields (``causedBy``, ``effects``, ``correlated``) finish their
queries at different moments, so their children's keys would arrive in
separate ticks and split one level into several statements. The ``Batcher``
runs the loaders of a request in rounds instead: it lets resolvers settle,
runs every loader that has keys, waits for all of them, and only then starts
the next round — so each nesting level is one statement per field.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from typing import Generic, Protocol, TypeVar

from app.errors import SharedFailure
from app.request_guard import track
from app.store.read import CauseKey, CauseRef, TenantReader
from app.store.records import EventRecord

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

SETTLE_HOPS = 25
"""Event-loop turns given to resolvers to ask for their keys before a round runs (no I/O is pending then)."""


class _Runs(Protocol):
    """What the batcher needs of a loader, whatever its key and value types."""

    async def run(self) -> None: ...


ROUNDS: Counter[str] = Counter()
"""Rounds tasks ``started`` (a compiled level, which flushes itself, starts none: tests count them)."""


class Batcher:
    def __init__(self) -> None:
        self._waiting: set[_Runs] = set()
        self._rounds: asyncio.Task[None] | None = None
        self._deferred = False

    def wake(self, loader: _Runs) -> None:
        self._waiting.add(loader)
        if self._rounds is None and not self._deferred:
            ROUNDS["started"] += 1
            self._rounds = track(asyncio.get_running_loop().create_task(self._run_rounds()))

    @contextmanager
    def deferring(self) -> Iterator[None]:
        """Within the block, keys asked for start no rounds task: the caller ``flush``es right after it.

        For a caller that asks for every key of a level at once (``Run.levels``); a rounds task would only
        find its loaders already run (a task, a tracking callback and a loop turn per level, for nothing).
        """
        self._deferred = True
        try:
            yield
        finally:
            self._deferred = False

    async def flush(self) -> None:
        """Run the loaders that have keys now, as one round: for a caller that asked for all its keys at once."""
        while self._waiting:
            loaders, self._waiting = self._waiting, set()
            if len(loaders) == 1:
                (loader,) = loaders
                await loader.run()  # one loader: no task for gather to wrap it in
            else:
                await asyncio.gather(*(loader.run() for loader in loaders))

    async def _run_rounds(self) -> None:
        try:
            while self._waiting:
                for _ in range(SETTLE_HOPS):
                    await asyncio.sleep(0)
                loaders, self._waiting = self._waiting, set()
                await asyncio.gather(*(loader.run() for loader in loaders))
        finally:
            self._rounds = None


class BatchLoader(Generic[K, V]):
    """Caches per key for the request; ``fetch`` gets every key of a round at once, in order."""

    def __init__(self, batcher: Batcher, fetch: Callable[[Sequence[K]], Awaitable[Sequence[V]]]) -> None:
        self._batcher = batcher
        self._fetch = fetch
        self._cache: dict[K, asyncio.Future[V]] = {}
        self._pending: dict[K, asyncio.Future[V]] = {}

    def load(self, key: K) -> asyncio.Future[V]:
        """What ``key`` loads: the value once its round ran.

        Every waiter of a key gets its own future (``asyncio.shield``) over the one the round completes: a
        waiter that is cancelled (graphql-core drops the rest of a list whose item failed) cancels only its
        own, not the answer other fields of the request are still waiting for. A key already loaded (or
        primed) gives its done future itself.
        """
        future = self._cache.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._cache[key] = self._pending[key] = future
            self._batcher.wake(self)
        return asyncio.shield(future)

    def prime(self, key: K, value: V) -> None:
        """Holds ``value`` as what ``key`` loads (one another statement already read), unless the key was asked for."""
        if key not in self._cache:
            future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
            future.set_result(value)
            self._cache[key] = future

    async def run(self) -> None:
        pending, self._pending = self._pending, {}
        try:
            values = await self._fetch(list(pending))
        except Exception as error:
            for future in pending.values():
                future.set_exception(SharedFailure(error))
            return
        for future, value in zip(pending.values(), values, strict=True):
            future.set_result(value)


LimitedKey = tuple[str, int]
"""(id, how many events at most)."""

EffectsKey = tuple[CauseRef, int]
"""(the cause as (eventId, source, sequence), how many of its effects at most)."""


class Loaders:
    """A request's loaders, each made when first used (a page with ``causedBy`` needs one of the five)."""

    def __init__(self, reader: TenantReader) -> None:
        self.reader = reader
        self.batcher = Batcher()

    @cached_property
    def by_event_id(self) -> BatchLoader[str, EventRecord | None]:
        return BatchLoader(self.batcher, self._by_event_id)

    @cached_property
    def cause(self) -> BatchLoader[CauseKey, EventRecord | None]:
        return BatchLoader(self.batcher, self._cause)

    @cached_property
    def by_sequence(self) -> BatchLoader[int, EventRecord | None]:
        return BatchLoader(self.batcher, self._by_sequence)

    @cached_property
    def effects(self) -> BatchLoader[EffectsKey, list[EventRecord]]:
        return BatchLoader(self.batcher, self._effects)

    @cached_property
    def correlated(self) -> BatchLoader[LimitedKey, list[EventRecord]]:
        return BatchLoader(self.batcher, self._correlated)

    async def _by_event_id(self, keys: Sequence[str]) -> list[EventRecord | None]:
        found = await self.reader.by_event_ids(keys)
        return [found.get(key) for key in keys]

    async def _cause(self, keys: Sequence[CauseKey]) -> list[EventRecord | None]:
        found = await self.reader.causes(keys)
        return [found.get(key) for key in keys]

    async def _by_sequence(self, keys: Sequence[int]) -> list[EventRecord | None]:
        found = await self.reader.by_sequences(keys)
        return [found.get(key) for key in keys]

    async def _effects(self, keys: Sequence[EffectsKey]) -> list[list[EventRecord]]:
        # One statement for the widest limit asked for; each key takes its own share.
        found = await self.reader.effects_of([cause for cause, _ in keys], max(limit for _, limit in keys))
        return [found[cause][:limit] for cause, limit in keys]

    async def _correlated(self, keys: Sequence[LimitedKey]) -> list[list[EventRecord]]:
        found = await self.reader.by_correlation([cid for cid, _ in keys], max(limit for _, limit in keys))
        return [found[cid][:limit] for cid, limit in keys]
