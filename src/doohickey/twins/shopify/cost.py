"""GraphQL query cost and the leaky-bucket throttle, as Shopify's Admin API reports them.

Cost rules (shopify.dev rate-limit page, in ``contracts/shopify/REST-LIMITS.md``):
scalars and enums cost 0, objects 1, a connection 2 plus its page size times the
cost of one node, a mutation 10. The *requested* cost is computed from the
document before execution (page sizes from ``first``/``last``); the *actual*
cost from the result (the number of nodes returned). The bucket must hold the
requested cost before a query runs; afterwards the difference is refunded.
The bucket refills at ``restore_rate`` points per second on the injected clock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    is_leaf_type,
    value_from_ast_untyped,
)

from doohickey.clock import Clock

MAX_QUERY_COST = 1000
MUTATION_COST = 10


@dataclass
class Throttle:
    """Shopify's ``throttleStatus`` numbers for one app and shop."""

    maximum_available: float = 1000.0
    restore_rate: float = 50.0


class Bucket:
    """A leaky bucket of query cost points on an injected clock (thread-safe)."""

    def __init__(self, clock: Clock, throttle: Throttle | None = None) -> None:
        self.clock = clock
        self.throttle = throttle or Throttle()
        self._available = self.throttle.maximum_available
        self._at = clock.monotonic()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self.clock.monotonic()
        self._available = min(self.throttle.maximum_available,
                              self._available + (now - self._at) * self.throttle.restore_rate)
        self._at = now

    def take(self, cost: int) -> bool:
        """Take ``cost`` points if the bucket holds them; False (and nothing taken) when throttled."""
        with self._lock:
            self._refill()
            if cost > self._available:
                return False
            self._available -= cost
            return True

    def refund(self, points: float) -> None:
        """Give back points (requested minus actual cost)."""
        with self._lock:
            self._refill()
            self._available = min(self.throttle.maximum_available, self._available + max(points, 0))

    def status(self) -> dict[str, Any]:
        """``throttleStatus`` as Shopify reports it."""
        with self._lock:
            self._refill()
            return {"maximumAvailable": self.throttle.maximum_available,
                    "currentlyAvailable": int(self._available), "restoreRate": self.throttle.restore_rate}

    def drain(self) -> None:
        """Empty the bucket (a twin helper to provoke THROTTLED)."""
        with self._lock:
            self._available = 0.0
            self._at = self.clock.monotonic()


def requested_cost(schema: GraphQLSchema, operation: OperationDefinitionNode,
                   fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any]) -> int:
    """The requested cost of an operation: mutations 10, queries by the rules in the module docstring."""
    if operation.operation.value == "mutation":
        return MUTATION_COST
    root = schema.query_type
    assert root is not None
    return _selection_cost(schema, root, operation.selection_set, fragments, variables, None)


def actual_cost(schema: GraphQLSchema, operation: OperationDefinitionNode,
                fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any], data: Any) -> int:
    """The actual cost of an executed operation, counting the nodes each connection returned."""
    if operation.operation.value == "mutation":
        return MUTATION_COST
    root = schema.query_type
    assert root is not None
    return _selection_cost(schema, root, operation.selection_set, fragments, variables, data if data else {})


def _fields(selection_set: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode]) -> list[FieldNode]:
    out: list[FieldNode] = []
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, FieldNode):
            out.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            out += _fields(selection.selection_set, fragments)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
            out += _fields(fragments[selection.name.value].selection_set, fragments)
    return out


def _selection_cost(schema: GraphQLSchema, parent: Any, selection_set: SelectionSetNode | None,
                    fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any], data: Any) -> int:
    total = 0
    for field in _fields(selection_set, fragments):
        name = field.name.value
        if name.startswith("__") or (not isinstance(parent, GraphQLObjectType) and not hasattr(parent, "fields")):
            continue
        definition = parent.fields.get(name)
        if definition is None:
            continue
        named = get_named_type(definition.type)
        if is_leaf_type(named):
            continue
        key = field.alias.value if field.alias else name
        value = data.get(key) if isinstance(data, dict) else None
        if named.name.endswith("Connection"):
            total += _connection_cost(schema, named, field, fragments, variables, value, data is not None)
        else:
            child = value[0] if isinstance(value, list) and value else value
            if data is not None and value is None:
                total += 1
                continue
            total += 1 + _selection_cost(schema, named, field.selection_set, fragments, variables,
                                         child if data is not None else None)
    return total


def _connection_cost(schema: GraphQLSchema, connection: Any, field: FieldNode,
                     fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any], value: Any,
                     actual: bool) -> int:
    args = {a.name.value: value_from_ast_untyped(a.value, variables) for a in field.arguments}
    size = args.get("first") or args.get("last") or 0
    node_cost = 0
    sample = None
    if actual and isinstance(value, dict):
        items = value.get("nodes") or [e.get("node") for e in value.get("edges") or [] if isinstance(e, dict)]
        size = len(items)
        sample = items[0] if items else None
    for sub in _fields(field.selection_set, fragments):
        if sub.name.value == "edges":
            for inner in _fields(sub.selection_set, fragments):
                if inner.name.value == "node":
                    node_cost = max(node_cost, _node_cost(schema, connection, "edges", inner, fragments, variables,
                                                          sample, actual))
        elif sub.name.value == "nodes":
            node_cost = max(node_cost, _node_cost(schema, connection, "nodes", sub, fragments, variables, sample,
                                                  actual))
    return 2 + (size if isinstance(size, int) else 0) * node_cost


def _node_cost(schema: GraphQLSchema, connection: Any, via: str, node_field: FieldNode,
               fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any], sample: Any,
               actual: bool) -> int:
    node_type = get_named_type(schema.type_map[connection.name].fields["nodes"].type) \
        if "nodes" in connection.fields else None
    if node_type is None:
        return 1
    return 1 + _selection_cost(schema, node_type, node_field.selection_set, fragments, variables,
                               sample if actual else None)
