"""HTTP routes beside GraphQL: ``/v1/events`` (our event objects and CloudEvents), ``/openapi.json``, ``/docs``.

Every route is a thin adapter: writes go through ``app.ingest.record_events``,
reads through the store's keyset queries, with the same keys, scopes and limits
as GraphQL. Mount with ``routes(engine, settings)``.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from app.config import Settings
from app.http import swagger
from app.http.events import EventRoutes
from app.http.openapi import build_document
from app.http.responses import Json, answers_errors


def routes(engine: AsyncEngine, settings: Settings) -> list[BaseRoute]:
    events = EventRoutes(engine, settings)
    found: list[BaseRoute] = [
        Route("/v1/events", answers_errors(events.record), methods=["POST"]),
        Route("/v1/events", answers_errors(events.page), methods=["GET"]),
        Route("/v1/events/{event_id:path}", answers_errors(events.one), methods=["GET"]),
    ]
    if settings.docs:
        document = build_document(settings)

        async def openapi(_: Request) -> Response:
            return Json(document)

        found += [
            Route("/openapi.json", openapi, methods=["GET"]),
            Route("/docs", swagger.docs, methods=["GET"]),
            Mount(swagger.STATIC_URL_PREFIX, StaticFiles(directory=swagger.STATIC_DIR), name="swagger-static"),
        ]
    return found
