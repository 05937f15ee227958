"""Query-shape limits beyond Strawberry's own depth, alias and token limiters."""

from __future__ import annotations

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)

# Messages of the limiters (Strawberry's and graphql-core's), so their errors carry LIMIT_EXCEEDED.
LIMIT_MESSAGES = ("exceeds maximum operation depth", "aliases found. Allowed", "tokens.", "root fields; at most")


def root_fields_rule(maximum: int) -> type[ValidationRule]:
    """Refuses an operation that selects more than ``maximum`` root fields (fragments included)."""

    class MaxRootFields(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            fragments = {d.name.value: d for d in context.document.definitions if isinstance(d, FragmentDefinitionNode)}
            for definition in context.document.definitions:
                if isinstance(definition, OperationDefinitionNode):
                    count = _count(definition.selection_set, fragments, frozenset())
                    if count > maximum:
                        context.report_error(
                            GraphQLError(
                                f"the operation selects {count} root fields; at most {maximum} are allowed", definition
                            )
                        )

    return MaxRootFields


def _count(selection_set: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode], seen: frozenset[str]) -> int:
    total = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            total += 1
        elif isinstance(selection, InlineFragmentNode):
            total += _count(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in fragments and name not in seen:
                total += _count(fragments[name].selection_set, fragments, seen | {name})
    return total
