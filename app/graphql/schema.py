"""The schema, built once per configuration, with its limits and error policy."""

from __future__ import annotations

import functools

import strawberry
from graphql import GraphQLError
from strawberry.extensions import AddValidationRules, MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.extensions.disable_introspection import DisableIntrospection
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from app.config import Settings
from app.graphql import events
from app.graphql.errors import error_policy
from app.graphql.limits import root_fields_rule
from app.graphql.mutation import Mutation
from app.graphql.query import Query
from app.graphql.scalars import SCALARS

# Concrete event types are reached only through the union; list them so every one is in the schema.
EVENT_TYPES = list(events.EVENT_TYPES.values())


class GatewaySchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Strawberry logs every error with a traceback; ``ErrorPolicy`` logs the internal ones, with their id."""


@functools.lru_cache(maxsize=16)
def build_schema(settings: Settings) -> strawberry.Schema:
    """One schema per configuration: it is stateless, and building it is most of an app's start-up."""
    extensions: list[object] = [
        lambda: error_policy(suggestions=settings.field_suggestions),
        lambda: QueryDepthLimiter(max_depth=settings.max_query_depth),
        lambda: MaxAliasesLimiter(max_alias_count=settings.max_aliases),
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: AddValidationRules([root_fields_rule(settings.max_root_fields)]),
    ]
    if not settings.introspection:
        extensions.append(DisableIntrospection)
    return GatewaySchema(
        query=Query,
        mutation=Mutation,
        types=EVENT_TYPES,
        extensions=extensions,
        config=StrawberryConfig(scalar_map=SCALARS),
    )


def export_sdl() -> str:
    return build_schema(Settings()).as_str() + "\n"
