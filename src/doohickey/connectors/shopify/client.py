"""The Shopify connector's Client: Admin GraphQL at ``{url}/admin/api/{api_version}/graphql.json``.

Reads are incremental: ``query: "updated_at:>='<since>'"`` sorted by ``UPDATED_AT``
with cursor pagination (the Page cursor is Shopify's ``endCursor``). Writes are
mutations; a payload's ``userErrors`` become a RejectedError carrying Shopify's own
message. Errors in the GraphQL body are read as well as HTTP statuses:

=========================================  ========================================
Shopify answered                           error raised
=========================================  ========================================
``extensions.code == "THROTTLED"``         RateLimited; wait = (requested cost -
                                           currently available) / restore rate
``ACCESS_DENIED``                          AuthError (a scope is missing)
``INTERNAL_SERVER_ERROR``                  TransientError
any other top-level ``errors``             RejectedError (the query itself is wrong)
``userErrors`` / ``orderCancelUserErrors`` RejectedError with Shopify's message
HTTP statuses, timeouts, bad JSON          the table in :mod:`doohickey.connectors.http`
=========================================  ========================================

Pacing: before each query the pacer is asked for its expected *requested cost*
(learned from the last answer of the same operation, conservative before);
after it, ``extensions.cost.throttleStatus`` (currentlyAvailable,
maximumAvailable, restoreRate) is fed back, so the local bucket mirrors
Shopify's and the client waits instead of being THROTTLED.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from doohickey.connectors.http import HttpSession, TokenBucketPacer
from doohickey.connectors.shopify import maps, queries, writes
from doohickey.connectors.shopify.webhooks import record
from doohickey.connectors.spec import (
    ConnectionSettings,
    ConnectOptions,
    PacingSpec,
    Page,
    Record,
    WriteRequest,
    WriteResult,
)
from doohickey.errors import AuthError, DependencyMissing, RateLimited, RejectedError, TransientError

DEFAULT_API_VERSION = "2025-10"
PACING = PacingSpec(kind="cost", rate=50.0, burst=1000.0, max_concurrency=4)
READS = {
    "order": (queries.ORDERS, "orders", maps.order_from_node),
    "customer": (queries.CUSTOMERS, "customers", maps.customer_from_node),
    "product": (queries.PRODUCTS, "products", maps.product_from_node),
    "variant": (queries.VARIANTS, "productVariants", maps.variant_from_node),
}
GETS = {
    "order": (queries.ORDER_BY_ID, "order", maps.order_from_node),
    "customer": (queries.CUSTOMER_BY_ID, "customer", maps.customer_from_node),
    "product": (queries.PRODUCT_BY_ID, "product", maps.product_from_node),
    "variant": (queries.VARIANT_BY_ID, "productVariant", maps.variant_from_node),
    "stock": (queries.LEVEL_BY_ID, "inventoryLevel", maps.level_from_node),
    "fulfilment": (queries.FULFILMENT_BY_ID, "node", maps.fulfilment_from_node),
    "refund": (queries.REFUND_BY_ID, "node", maps.refund_from_node),
}


def search_value(value: str) -> str:
    """A value quoted for Shopify search syntax (single quotes, backslash-escaped)."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def since_query(since: dt.datetime | None) -> str | None:
    """The ``updated_at:>=`` search term for an incremental read (at or after ``since``)."""
    if since is None:
        return None
    stamp = since.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"updated_at:>={search_value(stamp)}"


