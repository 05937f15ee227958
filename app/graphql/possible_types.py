"""Apollo Client's ``possibleTypes``, derived from the schema, so no frontend writes it by hand.

``events.edges.node`` is a union whose members implement the ``AuditEvent``
interface. Without ``possibleTypes`` Apollo's cache cannot know that an
``OrderPlaced`` is an ``AuditEvent`` and silently drops every field selected in
``... on AuditEvent``. The map is the same one Apollo's documentation builds from
an introspection query: every union and interface, with the object types it can be.
"""

from __future__ import annotations

import functools

import strawberry
from graphql import GraphQLInterfaceType, GraphQLUnionType, build_schema


@functools.cache
def possible_types(schema: strawberry.Schema) -> dict[str, list[str]]:
    """``{abstract type: [object types]}``, sorted; computed once per schema, from its SDL."""
    built = build_schema(schema.as_str())
    return {
        name: sorted(member.name for member in built.get_possible_types(kind))
        for name, kind in sorted(built.type_map.items())
        if isinstance(kind, GraphQLInterfaceType | GraphQLUnionType) and not name.startswith("__")
    }
