"""The blocking client: ``record`` queues, a background thread sends batches with retries."""

from __future__ import annotations

import threading
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


class AuditClient:
    """Records events on an audit gateway over ``POST /v1/events``.

    ``record()`` puts an event in a bounded in-memory queue and returns its eventId at
    once; a background thread sends the queue in batches of ``batch_size``, or whatever
    has waited ``flush_interval`` seconds. A batch that meets a connection error, a 5xx
    or a 429 is resent after an exponential backoff with jitter, for up to
    ``max_retry_time`` seconds (``None``: until it goes through). Resending is safe: the
    gateway answers an event it already holds as ``duplicate``, never twice.

    Overflow: when ``max_queue`` events are waiting, ``record()`` blocks for up to
    ``enqueue_timeout`` seconds for room, then raises ``QueueFull`` (the event is not
    queued). A batch the gateway refuses (4xx other than 429) or that runs out of
    retries is counted in ``stats.failed`` and handed to ``on_error``; ``flush()`` and
    ``close()`` then raise ``DeliveryFailed``. Per-event rejections (bad data) are not
    retried: they are counted in ``stats.rejected`` and kept in ``stats.rejections``.

    ``close()`` (or leaving the ``with`` block) sends everything still queued.
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
        self._http = httpx.Client(base_url=base_url, headers=headers(api_key), timeout=timeout)
        self._pending: deque[dict[str, Any]] = deque()
        self._oldest: float | None = None
        self._in_flight = 0
        self._flushing = 0
        self._closing = False
        self._failed_seen = 0
        self._lock = threading.Condition()
        self._worker = threading.Thread(target=self._run, name="audit-client", daemon=True)
        self._worker.start()

    # -- sending ------------------------------------------------------------------------

    def record(
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
        """Queue one event (``data`` is a current contract model, e.g. ``OrderPlacedData``); returns its eventId."""
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
        self.enqueue(event)
        return str(event["eventId"])

    def enqueue(self, event: dict[str, Any]) -> None:
        """Queue one ready event object (as ``POST /v1/events`` takes it); see the overflow policy above."""
        deadline = time.monotonic() + self.enqueue_timeout
        with self._lock:
            if self._closing:
                raise RuntimeError("the client is closed")
            while len(self._pending) >= self.max_queue:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise QueueFull(
                        f"{self.max_queue} events are waiting to be sent; gave up after {self.enqueue_timeout}s"
                    )
                self._lock.wait(remaining)
            if not self._pending:
                self._oldest = time.monotonic()
            self._pending.append(event)
            if len(self._pending) >= self.batch_size:
                self._lock.notify_all()

    def send(self, events: Sequence[dict[str, Any]]) -> RecordAnswer:
        """Send one batch now, bypassing the queue, with the same retries; returns the gateway's answer."""
        answer = self._post(list(events))
        self.stats.count(answer)
        return answer

    def flush(self, timeout: float | None = None) -> None:
        """Wait until everything queued so far has been answered (or given up on)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            self._flushing += 1
            self._lock.notify_all()
            try:
                while self._pending or self._in_flight:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        raise TimeoutError(f"{len(self._pending) + self._in_flight} events still unsent")
                    self._lock.wait(remaining)
            finally:
                self._flushing -= 1
            self._raise_failures()

    def close(self, timeout: float | None = None) -> None:
        """Send what is queued, stop the thread and close the connection."""
        try:
            self.flush(timeout)
        finally:
            with self._lock:
                self._closing = True
                self._lock.notify_all()
            self._worker.join(timeout)
            self._http.close()

    def __enter__(self) -> AuditClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    # -- the background thread ------------------------------------------------------------

    def _raise_failures(self) -> None:
        if self.stats.failed > self._failed_seen:
            count = self.stats.failed - self._failed_seen
            self._failed_seen = self.stats.failed
            raise DeliveryFailed(f"{count} events could not be delivered (see on_error)")

    def _take(self) -> list[dict[str, Any]] | None:
        """The next batch: full, or due by ``flush_interval``, or wanted by ``flush``; None once closed."""
        with self._lock:
            while True:
                if self._pending:
                    due = (self._oldest or 0) + self.flush_interval
                    if len(self._pending) >= self.batch_size or self._flushing or self._closing:
                        break
                    if time.monotonic() >= due:
                        break
                    self._lock.wait(due - time.monotonic())
                elif self._closing:
                    return None
                else:
                    self._lock.wait()
            batch = [self._pending.popleft() for _ in range(min(self.batch_size, len(self._pending)))]
            self._oldest = time.monotonic() if self._pending else None
            self._in_flight += len(batch)
            self._lock.notify_all()  # room in the queue
            return batch

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            try:
                answer = self._post(batch)
                self.stats.count(answer)
                if self.on_answer is not None:
                    self.on_answer(answer)
            except Exception as error:  # a refusal or no more retries: reported, never silent
                self.stats.failed += len(batch)
                if self.on_error is not None:
                    self.on_error(error, batch)
            finally:
                with self._lock:
                    self._in_flight -= len(batch)
                    self._lock.notify_all()

    def _post(self, events: list[dict[str, Any]]) -> RecordAnswer:
        started = time.monotonic()
        attempt = 0
        while True:
            retry_after = None
            try:
                response = self._http.post("/v1/events", json=events)
                answer, retry_after = judge(response)
                if answer is not None:
                    return answer
                failure: Exception = GaveUp(f"the gateway kept answering {response.status_code}")
            except httpx.TransportError as error:  # connection refused or reset, timeouts
                failure = error
            delay = self.backoff.delay(attempt, retry_after)
            if self.max_retry_time is not None and time.monotonic() - started + delay > self.max_retry_time:
                raise GaveUp(f"gave up after {attempt + 1} attempts: {failure}") from failure
            self.stats.retries += 1
            attempt += 1
            time.sleep(delay)