class ShopifyClient:
    """A live connection to one shop (see :class:`doohickey.connectors.spec.Client`)."""

    def __init__(self, settings: ConnectionSettings, options: ConnectOptions) -> None:
        if "token" not in settings.secrets:
            raise AuthError(f"{settings.system}: the Shopify connection needs the secret 'token' "
                            "(an Admin API access token)", system=settings.system)
        if not settings.url:
            raise RejectedError(f"{settings.system}: the Shopify connection needs 'url' "
                                "(https://<shop>.myshopify.com, or a twin's address)", system=settings.system)
        self.system = settings.system
        self.api_version = str(settings.options.get("api_version") or DEFAULT_API_VERSION)
        self.path = f"/admin/api/{self.api_version}/graphql.json"
        self.location_name = str(settings.options.get("location") or "")
        self.notify = bool(settings.options.get("notify_customer", False))
        if options.pacer is None:
            options = ConnectOptions(transport=options.transport, clock=options.clock, timeout=options.timeout,
                                     pacer=TokenBucketPacer.from_spec(PACING, options.clock))
        self.pacer = options.pacer
        self.http = HttpSession(settings, options, headers={"X-Shopify-Access-Token": settings.secrets["token"]
                                                            .reveal(), "Content-Type": "application/json"})
        self._costs: dict[tuple[str, int], float] = {}
        self._locations: dict[str, str] = {}

    # --- transport ---------------------------------------------------------------------------------

    async def graphql(self, document: str, variables: dict[str, Any] | None = None, *, what: str = "") -> Any:
        """Send one GraphQL document and return its ``data``; raises per the table in the module docstring."""
        name = _operation_name(document)
        key = (name, int((variables or {}).get("first") or 0))
        mutation = document.lstrip().startswith("mutation")
        guess = 10.0 if mutation else 50.0 + 20.0 * key[1]
        body = await self.http.call("POST", self.path, json_body={"query": document, "variables": variables or {},
                                                                   "operationName": name},
                                    cost=lambda: self._costs.get(key, guess), safe=not mutation,
                                    inspect=self._inspect(key, guess),
                                    inspect_status=(429,), what=what or name)
        return body.get("data") or {}

    def _inspect(self, key: tuple[str, int], cost: float):
        def inspect(body: Any, _response: Any) -> None:
            if not isinstance(body, dict):
                raise TransientError(f"{self.system} answered with a JSON body that is not an object",
                                     system=self.system)
            status = ((body.get("extensions") or {}).get("cost") or {})
            throttle = status.get("throttleStatus") or {}
            if status.get("requestedQueryCost") is not None:
                self._costs[key] = float(status["requestedQueryCost"])
            if throttle and self.pacer is not None:
                self.pacer.observe(available=throttle.get("currentlyAvailable"),
                                   limit=throttle.get("maximumAvailable"), restore_rate=throttle.get("restoreRate"))
            if body.get("errors"):
                raise self._graphql_error(body["errors"], status, throttle, self._costs.get(key, cost))
        return inspect

    def _graphql_error(self, errors: Any, cost: dict[str, Any], throttle: dict[str, Any], estimate: float
                       ) -> Exception:
        items = errors if isinstance(errors, list) else [{"message": str(errors)}]
        codes = {str((e.get("extensions") or {}).get("code", "")) for e in items if isinstance(e, dict)}
        said = "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in items)
        kw: dict[str, Any] = {"system": self.system, "detail": said[:500]}
        if "THROTTLED" in codes:
            wait = throttle_wait(cost, throttle, estimate, self.pacer)
            if self.pacer is not None:
                self.pacer.observe(available=throttle.get("currentlyAvailable", 0.0), retry_after=wait)
            return RateLimited(f"{self.system} throttled the query (cost budget used up): {said}", retry_after=wait,
                               **kw)
        if "ACCESS_DENIED" in codes:
            return AuthError(f"{self.system} denied access (is an API scope missing?): {said}", **kw)
        if "INTERNAL_SERVER_ERROR" in codes:
            return TransientError(f"{self.system} failed internally: {said}", **kw)
        return RejectedError(f"{self.system} refused the query: {said}", **kw)

    def _user_errors(self, payload: dict[str, Any] | None, what: str, *keys: str) -> None:
        errors = [e for key in (keys or ("userErrors",)) for e in (payload or {}).get(key) or []]
        if errors:
            said = "; ".join(dict.fromkeys(_user_error_text(e) for e in errors))
            raise RejectedError(f"{self.system} refused to {what}: {said}", system=self.system, status=200,
                                detail=str(errors)[:500])

    # --- Client protocol ---------------------------------------------------------------------------

    async def check(self) -> None:
        """One cheap authenticated call: the shop's name."""
        await self.graphql(queries.SHOP, what="check the connection")

    async def read(self, entity: str, *, since: dt.datetime | None = None, cursor: str | None = None,
                   limit: int = 100) -> Page:
        """One page of ``entity`` updated at or after ``since``, oldest first."""
        first = max(1, min(limit, queries.MAX_PAGE.get(entity, 50)))
        variables = {"first": first, "after": cursor, "query": since_query(since)}
        if entity == "stock":
            return await self._read_stock({**variables, "query": None}, since)
        if entity not in READS:
            raise RejectedError(f"{self.system}: cannot read {entity!r}; readable: "
                                f"{', '.join([*READS, 'stock'])}", system=self.system)
        document, root, convert = READS[entity]
        data = await self.graphql(document, variables, what=f"read {entity}s")
        connection = data.get(root) or {}
        records = []
        for node in connection.get("nodes") or []:
            if entity == "order":
                node = await self._complete_lines(node)
            records.append(record(entity, convert(node)))
        return Page(records, _next(connection))

    async def _read_stock(self, variables: dict[str, Any], since: dt.datetime | None) -> Page:
        """Stock levels page by page over all inventory items, keeping the levels updated at or after ``since``.

        A quantity change updates the level, not its inventory item, so searching items by
        ``updated_at`` would miss it: the scan is complete and the filter is on the level's own
        ``updatedAt`` (a page may then hold no records yet still have a next cursor).
        """
        data = await self.graphql(queries.STOCK, variables, what="read stock levels")
        connection = data.get("inventoryItems") or {}
        records = [self._stock_record(level, item.get("sku") or "")
                   for item in connection.get("nodes") or []
                   for level in (item.get("inventoryLevels") or {}).get("nodes") or []]
        if since is not None:
            records = [r for r in records if r.updated_at is None or r.updated_at >= since]
        return Page(records, _next(connection))

    def _stock_record(self, level: dict[str, Any], sku: str = "") -> Record:
        data = maps.level_from_node(level, sku)
        return record("stock", data, external_id=data["id"])

    async def _complete_lines(self, node: dict[str, Any]) -> dict[str, Any]:
        """Fetch the rest of an order's line items when it has more than one page of them."""
        lines = node.get("lineItems") or {}
        page = lines.get("pageInfo") or {}
        nodes = list(lines.get("nodes") or [])
        while page.get("hasNextPage"):
            data = await self.graphql(queries.ORDER_LINES, {"id": node["id"], "after": page.get("endCursor")},
                                      what="read an order's line items")
            more = ((data.get("order") or {}).get("lineItems")) or {}
            nodes += more.get("nodes") or []
            page = more.get("pageInfo") or {}
        return {**node, "lineItems": {"nodes": nodes}}

    async def get(self, entity: str, external_id: str) -> Record | None:
        """One record by its gid, or None."""
        if entity not in GETS:
            raise RejectedError(f"{self.system}: cannot get {entity!r}", system=self.system)
        document, root, convert = GETS[entity]
        data = await self.graphql(document, {"id": external_id}, what=f"get {entity} {external_id}")
        node = data.get(root)
        if not node:
            return None
        if entity == "stock":
            return self._stock_record(node)
        if entity == "order":
            node = await self._complete_lines(node)
        return record(entity, convert(node))

    async def find(self, entity: str, key: Mapping[str, str]) -> list[Record]:
        """Find by natural key: order ``number``/``email``; customer ``email``/``phone``; product and variant
        ``sku``; stock ``sku`` (+ ``location``); fulfilment and refund ``order_number``; any entity ``id``."""
        if key.get("id"):
            found = await self.get(entity, key["id"])
            return [found] if found else []
        if entity in ("fulfilment", "refund"):
            return await self._find_aftermath(entity, key)
        if entity == "stock":
            return await self._find_stock(key)
        terms = {"order": {"number": "name", "email": "email"}, "customer": {"email": "email", "phone": "phone"},
                 "product": {"sku": "sku", "code": "handle"}, "variant": {"sku": "sku"}}.get(entity, {})
        usable = {f: v for f, v in key.items() if f in terms and v}
        if not usable:
            raise RejectedError(f"{self.system}: cannot find {entity} by {', '.join(key) or 'nothing'}; "
                                f"keys: {', '.join(terms) or 'id'}", system=self.system)
        query = " AND ".join(f"{terms[f]}:{search_value(v)}" for f, v in usable.items())
        document, root, convert = READS[entity]
        data = await self.graphql(document, {"first": min(10, queries.MAX_PAGE[entity]), "query": query},
                                  what=f"find {entity}")
        records = [record(entity, convert(await self._complete_lines(n) if entity == "order" else n))
                   for n in (data.get(root) or {}).get("nodes") or []]
        return [r for r in records if _matches(entity, r.data, usable)]

    async def _find_stock(self, key: Mapping[str, str]) -> list[Record]:
        if not key.get("sku"):
            raise RejectedError(f"{self.system}: stock is found by sku (and location)", system=self.system)
        data = await self.graphql(queries.STOCK, {"first": 5, "query": f"sku:{search_value(key['sku'])}"},
                                  what="find stock")
        found = [self._stock_record(level, item.get("sku") or "")
                 for item in (data.get("inventoryItems") or {}).get("nodes") or [] if item.get("sku") == key["sku"]
                 for level in (item.get("inventoryLevels") or {}).get("nodes") or []]
        location = key.get("location")
        return [r for r in found if not location or location in (r.data["location"], r.data["location_id"])]

    async def _find_aftermath(self, entity: str, key: Mapping[str, str]) -> list[Record]:
        number = key.get("order_number") or ""
        if not number:
            raise RejectedError(f"{self.system}: {entity}s are found by order_number", system=self.system)
        data = await self.graphql(queries.ORDER_AFTERMATH, {"query": f"name:{search_value(number)}"},
                                  what=f"find {entity}s of order {number}")
        out = []
        for order in (data.get("orders") or {}).get("nodes") or []:
            if order.get("name") != number:
                continue
            if entity == "fulfilment":
                out += [record(entity, maps.fulfilment_from_node(f)) for f in order.get("fulfillments") or []]
            else:
                out += [record(entity, maps.refund_from_node(r)) for r in order.get("refunds") or []]
        return out

    async def write(self, request: WriteRequest) -> WriteResult:
        """Perform one write action (see the connector's entity declarations for the actions)."""
        action = writes.ACTIONS.get((request.entity, request.action))
        if action is None:
            known = ", ".join(f"{e}.{a}" for e, a in writes.ACTIONS)
            raise RejectedError(f"{self.system}: no write action {request.entity}.{request.action}; known: {known}",
                                system=self.system)
        return await action(self, request)

    async def location_id(self, name_or_id: str = "") -> str:
        """The gid of a location by name or gid; the setting ``location`` or the first active one by default."""
        wanted = name_or_id or self.location_name
        if wanted.startswith(maps.GID + "Location/"):
            return wanted
        if wanted in self._locations:
            return self._locations[wanted]
        data = await self.graphql(queries.LOCATIONS, {"query": None}, what="list locations")
        nodes = [n for n in (data.get("locations") or {}).get("nodes") or [] if n.get("isActive", True)]
        for node in nodes:
            self._locations[node["name"]] = node["id"]
        if not wanted and nodes:
            self._locations[""] = nodes[0]["id"]
        if wanted not in self._locations:
            raise DependencyMissing(f"{self.system} has no active location named {wanted!r}", system=self.system)
        return self._locations[wanted]

    async def aclose(self) -> None:
        """Close the HTTP session."""
        await self.http.aclose()


