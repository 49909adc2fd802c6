"""The Shopify twin's Admin GraphQL API: schema, resolvers, document cache, cost and throttling.

The executable schema is built from ``schema.graphql``, a cut of Shopify's real
Admin SDL (see :mod:`~doohickey.twins.shopify.schema_subset`), so every type,
field, argument and enum the twin accepts is Shopify's own. Documents are
resolved against the GraphQL-shaped node documents in
:class:`~doohickey.twins.shopify.state.ShopState`: most fields by plain lookup,
``{"__ref": gid}`` values by loading the node, list values under a connection
field by cursor pagination, root connections by SQL.

:meth:`GraphQLApi.run` is the whole request: parse and validate (cached per
document text), price the query, take the cost from the bucket or answer
``THROTTLED``, execute, refund the unused cost and attach ``extensions.cost``.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from functools import cache
from importlib import resources
from typing import Any

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    build_schema,
    execute,
    get_named_type,
    is_enum_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
    parse,
    validate,
)
from graphql.execution.values import get_variable_values

from doohickey.twins.shopify import mutations, webhooks
from doohickey.twins.shopify.cost import MAX_QUERY_COST, Bucket, actual_cost, requested_cost
from doohickey.twins.shopify.fastpath import execute_fast
from doohickey.twins.shopify.search import (
    SORT_COLUMNS,
    Page,
    SearchError,
    decode_cursor,
    encode_cursor,
    page_size,
    paginate_list,
    parse_query,
)
from doohickey.twins.shopify.shapes import gid_kind, money_bag, money_v2, parse_gid
from doohickey.twins.shopify.state import ShopState

_MISSING = object()


@cache
def schema_sdl() -> str:
    """The twin's SDL text (a cut of Shopify's Admin schema)."""
    return resources.files("doohickey.twins.shopify").joinpath("schema.graphql").read_text(encoding="utf-8")


def build_twin_schema() -> GraphQLSchema:
    """A fresh executable schema with the twin's resolvers attached."""
    schema = build_schema(schema_sdl(), assume_valid=True, no_location=True)
    _attach(schema)
    return schema


class Loader:
    """Per-request node loading with a cache, so a page of orders loads each customer once."""

    def __init__(self, state: ShopState) -> None:
        self.state = state
        self.cache: dict[str, Any] = {}

    def node(self, node_gid: str, within: str | None = None) -> dict[str, Any] | None:
        """The node ``node_gid``; a line item is found inside its order ``within``."""
        key = node_gid
        if key in self.cache:
            return self.cache[key]
        if within:
            order = self.node(within)
            found = next((line for line in (order or {}).get("_lines", []) if line["id"] == node_gid), None)
        else:
            found = self.state.read(node_gid)
        self.cache[key] = found
        return found

    def prime(self, docs: list[dict[str, Any]]) -> None:
        """Remember documents already loaded (a root page)."""
        for doc in docs:
            self.cache.setdefault(doc["id"], doc)


# ------------------------------------------------------------------ resolvers


def _default(source: Any, info: Any, **args: Any) -> Any:
    """Dict lookup, with references loaded, nested connections paginated and missing non-null fields defaulted."""
    if not isinstance(source, dict):
        return getattr(source, info.field_name, None)
    value = source.get(info.field_name, _MISSING)
    if value is _MISSING:
        return _neutral(info)
    if type(value) is dict and "__ref" in value:
        return info.context["loader"].node(value["__ref"], value.get("__in"))
    if type(value) is list:
        named = get_named_type(info.return_type)
        if value and type(value[0]) is dict and "__ref" in value[0]:
            loader = info.context["loader"]
            value = [loader.node(v["__ref"], v.get("__in")) for v in value]
            value = [v for v in value if v is not None]
        if named.name.endswith("Connection"):
            try:
                return paginate_list(value, args)
            except (SearchError, ValueError) as exc:
                raise GraphQLError(str(exc)) from None
        if "first" in args and args["first"] is not None:
            return value[: args["first"]]
    return value


