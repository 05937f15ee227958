"""The schema, built once per configuration, with its limits and error policy."""

from __future__ import annotations

import functools
from collections.abc import Callable

import strawberry
from graphql import ASTValidationRule, GraphQLError
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, SchemaExtension, ValidationCache
from strawberry.extensions.disable_introspection import DisableIntrospection
from strawberry.extensions.max_aliases import create_validator as aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
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
    # The limit rules are built once per schema, so the validation cache recognises them on every request.
    limits: list[type[ASTValidationRule]] = [
        depth_rule(settings.max_query_depth, should_ignore=None),
        aliases_rule(settings.max_aliases),
        root_fields_rule(settings.max_root_fields),
    ]
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        lambda: error_policy(suggestions=settings.field_suggestions),
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: AddValidationRules(limits),
        # Frontends send the same few documents again and again: validate each once. (Documents compare by
        # structure, so no parser cache is needed for hits; Strawberry's ParserCache would also route syntax
        # errors around the error policy.)
        lambda: ValidationCache(maxsize=256),
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
