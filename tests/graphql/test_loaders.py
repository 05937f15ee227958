"""BatchLoader: a waiter that is cancelled cancels only itself, never its round or another waiter of its key."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from app.errors import SharedFailure
from app.graphql.loaders import Batcher, BatchLoader


@dataclass
class Held:
    """A loader whose fetch records the keys of each round and answers (or fails) once ``release`` is set."""

    batcher: Batcher
    loader: BatchLoader[str, str]
    fetched: list[list[str]]
    release: asyncio.Event


def _held(*, fail: bool = False) -> Held:
    fetched: list[list[str]] = []
    release = asyncio.Event()

    async def fetch(keys: Sequence[str]) -> list[str]:
        fetched.append(list(keys))
        await release.wait()
        if fail:
            raise RuntimeError("the database went away")
        return [key.upper() for key in keys]

    batcher = Batcher()
    return Held(batcher, BatchLoader(batcher, fetch), fetched, release)


async def test_a_cancelled_waiter_does_not_break_the_round_or_the_key() -> None:
    held = _held()
    batcher, loader, fetched, release = held.batcher, held.loader, held.fetched, held.release
    with batcher.deferring():
        waiter = asyncio.ensure_future(loader.load("a"))  # a resolver awaiting its key, as a task
        other = loader.load("b")
    flushed = asyncio.ensure_future(batcher.flush())
    await asyncio.sleep(0)  # the round is fetching
    waiter.cancel()  # as graphql-core dropping the rest of a failed list does
    await asyncio.sleep(0)
    release.set()
    await flushed  # raised InvalidStateError once: a result set on a cancelled future
    assert await other == "B"
    with pytest.raises(asyncio.CancelledError):
        await waiter
    again = loader.load("a")  # the key's answer was kept: no second statement
    assert again.done() and await again == "A" and fetched == [["a", "b"]]


async def test_a_cancelled_waiter_leaves_the_other_waiters_of_its_key_their_answer() -> None:
    held = _held()
    batcher, loader, fetched, release = held.batcher, held.loader, held.fetched, held.release
    with batcher.deferring():
        dropped = asyncio.ensure_future(loader.load("a"))  # one field of the request, in a list that failed
        kept = asyncio.ensure_future(loader.load("a"))  # another field asking for the same event
    flushed = asyncio.ensure_future(batcher.flush())
    await asyncio.sleep(0)
    dropped.cancel()
    await asyncio.sleep(0)
    release.set()
    await flushed
    assert await kept == "A"  # was CancelledError: both waited on one future, which the first cancelled
    assert dropped.cancelled() and fetched == [["a"]]


async def test_a_failed_round_fails_every_live_waiter_and_warns_of_none() -> None:
    held = _held(fail=True)
    batcher, loader, release = held.batcher, held.loader, held.release
    unretrieved: list[dict[str, object]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _, context: unretrieved.append(context))
    with batcher.deferring():
        dropped = asyncio.ensure_future(loader.load("a"))
        kept = asyncio.ensure_future(loader.load("a"))
    flushed = asyncio.ensure_future(batcher.flush())
    await asyncio.sleep(0)
    dropped.cancel()
    release.set()
    await flushed
    with pytest.raises(SharedFailure):
        await kept
    del dropped, kept
    gc.collect()
    await asyncio.sleep(0)
    assert unretrieved == []  # the cancelled waiter's share of the failure is not left "never retrieved"
