"""Heavy responses share the event loop: a request does a bounded amount of work per loop turn.

Turning rows into event objects is the CPU-heavy part of a large response
(``correlated(first: 500)`` under a page of 500 is 250,000 of them). Every
resolver that builds events spends from its request's ``Pacer``; once a turn's
budget is spent, the resolver waits for the next turn, so ``/healthz`` and
other requests get the loop between slices instead of after the whole response.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from typing import TypeVar

EVENTS_PER_TURN = 500
SLICE = 50

T = TypeVar("T")
U = TypeVar("U")


class Pacer:
    """Books work against a budget per event-loop turn; past it, callers queue (in order) for later turns."""

    def __init__(self, budget: int = EVENTS_PER_TURN) -> None:
        self.budget = budget
        self.used = 0
        self._queue: deque[tuple[asyncio.Future[None], int]] = deque()
        self._turn_scheduled = False

    def book(self, units: int) -> bool:
        """``spend`` without waiting, where the turn's budget allows it (``spend``'s own first step); False: the
        caller awaits ``spend``. A caller booking per item saves a coroutine per item."""
        if not self._queue and self.used < self.budget:
            self.used += units
            return True
        return False

    async def spend(self, units: int) -> None:
        if self.book(units):
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._queue.append((waiter, units))
        if not self._turn_scheduled:
            self._turn_scheduled = True
            loop.call_soon(self._next_turn)
        await waiter

    def _next_turn(self) -> None:
        """A new turn: wake queued callers, oldest first, until the turn's budget is booked."""
        self._turn_scheduled = False
        self.used = 0
        while self._queue and self.used < self.budget:
            waiter, units = self._queue.popleft()
            if not waiter.done():  # a cancelled request leaves cancelled waiters behind
                self.used += units
                waiter.set_result(None)
        if self._queue:
            self._turn_scheduled = True
            asyncio.get_running_loop().call_soon(self._next_turn)


async def paced(pacer: Pacer, items: Sequence[T], convert: Callable[[T], U]) -> list[U]:
    """``convert`` applied to every item (e.g. ``to_event``), a slice at a time within the request's budget."""
    found: list[U] = []
    for start in range(0, len(items), SLICE):
        part = items[start : start + SLICE]
        await pacer.spend(len(part))
        found += [convert(item) for item in part]
    return found