def _neutral(info: Any) -> Any:
    """The value of a field the twin does not model: null, or an empty value when the schema forbids null."""
    kind = info.return_type
    if not is_non_null_type(kind):
        return None
    inner = kind.of_type
    if is_list_type(inner):
        return []
    named = get_named_type(inner)
    name = named.name
    if name == "MoneyBag":
        return money_bag(0, info.context["state"].currency)  # type: ignore[arg-type]
    if name == "MoneyV2":
        return money_v2(0, info.context["state"].currency)  # type: ignore[arg-type]
    if name.endswith("Connection"):
        return Page([], [], False, False).connection()
    if name == "Count":
        return {"count": 0, "precision": "EXACT"}
    if is_enum_type(named):
        return next(iter(named.values))
    if is_object_type(named):
        return {}
    return {"Boolean": False, "Int": 0, "Float": 0.0, "UnsignedInt64": "0", "Decimal": "0.0", "Money": "0.0",
            "DateTime": "1970-01-01T00:00:00Z"}.get(name, "")


def root_connection(state: ShopState, kind: str, args: dict[str, Any], extra: tuple[str, list] | None = None
                    ) -> dict[str, Any]:
    """A root connection (``orders``, ``customers`` ...) with search, sort and cursor pagination in SQL."""
    try:
        size = page_size(args.get("first"), args.get("last"))
        where, params = parse_query(kind, args.get("query"), state.clock.now())
    except SearchError as exc:
        raise GraphQLError(str(exc)) from None
    where = ["type=?", *where]
    params = [kind, *params]
    if extra:
        where.append(extra[0])
        params += extra[1]
    column = SORT_COLUMNS.get(args.get("sortKey") or "ID", "num")
    sort = f"coalesce({column}, '')" if column != "num" else "num"
    backwards = args.get("last") is not None and args.get("first") is None
    descending = bool(args.get("reverse")) != backwards
    cursor = args.get("before") if backwards else args.get("after")
    if cursor:
        try:
            value, num = decode_cursor(cursor)
        except ValueError as exc:
            raise GraphQLError(str(exc)) from None
        if column == "num":
            where.append("num < ?" if descending else "num > ?")
            params.append(num)
        else:
            where.append(f"({sort}, num) {'<' if descending else '>'} (?, ?)")
            params += [value if value is not None else "", num]
    direction = "DESC" if descending else "ASC"
    docs = state.select_read(" AND ".join(where), params, order=f"{sort} {direction}, num {direction}",
                             limit=size + 1)
    more = len(docs) > size
    docs = docs[:size]
    if backwards:
        docs.reverse()
    key = {"num": None, "updated_at": "updatedAt", "created_at": "createdAt", "processed_at": "processedAt",
           "name": None, "sku": "sku", "email": "email"}.get(column)
    cursors = [encode_cursor(doc.get(key) if key else (doc.get("name") or doc.get("title")), parse_gid(doc["id"]) or 0)
               for doc in docs]
    if column == "name":
        cursors = [encode_cursor(state._row_value(doc["id"], "name"), parse_gid(doc["id"]) or 0) for doc in docs]
    page = Page(docs, cursors, has_next=more if not backwards else bool(cursor),
                has_previous=bool(cursor) if not backwards else more)
    return page.connection()


def _root_list(kind: str, extra: Any = None):
    def resolve(_root: Any, info: Any, **args: Any) -> dict[str, Any]:
        connection = root_connection(info.context["state"], kind, args, extra(args) if extra else None)
        info.context["loader"].prime(connection["nodes"])
        return connection
    return resolve


def _root_one(kind: str):
    def resolve(_root: Any, info: Any, **args: Any) -> dict[str, Any] | None:
        node_gid = args.get("id") or ""
        return info.context["loader"].node(node_gid) if gid_kind(node_gid) == kind else None
    return resolve


def _node(_root: Any, info: Any, id: str) -> Any:
    return info.context["loader"].node(id) if gid_kind(id) not in {"", "LineItem"} else None


