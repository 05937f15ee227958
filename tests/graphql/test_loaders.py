"""BatchLoader: a key whose waiter was cancelled neither breaks its round nor poisons the key."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from app.graphql.loaders import Batcher, BatchLoader


async def test_a_cancelled_waiter_does_not_break_the_round_or_the_key() -> None:
    fetched: list[list[str]] = []
    release = asyncio.Event()

    async def fetch(keys: Sequence[str]) -> list[str]:
        fetched.append(list(keys))
        await release.wait()
        return [key.upper() for key in keys]

    batcher = Batcher()
    loader = BatchLoader(batcher, fetch)
    with batcher.deferring():
        waiter = asyncio.ensure_future(loader.load("a"))  # a resolver awaiting its key, as a task
        other = loader.load("b")
    flushed = asyncio.ensure_future(batcher.flush())
    await asyncio.sleep(0)  # the round is fetching
    waiter.cancel()  # cancels the future it awaits, as graphql-core dropping the rest of a failed list does
    await asyncio.sleep(0)
    release.set()
    await flushed  # raised InvalidStateError before: a result set on the cancelled future
    assert await other == "B"
    with pytest.raises(asyncio.CancelledError):
        await waiter
    with batcher.deferring():
        again = loader.load("a")  # a live future, fetched in the next round: not the cancelled one
    await batcher.flush()
    assert await again == "A" and fetched == [["a", "b"], ["a"]]
