"""The schema, built once per configuration, with its limits and error policy."""

from __future__ import annotations

import functools
from collections.abc import Callable

import strawberry
from graphql import ASTValidationRule, GraphQLError, NoSchemaIntrospectionCustomRule, specified_rules
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, SchemaExtension, ValidationCache
from strawberry.extensions.disable_introspection import DisableIntrospection
from strawberry.extensions.max_aliases import create_validator as aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.types import ExecutionContext

from app.config import Settings
from app.graphql import events
from app.graphql.cost import CostLimit
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
def limit_rules(settings: Settings) -> tuple[type[ASTValidationRule], ...]:
    """The project's limit rules, built once per configuration (the validation cache compares them by identity)."""
    return (
        depth_rule(settings.max_query_depth, should_ignore=None),
        aliases_rule(settings.max_aliases),
        root_fields_rule(settings.max_root_fields),
    )


def validation_rules(settings: Settings) -> tuple[type[ASTValidationRule], ...]:
    """Every rule the schema below validates with, in the order Strawberry applies them.

    The compiled executor validates with exactly these, so a document it serves is one the
    reference execution would accept (its own answer for any other document is the reference's).
    """
    introspection = () if settings.introspection else (NoSchemaIntrospectionCustomRule,)
    return (*specified_rules, *limit_rules(settings), *introspection, MaybeNullValidationRule, OneOfInputValidationRule)


@functools.lru_cache(maxsize=16)
def build_schema(settings: Settings) -> strawberry.Schema:
    """One schema per configuration: it is stateless, and building it is most of an app's start-up."""
    limits = list(limit_rules(settings))
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        lambda: error_policy(suggestions=settings.field_suggestions),
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: AddValidationRules(limits),
        # Frontends send the same few documents again and again: validate each once. (Documents compare by
        # structure, so no parser cache is needed for hits; Strawberry's ParserCache would also route syntax
        # errors around the error policy.)
        lambda: ValidationCache(maxsize=256),
        lambda: CostLimit(settings),
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
