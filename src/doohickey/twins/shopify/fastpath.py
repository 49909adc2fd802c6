"""A lean executor for the read queries the Shopify twin sees most, with graphql-core as the fallback.

graphql-core spends most of a page query's time on per-field bookkeeping that
the twin's plain-dict documents do not need. :func:`execute_fast` walks an
already validated query document directly: it collects fields (aliases,
fragments, inline fragments, merged duplicates) the way the GraphQL spec says,
calls the same resolvers with a minimal ``info``, and serialises leaves with
the schema's own scalars and enums. Anything it does not handle plainly
(directives, a null in a non-null position, a resolver error, an unknown
runtime type) raises :class:`Fallback`, and the caller runs graphql-core, which
then produces the exact errors. A differential test holds the two to the same
results.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    is_abstract_type,
    is_leaf_type,
)
from graphql.execution.values import get_argument_values, get_variable_values


class Fallback(Exception):
    """This document or value needs the full executor."""


class Info:
    """The parts of ``GraphQLResolveInfo`` the twin's resolvers read."""

    __slots__ = ("context", "field_name", "parent_type", "return_type")

    def __init__(self, field_name: str, return_type: Any, parent_type: Any, context: Any) -> None:
        self.field_name = field_name
        self.return_type = return_type
        self.parent_type = parent_type
        self.context = context


def execute_fast(schema: GraphQLSchema, operation: OperationDefinitionNode,
                 fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any], context: Any,
                 default_resolver: Any) -> dict[str, Any]:
    """The ``data`` of a query operation, or :class:`Fallback`."""
    if operation.operation.value != "query" or operation.directives:
        raise Fallback
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables)
    if isinstance(coerced, list):  # variable errors: graphql-core reports them
        raise Fallback
    run = _Run(schema, fragments, coerced, context, default_resolver)
    root = schema.query_type
    assert root is not None
    return run.object(root, None, [operation.selection_set])


class _Run:
    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode],
                 variables: dict[str, Any], context: Any, default_resolver: Any) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.context = context
        self.default = default_resolver
        self._collected: dict[tuple, dict[str, list[FieldNode]]] = {}

    def collect(self, runtime: GraphQLObjectType, selection_sets: list[SelectionSetNode]) -> dict[str, list[FieldNode]]:
        # Every node of a page shares its selection: collect once per (type, selection sets).
        key = (runtime.name, *map(id, selection_sets))
        fields = self._collected.get(key)
        if fields is None:
            fields = {}
            for selection_set in selection_sets:
                self._collect(runtime, selection_set, fields, set())
            self._collected[key] = fields
        return fields

    def _collect(self, runtime: GraphQLObjectType, selection_set: SelectionSetNode,
                 fields: dict[str, list[FieldNode]], seen: set[str]) -> None:
        for selection in selection_set.selections:
            if selection.directives:
                raise Fallback
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                fields.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                if self._applies(selection.type_condition, runtime):
                    self._collect(runtime, selection.selection_set, fields, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if name in seen or fragment is None:
                    continue
                seen.add(name)
                if self._applies(fragment.type_condition, runtime):
                    self._collect(runtime, fragment.selection_set, fields, seen)

    def _applies(self, condition: Any, runtime: GraphQLObjectType) -> bool:
        if condition is None:
            return True
        named = self.schema.get_type(condition.name.value)
        if named is runtime:
            return True
        return is_abstract_type(named) and self.schema.is_sub_type(named, runtime)  # type: ignore[arg-type]

    def object(self, runtime: GraphQLObjectType, source: Any, selection_sets: list[SelectionSetNode]
               ) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, nodes in self.collect(runtime, selection_sets).items():
            node = nodes[0]
            name = node.name.value
            if name == "__typename":
                result[key] = runtime.name
                continue
            if name.startswith("__"):
                raise Fallback
            definition = runtime.fields.get(name)
            if definition is None:
                raise Fallback
            args = get_argument_values(definition, node, self.variables) if definition.args else {}
            info = Info(name, definition.type, runtime, self.context)
            resolver = definition.resolve or self.default
            try:
                value = resolver(source, info, **args)
            except GraphQLError:
                raise Fallback from None
            result[key] = self.complete(definition.type, value, nodes)
        return result

    def complete(self, kind: Any, value: Any, nodes: list[FieldNode]) -> Any:
        if isinstance(kind, GraphQLNonNull):
            if value is None:
                raise Fallback
            return self.complete(kind.of_type, value, nodes)
        if value is None:
            return None
        if isinstance(kind, GraphQLList):
            if not isinstance(value, list | tuple):
                raise Fallback
            return [self.complete(kind.of_type, item, nodes) for item in value]
        if is_leaf_type(kind):
            try:
                serialized = kind.serialize(value)
            except (GraphQLError, TypeError, ValueError):
                raise Fallback from None
            if serialized is None:
                raise Fallback
            return serialized
        runtime = kind
        if is_abstract_type(kind):
            typename = value.get("__typename") if isinstance(value, dict) else None
            runtime = self.schema.get_type(typename) if typename else None
            if not isinstance(runtime, GraphQLObjectType) or not self.schema.is_sub_type(kind, runtime):
                raise Fallback
        if not isinstance(value, dict):
            raise Fallback
        return self.object(runtime, value, [n.selection_set for n in nodes if n.selection_set])