def _nodes(_root: Any, info: Any, ids: list[str]) -> list[Any]:
    return [_node(_root, info, i) for i in ids]


def _webhook_extra(args: dict[str, Any]) -> tuple[str, list] | None:
    clauses, params = [], []
    if args.get("topics"):
        clauses.append(f"name IN ({','.join('?' * len(args['topics']))})")
        params += [webhooks.rest_topic(t) for t in args["topics"]]
    uri = args.get("uri") or args.get("callbackUrl")
    if uri:
        clauses.append("sku = ?")
        params.append(uri)
    return (" AND ".join(clauses), params) if clauses else None


def _quantities(source: dict[str, Any], info: Any, names: list[str]) -> list[dict[str, Any]]:
    level = source["_level"]
    values = {"available": level["available"], "on_hand": level["on_hand"], "committed": level["committed"]}
    return [{"id": f"{source['id']}&name={n}", "name": n, "quantity": values.get(n, 0),
             "updatedAt": level["updated_at"]} for n in names]


def level_doc(state: ShopState, level: dict[str, Any]) -> dict[str, Any]:
    """An ``InventoryLevel`` document from a stored level row."""
    level_gid = f"gid://shopify/InventoryLevel/{level['location']}?inventory_item_id={level['item']}"
    return {"__typename": "InventoryLevel", "id": level_gid, "createdAt": level["created_at"],
            "updatedAt": level["updated_at"], "canDeactivate": True, "deactivationAlert": None,
            "item": {"__ref": f"gid://shopify/InventoryItem/{level['item']}"},
            "location": {"__ref": f"gid://shopify/Location/{level['location']}"}, "_level": level}


def _levels_of(by: str):
    def resolve(source: dict[str, Any], info: Any, **args: Any) -> dict[str, Any]:
        state = info.context["state"]
        num = parse_gid(source["id"])
        rows = state.levels(item_num=num) if by == "item" else state.levels(location_num=num)
        try:
            return paginate_list([level_doc(state, row) for row in rows], args)
        except (SearchError, ValueError) as exc:
            raise GraphQLError(str(exc)) from None
    return resolve


def _level_at(by: str):
    def resolve(source: dict[str, Any], info: Any, **args: Any) -> dict[str, Any] | None:
        state = info.context["state"]
        other = parse_gid(args.get("locationId") if by == "item" else args.get("inventoryItemId"))
        num = parse_gid(source["id"])
        item, location = (num, other) if by == "item" else (other, num)
        if item is None or location is None:
            return None
        level = state.level(item, location)
        return level_doc(state, {"item": item, "location": location, **level}) if level else None
    return resolve


def _inventory_level(_root: Any, info: Any, id: str) -> Any:
    state = info.context["state"]
    location = parse_gid(id, "InventoryLevel")
    item = id.split("inventory_item_id=", 1)[1] if "inventory_item_id=" in id else ""
    if location is None or not item.isdigit():
        return None
    level = state.level(int(item), location)
    return level_doc(state, {"item": int(item), "location": location, **level}) if level else None


def _variant_quantity(source: dict[str, Any], info: Any) -> int:
    item = parse_gid(source["inventoryItem"]["__ref"])
    return sum(level["available"] for level in info.context["state"].levels(item_num=item))


def _product_inventory(source: dict[str, Any], info: Any) -> int:
    loader = info.context["loader"]
    return sum(_variant_quantity(loader.node(ref["__ref"]) or {"inventoryItem": {"__ref": ""}}, info)
               for ref in source.get("variants") or [])


def _customer_orders(source: dict[str, Any], info: Any, **args: Any) -> dict[str, Any]:
    return root_connection(info.context["state"], "Order", args, ("parent = ?", [source["id"]]))


def _customer_count(source: dict[str, Any], info: Any) -> str:
    return str(info.context["state"].count("type='Order' AND parent=?", (source["id"],)))


