"""RequestGuard watches for a disconnect only while a request is still at work (``WATCH_AFTER``), or at once when
the app itself asks for ``receive`` after the body; either way a client that leaves stops the work."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app import request_guard
from app.request_guard import WATCHERS, RequestGuard

SCOPE = {"type": "http", "method": "POST", "path": "/x", "headers": []}


class Client:
    """One request's ``receive`` (the body, then a disconnect once ``leave`` is set) and ``send``."""

    def __init__(self) -> None:
        self.leave = asyncio.Event()
        self.given = False
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        if not self.given:
            self.given = True
            return {"type": "http.request", "body": b"{}", "more_body": False}
        await self.leave.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


async def answer(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def test_a_request_done_before_watch_after_starts_no_watcher(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(request_guard, "WATCH_AFTER", 3600.0)
    client, before = Client(), WATCHERS["started"]
    await RequestGuard(answer, timeout_ms=10_000_000)(SCOPE, client.receive, client.send)
    assert [m["type"] for m in client.sent] == ["http.response.start", "http.response.body"]
    assert WATCHERS["started"] == before


@pytest.mark.parametrize("watch_after", [0.0, 3600.0])
async def test_work_still_running_stops_when_the_client_leaves(
    monkeypatch: pytest.MonkeyPatch, watch_after: float
) -> None:
    """With ``WATCH_AFTER`` passed (0), the timer starts the watcher; before it (3600 s), the app's own
    ``receive`` after the body does. Either way the disconnect cancels the work."""
    monkeypatch.setattr(request_guard, "WATCH_AFTER", watch_after)
    client, before = Client(), WATCHERS["started"]
    cancelled = asyncio.Event()
    asked_again = asyncio.Event()

    async def slow(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        try:
            if watch_after:
                asked_again.set()
                assert (await receive())["type"] == "http.disconnect"
                cancelled.set()
                return
            await asyncio.Event().wait()  # never set: only a cancellation ends it
        except asyncio.CancelledError:
            cancelled.set()
            raise

    served = asyncio.ensure_future(RequestGuard(slow, timeout_ms=10_000_000)(SCOPE, client.receive, client.send))
    while WATCHERS["started"] == before:
        await asyncio.sleep(0)
    assert not served.done() and not cancelled.is_set()
    client.leave.set()
    await served
    assert cancelled.is_set() and client.sent == []
    assert WATCHERS["started"] == before + 1
