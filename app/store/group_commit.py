"""Group commit: appends that arrive while one is in flight go to the store together, in one transaction.

Each append of a tenant takes the tenant's chain-head lock and ends with a COMMIT (an fsync): concurrent
requests of one process used to queue behind each other's lock and fsync one by one. Here each process
keeps at most ``IN_FLIGHT`` append calls in flight per engine; batches that arrive meanwhile wait in a queue,
and when a call returns, the queue (up to ``MAX_EVENTS`` events and ``MAX_BYTES`` of event data) goes into
ONE call of the append path. Each requester gets exactly its own results back.

- Semantics: the combined batch is the queued batches concatenated in arrival order, so a key repeated across
  them behaves as a repeat within one batch (the first occurrence is accepted, later ones are ``Duplicate``
  or ``Conflict`` against it), exactly as running the batches one after another would. Two calls in flight
  at once are two concurrent transactions, as two requests were. Results come back after the call returned,
  i.e. after its COMMIT.
- Failure isolation: when a combined call fails, each of its batches is appended again alone, in order, and
  gets its own result or error: no batch fails because of another's events. A lone batch fails as before.
- Cancellation: the call runs in this module's own task, which belongs to no request (no request's
  deadline or disconnect reaches it; only the statement timeout does). A requester that goes away stops
  waiting; if its batch had not gone out yet, it is dropped.

``FLUSHES`` counts what happened, per process (README, "Operating it").
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import datetime as dt
import json
import logging
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from app.store.records import NewEvent

logger = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
Run = Callable[[AsyncEngine, Sequence[NewEvent], Clock | None], Awaitable[list[Any]]]
"""The append path the coalescer feeds: one call, one transaction, one result per event given, in order."""

IN_FLIGHT = 2
"""Calls of the append path in flight per engine and process. With one, the Python work around each call
(preparing the combined batch, reading its answer) would leave the database idle; with two, the next call is
prepared while the previous one runs, and queues behind its head locks in the database. Batches in one call
behave as one after another in arrival order; two calls in flight at once, as two concurrent requests."""
MAX_EVENTS = 5000
"""Events per combined call at most (a batch larger than this on its own still goes, alone)."""
MAX_BYTES = 8 * 1024 * 1024
"""Estimated bytes per combined call at most: each event's ``data`` as JSON plus ``EVENT_OVERHEAD``."""
EVENT_OVERHEAD = 512
"""What an event's envelope columns add to its estimated size (its ids, names and times)."""

FLUSHES: collections.Counter[str] = collections.Counter()
"""Per process: ``flushes`` (calls of the append path), ``batches`` and ``events`` they carried, ``combined``
(flushes of more than one batch), ``retried`` (combined calls that failed, their batches then appended one by
one), ``dropped`` (batches whose requester went away before their call started), ``off`` (batches appended alone
because group commit is off for their engine)."""
BATCHES_PER_FLUSH: collections.Counter[int] = collections.Counter()
"""Per process: how many flushes carried 1, 2, 3, … batches."""


@dataclass(eq=False, slots=True)
class _Pending:
    batch: Sequence[NewEvent]
    answer: asyncio.Future[list[Any]]
    size: int | None = None

    def bytes(self) -> int:
        """The batch's estimated size; computed only when the batch is a candidate for combining."""
        if self.size is None:
            self.size = sum(len(_json(event.data)) + EVENT_OVERHEAD for event in self.batch)
        return self.size