def _shop(_root: Any, info: Any) -> dict[str, Any]:
    state = info.context["state"]
    return {"__typename": "Shop", "id": "gid://shopify/Shop/1", "name": state.shop_name,
            "myshopifyDomain": state.shop_domain, "currencyCode": state.currency, "email": "owner@example.com",
            "contactEmail": "owner@example.com", "ianaTimezone": "Etc/UTC", "timezoneAbbreviation": "UTC",
            "timezoneOffset": "+0000", "timezoneOffsetMinutes": 0, "weightUnit": "GRAMS", "taxesIncluded": False,
            "taxShipping": False, "url": f"https://{state.shop_domain}", "enabledPresentmentCurrencies":
            [state.currency], "plan": {"displayName": "Development", "partnerDevelopment": True,
                                       "shopifyPlus": False}}


def _attach(schema: GraphQLSchema) -> None:
    query, mutation = schema.query_type, schema.mutation_type
    assert query is not None and mutation is not None
    roots = {"orders": _root_list("Order"), "customers": _root_list("Customer"), "products": _root_list("Product"),
             "productVariants": _root_list("ProductVariant"), "locations": _root_list("Location"),
             "inventoryItems": _root_list("InventoryItem"),
             "webhookSubscriptions": _root_list("WebhookSubscription", _webhook_extra),
             "order": _root_one("Order"), "customer": _root_one("Customer"), "product": _root_one("Product"),
             "productVariant": _root_one("ProductVariant"), "location": _root_one("Location"),
             "inventoryItem": _root_one("InventoryItem"), "fulfillmentOrder": _root_one("FulfillmentOrder"),
             "webhookSubscription": _root_one("WebhookSubscription"), "inventoryLevel": _inventory_level,
             "shop": _shop, "node": _node, "nodes": _nodes}
    for name, resolver in roots.items():
        query.fields[name].resolve = resolver
    fields = {("InventoryLevel", "quantities"): _quantities, ("InventoryItem", "inventoryLevels"): _levels_of("item"),
              ("Location", "inventoryLevels"): _levels_of("location"), ("InventoryItem", "inventoryLevel"):
              _level_at("item"), ("Location", "inventoryLevel"): _level_at("location"),
              ("ProductVariant", "inventoryQuantity"): _variant_quantity,
              ("ProductVariant", "sellableOnlineQuantity"): _variant_quantity,
              ("Product", "totalInventory"): _product_inventory, ("Customer", "orders"): _customer_orders,
              ("Customer", "numberOfOrders"): _customer_count}
    for (type_name, field_name), resolver in fields.items():
        schema.type_map[type_name].fields[field_name].resolve = resolver  # type: ignore[union-attr]
    for name, resolver in mutations.RESOLVERS.items():
        mutation.fields[name].resolve = resolver


# ------------------------------------------------------------------ requests


