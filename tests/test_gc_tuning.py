"""A serving process freezes its start-up heap and raises the collector's first threshold, once (app/gc_tuning.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from app import gc_tuning
from app.config import Settings
from tests.helpers import Api, graphql, order_placed, uid

RECORD_COUNTS = "mutation($events: [RecordEventInput!]!) { recordEvents(events: $events) { acceptedCount } }"


@pytest.fixture
def untouched() -> Iterator[None]:
    """The collector as this test process had it, restored afterwards."""
    thresholds, tuned = gc.get_threshold(), list(gc_tuning.TUNED)
    gc_tuning.TUNED.clear()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    gc_tuning.TUNED[:] = tuned


def test_zero_leaves_the_collector_alone(untouched: None) -> None:
    before = gc.get_threshold()
    gc_tuning.tune_collector(0)
    assert gc.get_threshold() == before
    assert gc_tuning.TUNED == []


def test_tuning_freezes_and_raises_the_first_threshold_once(untouched: None) -> None:
    _, second, third = gc.get_threshold()
    gc_tuning.tune_collector(12_345)
    assert gc.get_threshold() == (12_345, second, third)
    assert gc.get_freeze_count() > 0
    gc_tuning.tune_collector(999)  # a second app in the same process: the first setting stays
    assert gc.get_threshold()[0] == 12_345


def test_the_setting_defaults_to_a_raised_threshold() -> None:
    assert Settings(database_url="sqlite+aiosqlite://").gc_threshold == 200_000


async def test_a_largest_batch_triggers_no_collection_at_the_default(untouched: None, api: Api) -> None:
    """The first generation counts container objects allocated minus freed: a ``recordEvents`` request of the
    largest batch holds tens of thousands at its peak. At the default threshold it runs without a collection
    (each one would traverse all it holds); at the old default, 20,000, the same request triggered some."""
    batch = [order_placed() for _ in range(Settings(database_url="sqlite+aiosqlite://").max_batch_size)]
    runs: list[int] = []

    def counted(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            runs.append(info["generation"])

    for threshold, collections in (
        (20_000, "some"),
        (Settings(database_url="sqlite+aiosqlite://").gc_threshold, "none"),
    ):
        gc.set_threshold(threshold, *gc.get_threshold()[1:])
        for event in batch:
            event["eventId"] = uid()
        gc.collect()  # every generation's count starts at zero
        runs.clear()
        gc.callbacks.append(counted)
        try:
            body = await graphql(api, RECORD_COUNTS, {"events": batch})
        finally:
            gc.callbacks.remove(counted)
        assert body["data"]["recordEvents"]["acceptedCount"] == len(batch), body
        assert (runs == []) == (collections == "none"), (threshold, runs)