@dataclass(eq=False)
class GroupCommit:
    """The queue and the flushers of one engine (and append path and clock) in one event loop."""

    engine: weakref.ref[AsyncEngine]
    run: Run
    clock: Clock | None
    loop: asyncio.AbstractEventLoop
    queue: collections.deque[_Pending] = field(default_factory=collections.deque)
    flushers: set[asyncio.Task[None]] = field(default_factory=set)

    async def submit(self, batch: Sequence[NewEvent]) -> list[Any]:
        """Queue the batch, start a flusher if fewer than ``IN_FLIGHT`` run, wait for this batch's results."""
        pending = _Pending(batch, self.loop.create_future())
        self.queue.append(pending)
        if len(self.flushers) < IN_FLIGHT:
            # A context of its own: the shared call belongs to no request (app.request_guard.current() is None
            # there, so no request's deadline interrupts its statements; the statement timeout still does).
            # It takes from the queue once it runs: batches queued in the same turn of the loop go together.
            self.flushers.add(self.loop.create_task(self._drain(), context=contextvars.Context()))
        # Cancelling this requester cancels ``answer`` only, never the flusher's call.
        return await pending.answer

    async def _drain(self) -> None:
        try:
            while self.queue:
                await self._flush(self._take())
        except BaseException:
            while self.queue:  # only when this task itself was cancelled (its loop is closing)
                self.queue.popleft().answer.cancel()
            raise
        finally:
            # In the same step as the last look at the queue: a batch queued later starts a flusher of its own.
            self.flushers.discard(asyncio.current_task())

    def _take(self) -> list[_Pending]:
        """The next flush: queued batches in arrival order, within the bounds (the first one always)."""
        taken: list[_Pending] = []
        events = size = 0
        while self.queue:
            pending = self.queue[0]
            if pending.answer.done():  # its requester went away before the call: nobody waits for it
                self.queue.popleft()
                FLUSHES["dropped"] += 1
                continue
            if taken:
                if len(taken) == 1:
                    size = taken[0].bytes()
                if events + len(pending.batch) > MAX_EVENTS or size + pending.bytes() > MAX_BYTES:
                    break
                size += pending.bytes()
            self.queue.popleft()
            taken.append(pending)
            events += len(pending.batch)
        return taken

    async def _flush(self, taken: list[_Pending]) -> None:
        if not taken:
            return
        FLUSHES["flushes"] += 1
        FLUSHES["batches"] += len(taken)
        FLUSHES["events"] += sum(len(pending.batch) for pending in taken)
        BATCHES_PER_FLUSH[len(taken)] += 1
        try:
            if len(taken) == 1:
                await self._alone(taken[0])
            else:
                FLUSHES["combined"] += 1
                await self._combined(taken)
        except BaseException:  # this task was cancelled (the loop is closing): nobody is left to answer them
            for pending in taken:
                pending.answer.cancel()
            raise

    async def _combined(self, taken: list[_Pending]) -> None:
        combined = [event for pending in taken for event in pending.batch]
        try:
            results = await self._run(combined)
            if len(results) != len(combined):
                raise RuntimeError(f"the append path answered {len(results)} results for {len(combined)} events")
        except Exception as error:
            FLUSHES["retried"] += 1
            logger.warning(
                "a combined append of %d batches (%d events) failed (%s): appending each batch alone",
                len(taken),
                len(combined),
                type(error).__name__,
            )
            for pending in taken:
                if not pending.answer.done():
                    await self._alone(pending)
            return
        start = 0
        for pending in taken:
            end = start + len(pending.batch)
            if not pending.answer.done():
                pending.answer.set_result(results[start:end])
            start = end

    async def _alone(self, pending: _Pending) -> None:
        try:
            results = await self._run(pending.batch)
        except Exception as error:
            if not pending.answer.done():
                pending.answer.set_exception(error)
            return
        if not pending.answer.done():
            pending.answer.set_result(results)

    async def _run(self, batch: Sequence[NewEvent]) -> list[Any]:
        engine = self.engine()
        if engine is None:  # cannot happen while a requester waits (it holds the engine); say so if it does
            raise RuntimeError("the engine of a queued append is gone")
        return await self.run(engine, batch, self.clock)


_GROUPS: weakref.WeakKeyDictionary[AsyncEngine, dict[tuple[Run, Clock | None], GroupCommit]] = (
    weakref.WeakKeyDictionary()
)


_OFF: weakref.WeakSet[AsyncEngine] = weakref.WeakSet()


def switch_off(engine: AsyncEngine) -> None:
    """Every append to ``engine`` goes out alone, as its own call (``AUDIT_GROUP_COMMIT=false``)."""
    _OFF.add(engine)


async def submit(engine: AsyncEngine, batch: Sequence[NewEvent], clock: Clock | None, run: Run) -> list[Any]:
    """Append ``batch`` through ``run``, together with whatever else this process appends to ``engine`` meanwhile.

    Batches are combined only with batches of the same engine, append path and clock (tests fix the clock).
    """
    if engine in _OFF:
        FLUSHES["off"] += 1
        return await run(engine, batch, clock)
    loop = asyncio.get_running_loop()
    groups = _GROUPS.setdefault(engine, {})
    group = groups.get((run, clock))
    if group is None or group.loop is not loop:
        group = groups[(run, clock)] = GroupCommit(weakref.ref(engine), run, clock, loop)
    return await group.submit(batch)


def _json(data: object) -> bytes:
    try:
        return orjson.dumps(data)
    except TypeError:  # an integer wider than 64 bits
        return json.dumps(data).encode()