class GraphQLApi:
    """Runs Admin GraphQL requests against one shop's state with Shopify's cost accounting."""

    def __init__(self, state: ShopState, bucket: Bucket, *, schema: GraphQLSchema | None = None,
                 cache_size: int = 512, result_cache: bool = True, fast: bool = True) -> None:
        self.state = state
        self.bucket = bucket
        self.schema = schema or build_twin_schema()
        self._cache: OrderedDict[str, tuple[DocumentNode | None, list[GraphQLError]]] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self.context_extra: dict[str, Any] = {}
        # Read results by (document, variables), valid while the state's version is unchanged; polling an
        # unchanged shop then costs no execution. Time-relative searches ("now") are never cached.
        self.result_cache = result_cache
        self.fast = fast  # the lean executor for plain queries (fastpath.py); graphql-core otherwise
        self._results: OrderedDict[tuple, tuple[int, dict[str, Any], int]] = OrderedDict()

    def document(self, text: str) -> tuple[DocumentNode | None, list[GraphQLError]]:
        """Parse and validate ``text`` once; later requests with the same text reuse the result."""
        with self._lock:
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
                return hit
        try:
            document: DocumentNode | None = parse(text, no_location=False)
            errors = validate(self.schema, document) if document else []
        except GraphQLError as exc:
            document, errors = None, [exc]
        with self._lock:
            self._cache[text] = (document, errors)
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return document, errors

    def run(self, query: str, variables: dict[str, Any] | None = None,
            operation_name: str | None = None) -> tuple[dict[str, Any], bool]:
        """Execute one request; returns the response body and whether it was throttled."""
        variables = variables or {}
        document, errors = self.document(query)
        if errors or document is None:
            return {"errors": [_error(e) for e in errors]}, False
        operation = _operation(document, operation_name)
        if operation is None:
            return {"errors": [{"message": f"No operation named {operation_name!r}" if operation_name
                                else "An operation name is required when the document has several operations"}]}, False
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        coerced = get_variable_values(self.schema, operation.variable_definitions or (), variables)
        if isinstance(coerced, list):
            return {"errors": [_error(e) for e in coerced]}, False
        variables = coerced
        requested = requested_cost(self.schema, operation, fragments, variables)
        if requested > MAX_QUERY_COST:
            return {"errors": [{"message": f"Query cost is {requested}, which exceeds the single query max cost "
                                           f"limit ({MAX_QUERY_COST}).",
                                "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested,
                                               "maxCost": MAX_QUERY_COST}}],
                    "extensions": {"cost": self._cost(requested, None)}}, False
        if not self.bucket.take(requested):
            return {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                    "extensions": {"cost": self._cost(requested, None)}}, True
        key = self._result_key(operation, query, variables, operation_name)
        version = self.state.version
        cached = self._results.get(key) if key else None
        if cached and cached[0] == version:
            _, body, actual = cached
        else:
            body, actual = self._execute(document, operation, fragments, variables, operation_name, requested)
            if key and self.state.version == version:
                with self._lock:
                    self._results[key] = (version, body, actual)
                    if len(self._results) > self._cache_size:
                        self._results.popitem(last=False)
        self.bucket.refund(requested - actual)
        return {**body, "extensions": {"cost": self._cost(requested, actual)}}, False

    def _result_key(self, operation: OperationDefinitionNode, query: str, variables: dict[str, Any],
                    operation_name: str | None) -> tuple | None:
        if not self.result_cache or operation.operation.value != "query" or "now" in query:
            return None
        try:
            return (query, json.dumps(variables, sort_keys=True), operation_name)
        except (TypeError, ValueError):
            return None

    def _execute(self, document: DocumentNode, operation: OperationDefinitionNode,
                 fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any],
                 operation_name: str | None, requested: int) -> tuple[dict[str, Any], int]:
        if self.fast:
            context = {"state": self.state, "loader": Loader(self.state), **self.context_extra}
            try:
                data = execute_fast(self.schema, operation, fragments, variables, context, _default)
                return {"data": data}, min(actual_cost(self.schema, operation, fragments, variables, data), requested)
            except Exception:
                pass
        context = {"state": self.state, "loader": Loader(self.state), **self.context_extra}
        result = execute(self.schema, document, variable_values=variables, operation_name=operation_name,
                         context_value=context, field_resolver=_default, is_awaitable=_never)
        actual = min(actual_cost(self.schema, operation, fragments, variables, result.data), requested)
        body: dict[str, Any] = {}
        if result.errors:
            body["errors"] = [_error(e) for e in result.errors]
        body["data"] = result.data
        return body, actual

    def _cost(self, requested: int, actual: int | None) -> dict[str, Any]:
        return {"requestedQueryCost": requested, "actualQueryCost": actual, "throttleStatus": self.bucket.status()}


def _never(_value: Any) -> bool:
    """Every resolver of the twin is synchronous, so graphql-core need not test values for awaitables."""
    return False


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name:
        return next((o for o in operations if o.name and o.name.value == name), None)
    return operations[0] if len(operations) == 1 else None


def _error(error: GraphQLError) -> dict[str, Any]:
    formatted = error.formatted
    if "extensions" not in formatted or not formatted["extensions"]:
        formatted.pop("extensions", None)
    return formatted