def throttle_wait(cost: dict[str, Any], throttle: dict[str, Any], estimate: float, pacer: Any = None) -> float:
    """Seconds until the bucket holds the query's cost again: (requested - available) / restore rate.

    A THROTTLED answer without ``extensions.cost`` means the bucket is empty as far as
    we can tell: the wait is the time to restore the query's (estimated) cost at the
    last known restore rate.
    """
    requested = float(cost.get("requestedQueryCost") or estimate or 1.0)
    available = float(throttle.get("currentlyAvailable") or 0.0)
    rate = float(throttle.get("restoreRate") or getattr(pacer, "rate", 0) or 50.0)
    return round(max((requested - available) / rate, 1.0 / rate, 0.05), 3)


def _operation_name(document: str) -> str:
    head = document.lstrip().split("{", 1)[0].split("(", 1)[0].split()
    return head[1] if len(head) > 1 else "Anonymous"


def _next(connection: dict[str, Any]) -> str | None:
    info = connection.get("pageInfo") or {}
    return info.get("endCursor") if info.get("hasNextPage") else None


def _user_error_text(error: Any) -> str:
    if not isinstance(error, dict):
        return str(error)
    field = ".".join(str(f) for f in error.get("field") or [])
    code = f" [{error['code']}]" if error.get("code") else ""
    return f"{field}: {error.get('message', '')}{code}" if field else f"{error.get('message', '')}{code}"


def _matches(entity: str, data: dict[str, Any], key: Mapping[str, str]) -> bool:
    """Shopify search is fuzzy (prefixes, tokens); keep only exact natural-key matches."""
    for field, wanted in key.items():
        if entity == "order" and field == "number":
            have = data.get("number", "")
        elif entity == "product" and field == "sku":
            return any(v.get("sku") == wanted for v in data.get("variants") or [])
        else:
            have = data.get(field, "")
        if field == "email":
            if str(have).lower() != str(wanted).lower():
                return False
        elif str(have) != str(wanted):
            return False
    return True


def amount(value: Any) -> Decimal:
    """A canonical money value as a Decimal."""
    return Decimal(maps.decimal_text(value, "amount"))
