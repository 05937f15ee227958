"""What a connection's selection asks of its page's events, decided before the page is read.

A page whose events select ``causedBy`` is read with each event's cause in the same statement
(``TenantReader.page(causes=True)``) and the causes are handed to the request's ``cause`` loader: the level
of ``causedBy`` right under the page then costs no statement of its own. Both executors decide it here, from
the same selection, the variables' ``@skip``/``@include`` outcomes applied, so they send the same statements.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLObjectType, GraphQLSchema, GraphQLUnionType, OperationDefinitionNode
from graphql.execution.collect_fields import FieldDetails, FieldDetailsList, FragmentDetails, collect_subfields
from graphql.execution.values import VariableValues
from strawberry.types import Info

from app.graphql.context import Context


def page_selects_cause(
    schema: GraphQLSchema,
    fragments: dict[str, FragmentDetails],
    variables: VariableValues,
    operation: OperationDefinitionNode,
    connection: FieldDetailsList,
) -> bool:
    """Whether any event of the page (``edges { node }`` or ``nodes``), of any contract, selects ``causedBy``.

    ``connection`` is the field returning ``AuditEventConnection``, as collected (aliases merged).
    """

    def sub(type_name: str, details: FieldDetailsList) -> dict[str, FieldDetailsList]:
        type_ = schema.get_type(type_name)
        assert isinstance(type_, GraphQLObjectType), type_name
        return collect_subfields(schema, fragments, variables, operation, type_, details).grouped_field_set

    events = schema.get_type("AuditEventUnion")
    assert isinstance(events, GraphQLUnionType)
    for details in sub("AuditEventConnection", connection).values():
        name = details[0].node.name.value
        if name == "edges":
            nodes = [
                d for edge in sub("AuditEventEdge", details).values() if edge[0].node.name.value == "node" for d in edge
            ]
        elif name == "nodes":
            nodes = list(details)
        else:
            continue
        if nodes and any(
            fields[0].node.name.value == "causedBy"
            for type_ in events.types
            for fields in sub(type_.name, nodes).values()
        ):
            return True
    return False


def resolving_page_selects_cause(info: Info[Context, None]) -> bool:
    """``page_selects_cause`` for the connection field a reference resolver is resolving."""
    raw = info._raw_info
    variables: Any = raw.variable_values
    if not isinstance(variables, VariableValues):  # graphql-core hands resolvers the coerced values alone
        variables = VariableValues({}, variables)  # their sources matter to no @skip/@include
    return page_selects_cause(
        raw.schema,
        {name: FragmentDetails(definition) for name, definition in raw.fragments.items()},
        variables,
        raw.operation,
        [FieldDetails(node, None) for node in raw.field_nodes],
    )
