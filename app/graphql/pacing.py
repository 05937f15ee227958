"""Heavy responses share the event loop: a request does a bounded amount of work per loop turn.

Turning rows into event objects is the CPU-heavy part of a large response
(``correlated(first: 500)`` under a page of 500 is 250,000 of them). Every
resolver that builds events spends from its request's ``Pacer``; once a turn's
budget is spent, the resolver waits for the next turn, so ``/healthz`` and
other requests get the loop between slices instead of after the whole response.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TypeVar

EVENTS_PER_TURN = 500
SLICE = 50

T = TypeVar("T")
U = TypeVar("U")


class Pacer:
    def __init__(self, budget: int = EVENTS_PER_TURN) -> None:
        self.budget = budget
        self.used = 0
        self._turn: asyncio.Future[None] | None = None

    async def spend(self, units: int) -> None:
        """Waits for a later loop turn while this turn's budget is spent, then books ``units``."""
        while self.used >= self.budget:
            if self._turn is None:
                loop = asyncio.get_running_loop()
                self._turn = loop.create_future()
                loop.call_soon(self._next_turn)
            await self._turn
        self.used += units

    def _next_turn(self) -> None:
        self.used = 0
        turn, self._turn = self._turn, None
        if turn is not None and not turn.done():
            turn.set_result(None)


async def paced(pacer: Pacer, items: Sequence[T], convert: Callable[[T], U]) -> list[U]:
    """``convert`` applied to every item (e.g. ``to_event``), a slice at a time within the request's budget."""
    found: list[U] = []
    for start in range(0, len(items), SLICE):
        part = items[start : start + SLICE]
        await pacer.spend(len(part))
        found += [convert(item) for item in part]
    return found
