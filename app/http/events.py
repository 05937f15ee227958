"""``/v1/events``: thin adapters onto the one write path and the store's keyset reads."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response

from app.auth.principal import Scope
from app.config import Settings
from app.contracts.values import check_text
from app.errors import Code, UserFacingError
from app.http import cloudevents
from app.http.items import Item, from_event
from app.http.responses import HttpError, Json, caller, internal, user_error
from app.http.wire import EventJson, EventPage, ItemResult, RecordAnswer, event_json, input_error
from app.ingest import Result, record_events
from app.store.append import Accepted, Duplicate
from app.store.event_query import EventQuery, Order, decode_cursor, encode_cursor, position_of
from app.store.read import TenantReader
from app.store.search import parse_search

JSON = "application/json"
CLOUDEVENT = "application/cloudevents+json"
CLOUDEVENTS_BATCH = "application/cloudevents-batch+json"
MEDIA_TYPES = (JSON, CLOUDEVENT, CLOUDEVENTS_BATCH)
PAGE_PARAMETERS = ("first", "after", "search", "order")


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _parse(body: bytes) -> object:
    try:
        return json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):  # bad JSON or UTF-8, too deep, a number with too many digits
        raise HttpError(400, Code.BAD_USER_INPUT, "the request body is not valid JSON") from None


def _items(request: Request, media: str, body: object) -> list[Item]:
    if media == JSON and "ce-specversion" in request.headers:
        return [cloudevents.from_binary(request.headers, request.scope["headers"], body)]
    if media == CLOUDEVENT:
        if not isinstance(body, dict):
            raise HttpError(400, Code.BAD_USER_INPUT, f"{CLOUDEVENT} takes one CloudEvent (a JSON object)")
        return [cloudevents.from_structured(body)]
    if media == CLOUDEVENTS_BATCH:
        if not isinstance(body, list):
            raise HttpError(400, Code.BAD_USER_INPUT, f"{CLOUDEVENTS_BATCH} takes a JSON array of CloudEvents")
        return [cloudevents.from_structured(event) for event in body]
    if isinstance(body, dict):
        return [from_event(body)]
    if isinstance(body, list):
        return [from_event(event) for event in body]
    raise HttpError(400, Code.BAD_USER_INPUT, "the request body must be an event object or an array of them")


def _result(index: int, item: Item, outcome: Result | None) -> ItemResult:
    if isinstance(outcome, Accepted | Duplicate):
        status: Any = "accepted" if isinstance(outcome, Accepted) else "duplicate"
        record = outcome.record
        return {"index": index, "status": status, "eventId": record.event_id, "sequence": str(record.sequence)}
    if outcome is None:
        event_id, problems = item.event_id, item.problems
    else:
        event_id, problems = outcome.event_id, outcome.problems
    errors = [input_error(problem, item.path(problem.path)) for problem in problems]
    return {"index": index, "status": "rejected", "eventId": event_id, "errors": errors}


class EventRoutes:
    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings

    async def record(self, request: Request) -> Response:
        """POST /v1/events: our event objects or CloudEvents; one result per input, in order."""
        principal = await caller(request, self.engine, Scope.WRITE)
        media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media not in MEDIA_TYPES:
            raise HttpError(415, Code.UNSUPPORTED_MEDIA_TYPE, f"send one of: {', '.join(MEDIA_TYPES)}")
        items = _items(request, media, _parse(await request.body()))
        limit = self.settings.max_batch_size
        if len(items) > limit:
            raise HttpError(413, Code.LIMIT_EXCEEDED, f"a batch takes at most {limit} events, got {len(items)}")
        ready = [item for item in items if item.submission is not None]
        try:
            outcomes = await record_events(
                self.engine, principal, [item.submission for item in ready if item.submission], max_batch=limit
            )
        except UserFacingError as error:
            raise user_error(error, 413) from None
        except Exception as error:
            raise internal(error) from error
        by_item = dict(zip(map(id, ready), outcomes, strict=True))
        results = [_result(index, item, by_item.get(id(item))) for index, item in enumerate(items)]
        answer: RecordAnswer = {
            "acceptedCount": sum(r["status"] == "accepted" for r in results),
            "duplicateCount": sum(r["status"] == "duplicate" for r in results),
            "rejectedCount": sum(r["status"] == "rejected" for r in results),
            "results": results,
        }
        return Json(answer)

    async def page(self, request: Request) -> Response:
        """GET /v1/events: one keyset page, newest first by default, with a ``Link: rel="next"``."""
        principal = await caller(request, self.engine, Scope.READ)
        given = _parameters(request)
        reader = TenantReader(self.engine, principal.read_tenant)
        try:
            size = self._size(given.get("first"))
            order = _order(given.get("order"))
            search = given.get("search")
            query = EventQuery(filters=(parse_search(search),) if search else (), order=order)
            after = given.get("after")
            position = decode_cursor(after, query, reader.tenant) if after is not None else None
        except UserFacingError as error:
            raise user_error(error, 422) from None
        try:
            page = await reader.page(query, size=size, after=position)
        except Exception as error:
            raise internal(error) from error
        end_cursor = None
        if page.records:
            end_cursor = encode_cursor(position_of(page.records[-1], query.order), query.digest(reader.tenant))
        body: EventPage = {
            "events": [event_json(record) for record in page.records],
            "pageInfo": {"hasNextPage": page.has_next, "endCursor": end_cursor},
        }
        headers = {}
        if page.has_next and end_cursor is not None:
            following = {**given, "after": end_cursor}
            headers["Link"] = f'<{request.url.replace_query_params(**following)}>; rel="next"'
        return Json(body, headers=headers)

    async def one(self, request: Request) -> Response:
        """GET /v1/events/{eventId}: 404 unless the caller's tenant holds that eventId."""
        principal = await caller(request, self.engine, Scope.READ)
        try:
            event_id = check_text(request.path_params["event_id"], "eventId")
        except UserFacingError as error:
            raise user_error(error, 422) from None
        try:
            found = await TenantReader(self.engine, principal.read_tenant).by_event_ids([event_id])
        except Exception as error:
            raise internal(error) from error
        record = found.get(event_id)
        if record is None:
            raise HttpError(404, Code.NOT_FOUND, "no event with this eventId in your tenant")
        event: EventJson = event_json(record)
        return Json(event)

    def _size(self, given: str | None) -> int:
        maximum = self.settings.max_page_size
        if given is None:
            return self.settings.default_page_size
        if not given.isascii() or not given.isdigit() or len(given) > 9:
            raise HttpError(422, Code.BAD_USER_INPUT, f"first must be a whole number between 0 and {maximum}")
        size = int(given)
        if size > maximum:
            raise HttpError(
                422, Code.LIMIT_EXCEEDED, f"first must be at most {maximum} (the maximum page size), got {size}"
            )
        return size


def _parameters(request: Request) -> dict[str, str]:
    """The query parameters, each at most once; an unknown one is refused rather than ignored."""
    found: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name not in PAGE_PARAMETERS:
            known = ", ".join(PAGE_PARAMETERS)
            raise HttpError(422, Code.BAD_USER_INPUT, f"unknown query parameter {name!r}; use {known}")
        if name in found:
            raise HttpError(422, Code.BAD_USER_INPUT, f"query parameter {name!r} is given twice")
        found[name] = value
    return found


def _order(given: str | None) -> Order:
    if given is None or given == "desc":
        return Order(descending=True)
    if given == "asc":
        return Order(descending=False)
    raise HttpError(422, Code.BAD_USER_INPUT, "order must be 'asc' or 'desc' (by sequence)")
