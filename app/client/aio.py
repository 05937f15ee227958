"""The asyncio client: the same queue, batching, retries and overflow policy as ``AuditClient``, as a task."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

import httpx

from app.client.delivery import DEFAULT_BACKOFF, Backoff, DeliveryFailed, GaveUp, QueueFull, Stats, headers, judge
from app.client.events import build_event
from app.contracts.envelope import Actor, Outcome, Target
from app.contracts.values import ContractModel
from app.http.wire import RecordAnswer

ErrorHandler = Callable[[Exception, list[dict[str, Any]]], None]
AnswerHandler = Callable[[RecordAnswer], None]


class AsyncAuditClient:
    """``AuditClient`` for asyncio code (see its docstring for batching, retries and the overflow policy).

    Use ``async with AsyncAuditClient(...) as client:`` or call ``start()`` and ``await close()``;
    the sending task runs on the loop that starts it.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        batch_size: int = 200,
        flush_interval: float = 1.0,
        max_queue: int = 10_000,
        enqueue_timeout: float = 5.0,
        max_retry_time: float | None = 300.0,
        timeout: float = 30.0,
        backoff: Backoff = DEFAULT_BACKOFF,
        on_error: ErrorHandler | None = None,
        on_answer: AnswerHandler | None = None,
    ) -> None:
        if batch_size < 1 or max_queue < batch_size:
            raise ValueError("need 1 <= batch_size <= max_queue")
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_queue = max_queue
        self.enqueue_timeout = enqueue_timeout
        self.max_retry_time = max_retry_time
        self.backoff = backoff
        self.on_error = on_error
        self.on_answer = on_answer
        self.stats = Stats()
        self._http = httpx.AsyncClient(base_url=base_url, headers=headers(api_key), timeout=timeout)
        self._pending: deque[dict[str, Any]] = deque()
        self._oldest: float | None = None
        self._in_flight = 0
        self._flushing = 0
        self._closing = False
        self._failed_seen = 0
        self._changed = asyncio.Condition()
        self._worker: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._run(), name="audit-client")

    async def record(
        self,
        data: ContractModel,
        *,
        source: str,
        actor: Actor,
        event_id: str | None = None,
        occurred_at: Any = None,
        target: Target | None = None,
        outcome: Outcome = Outcome.SUCCESS,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        traceparent: str | None = None,
        tenant: str | None = None,
    ) -> str:
        """Queue one event (``data`` is a current contract model); returns its eventId."""
        event = build_event(
            data,
            source=source,
            actor=actor,
            event_id=event_id,
            occurred_at=occurred_at,
            target=target,
            outcome=outcome,
            correlation_id=correlation_id,
            causation_id=causation_id,
            traceparent=traceparent,
            tenant=tenant,
        )
        await self.enqueue(event)
        return str(event["eventId"])

    async def enqueue(self, event: dict[str, Any]) -> None:
        """Queue one ready event object; waits up to ``enqueue_timeout`` for room, then ``QueueFull``."""
        self.start()
        async with self._changed:
            if self._closing:
                raise RuntimeError("the client is closed")
            try:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: len(self._pending) < self.max_queue), self.enqueue_timeout
                )
            except TimeoutError:
                raise QueueFull(
                    f"{self.max_queue} events are waiting to be sent; gave up after {self.enqueue_timeout}s"
                ) from None
            if not self._pending:
                self._oldest = time.monotonic()
            self._pending.append(event)
            if len(self._pending) >= self.batch_size:
                self._changed.notify_all()

    async def send(self, events: Sequence[dict[str, Any]]) -> RecordAnswer:
        """Send one batch now, bypassing the queue, with the same retries."""
        answer = await self._post(list(events))
        self.stats.count(answer)
        return answer

    async def flush(self, timeout: float | None = None) -> None:
        """Wait until everything queued so far has been answered (or given up on)."""
        if self._worker is None:
            return
        async with self._changed:
            self._flushing += 1
            self._changed.notify_all()
            try:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: not self._pending and not self._in_flight), timeout
                )
            finally:
                self._flushing -= 1
        if self.stats.failed > self._failed_seen:
            count = self.stats.failed - self._failed_seen
            self._failed_seen = self.stats.failed
            raise DeliveryFailed(f"{count} events could not be delivered (see on_error)")

    async def close(self, timeout: float | None = None) -> None:
        """Send what is queued, stop the task and close the connection."""
        try:
            await self.flush(timeout)
        finally:
            async with self._changed:
                self._closing = True
                self._changed.notify_all()
            if self._worker is not None:
                await self._worker
            await self._http.aclose()

    async def __aenter__(self) -> AsyncAuditClient:
        self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.close()

    async def _take(self) -> list[dict[str, Any]] | None:
        async with self._changed:
            while True:
                if self._pending:
                    if len(self._pending) >= self.batch_size or self._flushing or self._closing:
                        break
                    due = (self._oldest or 0) + self.flush_interval
                    if time.monotonic() >= due:
                        break
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), due - time.monotonic())
                elif self._closing:
                    return None
                else:
                    await self._changed.wait()
            batch = [self._pending.popleft() for _ in range(min(self.batch_size, len(self._pending)))]
            self._oldest = time.monotonic() if self._pending else None
            self._in_flight += len(batch)
            self._changed.notify_all()
            return batch

    async def _run(self) -> None:
        while (batch := await self._take()) is not None:
            try:
                answer = await self._post(batch)
                self.stats.count(answer)
                if self.on_answer is not None:
                    self.on_answer(answer)
            except Exception as error:  # a refusal or no more retries: reported, never silent
                self.stats.failed += len(batch)
                if self.on_error is not None:
                    self.on_error(error, batch)
            finally:
                async with self._changed:
                    self._in_flight -= len(batch)
                    self._changed.notify_all()

    async def _post(self, events: list[dict[str, Any]]) -> RecordAnswer:
        started = time.monotonic()
        attempt = 0
        while True:
            retry_after = None
            try:
                response = await self._http.post("/v1/events", json=events)
                answer, retry_after = judge(response)
                if answer is not None:
                    return answer
                failure: Exception = GaveUp(f"the gateway kept answering {response.status_code}")
            except httpx.TransportError as error:
                failure = error
            delay = self.backoff.delay(attempt, retry_after)
            if self.max_retry_time is not None and time.monotonic() - started + delay > self.max_retry_time:
                raise GaveUp(f"gave up after {attempt + 1} attempts: {failure}") from failure
            self.stats.retries += 1
            attempt += 1
            await asyncio.sleep(delay)
