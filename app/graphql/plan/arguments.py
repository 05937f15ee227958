"""A field's resolver arguments, converted once when the field's arguments use no variable.

``Run.arguments`` coerces a field's arguments (graphql-core's ``get_argument_values``) and converts them to
the resolver's keyword arguments (Strawberry's ``convert_arguments``): 50–120 µs for ``events`` alone, on every
request. When no argument of the field node holds a variable, both depend only on the node, the field's
definition and the schema, all fixed for as long as the prepared document lives, so the result is kept per
node. A node whose arguments hold a variable is converted on every request, as before (``counts``:
``cached`` / ``converted`` / ``variables``). Each call gets its own dict; the values are the converted
values themselves (ints, strings, Strawberry input objects that nothing mutates).
``tests/graphql/test_argument_cache.py`` compares cached and converted arguments over the differential corpus.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, ClassVar

from graphql import FieldNode, GraphQLField, ListValueNode, ObjectValueNode, ValueNode, VariableNode

from app.graphql.plan.run import Run

MAX_ENTRIES = 4096
"""Nodes kept (with the nodes themselves, so an id is never reused while its entry lives); then all go."""


def uses_variables(value: ValueNode) -> bool:
    if isinstance(value, VariableNode):
        return True
    if isinstance(value, ListValueNode):
        return any(uses_variables(item) for item in value.values)
    if isinstance(value, ObjectValueNode):
        return any(uses_variables(field.value) for field in value.fields)
    return False


class ArgumentCache:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: dict[int, tuple[FieldNode, GraphQLField, dict[str, Any] | None]] = {}
        self.counts: Counter[str] = Counter()

    def arguments(self, run: Run, definition: GraphQLField, node: FieldNode) -> dict[str, Any]:
        entry = self._entries.get(id(node))
        if entry is not None and entry[0] is node and entry[1] is definition:
            if entry[2] is None:
                self.counts["variables"] += 1
                return Run.arguments(run, definition, node)
            self.counts["cached"] += 1
            return dict(entry[2])
        converted = Run.arguments(run, definition, node)
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        fixed = not any(uses_variables(argument.value) for argument in node.arguments or ())
        self._entries[id(node)] = (node, definition, dict(converted) if fixed else None)
        self.counts["converted" if fixed else "variables"] += 1
        return converted


class CachedRun(Run):
    """``Run`` with its arguments from an ``ArgumentCache`` (the executor makes a subclass per cache)."""

    cache: ClassVar[ArgumentCache]

    def arguments(self, definition: GraphQLField, node: Any) -> dict[str, Any]:
        return self.cache.arguments(self, definition, node)
