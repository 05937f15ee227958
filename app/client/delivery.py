"""What the sync and async clients share: retry policy, how an answer is judged, counters, errors."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import httpx

from app.http.wire import ItemResult, RecordAnswer

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class ClientError(Exception):
    """Base of the client's errors."""


class QueueFull(ClientError):
    """The queue stayed full for ``enqueue_timeout`` seconds: the gateway is not keeping up or is down."""


class Refused(ClientError):
    """The gateway refused the request itself (400, 401, 403, 413, 415): retrying cannot help."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"the gateway answered {status}: {body[:500]}")
        self.status = status
        self.body = body


class GaveUp(ClientError):
    """Every retry failed for ``max_retry_time`` seconds."""


class DeliveryFailed(ClientError):
    """Raised by ``flush``/``close`` when some queued events could not be delivered (see ``Stats.failed``)."""


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: attempt ``n`` waits a random time in ``[0, min(cap, base * 2**n)]``.

    A ``Retry-After`` from the gateway (429/503) is waited at least.
    """

    base: float = 0.05
    cap: float = 5.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        wait = random.uniform(0, min(self.cap, self.base * 2 ** min(attempt, 30)))
        return max(wait, retry_after or 0.0)


DEFAULT_BACKOFF = Backoff()


@dataclass
class Stats:
    """Counts per outcome since the client started; ``failed`` events were given up on (see ``on_error``)."""

    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    failed: int = 0
    retries: int = 0
    rejections: list[ItemResult] = field(default_factory=list)
    """The last ``MAX_KEPT_REJECTIONS`` rejected results, for inspection."""

    def count(self, answer: RecordAnswer) -> None:
        self.accepted += answer["acceptedCount"]
        self.duplicate += answer["duplicateCount"]
        self.rejected += answer["rejectedCount"]
        self.rejections += [result for result in answer["results"] if result["status"] == "rejected"]
        del self.rejections[:-MAX_KEPT_REJECTIONS]


MAX_KEPT_REJECTIONS = 1000


def judge(response: httpx.Response) -> tuple[RecordAnswer | None, float | None]:
    """The answer of a 200; ``(None, retry_after)`` for a status worth retrying; ``Refused`` otherwise."""
    if response.status_code == 200:
        answer: RecordAnswer = response.json()
        return answer, None
    if response.status_code in RETRY_STATUSES:
        return None, _retry_after(response.headers.get("retry-after"))
    raise Refused(response.status_code, response.text)


def _retry_after(value: str | None) -> float | None:
    if value is None or not value.strip().isdigit():
        return None
    return min(float(value.strip()), 60.0)


def headers(api_key: str) -> dict[str, Any]:
    return {"Authorization": f"Bearer {api_key}", "User-Agent": "audit-gateway-client"}
