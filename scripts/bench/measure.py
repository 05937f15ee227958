"""Timing loops, bounded in count and in time, and the small helpers every measurement shares."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx


def log(message: str) -> None:
    """A progress line: every step of a run says what it is doing."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))]


@dataclass
class Timing:
    latencies: list[float]
    elapsed: float

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies) * 1000 if self.latencies else 0.0

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies, 0.99) * 1000 if self.latencies else 0.0


async def sequential(call: Callable[[], Awaitable[object]], count: int, seconds: float) -> Timing:
    latencies: list[float] = []
    started = time.perf_counter()
    deadline = started + seconds
    while len(latencies) < count and time.perf_counter() < deadline:
        begun = time.perf_counter()
        await call()
        latencies.append(time.perf_counter() - begun)
    return Timing(latencies, time.perf_counter() - started)


async def interleaved(
    calls: dict[str, Callable[[], Awaitable[object]]], rounds: int, seconds: float
) -> dict[str, Timing]:
    """Sequential calls in rounds, each call once per round: slow drifts of a noisy machine hit all alike.

    A timing's ``elapsed`` is the sum of its own latencies, so its rate is that of one sequential client.
    """
    latencies: dict[str, list[float]] = {name: [] for name in calls}
    deadline = time.perf_counter() + seconds
    for _ in range(rounds):
        if time.perf_counter() >= deadline:
            break
        for name, call in calls.items():
            begun = time.perf_counter()
            await call()
            latencies[name].append(time.perf_counter() - begun)
    return {name: Timing(values, sum(values)) for name, values in latencies.items()}


async def concurrent(call: Callable[[], Awaitable[object]], clients: int, seconds: float, count: int) -> Timing:
    """``clients`` tasks calling in a loop until ``count`` calls were issued or ``seconds`` passed."""
    latencies: list[float] = []
    issued = [0]
    started = time.perf_counter()
    deadline = started + seconds

    async def client() -> None:
        while issued[0] < count and time.perf_counter() < deadline:
            issued[0] += 1
            begun = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - begun)

    await asyncio.gather(*(client() for _ in range(clients)))
    return Timing(latencies, time.perf_counter() - started)


def graphql_data(response: httpx.Response) -> dict[str, Any]:
    """The ``data`` of a GraphQL response; any error stops the run (a benchmark of errors measures nothing)."""
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(f"GraphQL errors: {body['errors'][:2]}")
    data: dict[str, Any] = body["data"]
    return data


class StatementCounter:
    """A ``before_cursor_execute`` listener counting SQL statements (``BEGIN`` excluded)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement != "BEGIN" and not statement.startswith("BEGIN "):
            self.count += 1
