"""Helpers for the HTTP route tests: GraphQL event inputs as REST event objects, and posting them."""

from __future__ import annotations

import json
from typing import Any

import httpx

from app.contracts.registry import BY_INPUT_MEMBER


def to_rest(event: dict[str, Any]) -> dict[str, Any]:
    """A ``recordEvents`` input (``data: {orderPlaced: {...}}``) as a REST event object (``type`` + ``data``)."""
    ((member, data),) = event["data"].items()
    return {**{k: v for k, v in event.items() if k != "data"}, "type": BY_INPUT_MEMBER[member].name, "data": data}


def rest_path(path: list[str] | tuple[str, ...]) -> str:
    """A GraphQL input path as the REST answer writes it: ``data.orderPlaced.total`` → ``data.total``."""
    parts = list(path)
    if parts[:1] == ["data"] and len(parts) > 1 and parts[1] in BY_INPUT_MEMBER:
        del parts[1]
    return ".".join(parts)


async def post(
    client: httpx.AsyncClient,
    key: str | None,
    body: object,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST as is; JSON is ASCII-escaped, so lone surrogates travel as ``\\ud800`` like any client's."""
    sent = {"Content-Type": content_type, **(headers or {})}
    if key:
        sent["Authorization"] = f"Bearer {key}"
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await client.post("/v1/events", content=content, headers=sent)


async def get(client: httpx.AsyncClient, key: str | None, path: str, **params: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return await client.get(path, params=params, headers=headers)
