"""Shopify search syntax (``query:`` arguments) and cursor pagination over the twin's SQLite nodes.

Supported: ``field:value``, ``field:>value`` (``>=``, ``<``, ``<=``), quoted values
(``updated_at:>'2026-01-01T00:00:00Z'``), prefix wildcards (``sku:ABC*``),
negation (``-status:cancelled``), explicit ``AND``, and bare words (matched
against name, email and SKU). ``OR`` and parentheses are not supported; unknown
fields are ignored, as Shopify ignores filters it does not know.
Cursors are opaque base64 JSON of the last row's sort value and id.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import shlex
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from doohickey.twins.shopify.shapes import iso, parse_gid

TIME_FIELDS = {"updated_at", "created_at", "processed_at"}
# Per node type: search field -> SQL expression over the node table.
FIELDS: dict[str, dict[str, str]] = {
    "Order": {"email": "email", "name": "name", "status": "status", "sku": "sku",
              "financial_status": "lower(json_extract(doc, '$.displayFinancialStatus'))",
              "fulfillment_status": "lower(json_extract(doc, '$.displayFulfillmentStatus'))",
              "customer_id": "parent", "test": "json_extract(doc, '$.test')"},
    "Customer": {"email": "email", "phone": "json_extract(doc, '$.phone')", "name": "name",
                 "first_name": "json_extract(doc, '$.firstName')", "last_name": "json_extract(doc, '$.lastName')"},
    "Product": {"title": "name", "status": "lower(status)", "sku": "sku", "vendor": "json_extract(doc, '$.vendor')",
                "product_type": "json_extract(doc, '$.productType')", "handle": "json_extract(doc, '$.handle')"},
    "ProductVariant": {"sku": "sku", "title": "name", "product_id": "parent",
                       "barcode": "json_extract(doc, '$.barcode')"},
    "InventoryItem": {"sku": "sku"},
    "Location": {"name": "name"},
    "WebhookSubscription": {"topic": "name", "uri": "sku"},
}
SORT_COLUMNS = {"ID": "num", "UPDATED_AT": "updated_at", "CREATED_AT": "created_at", "PROCESSED_AT": "processed_at",
                "NAME": "name", "TITLE": "name", "SKU": "sku", "EMAIL": "email"}
_OPS = {">": ">", ">=": ">=", "<": "<", "<=": "<=", "": "="}
_TERM = re.compile(r"^(-?)([a-z_]+):(>=|<=|>|<)?(.*)$", re.S)


class SearchError(ValueError):
    """The query string cannot be read."""


def parse_query(kind: str, query: str | None, now: dt.datetime) -> tuple[list[str], list[Any]]:
    """SQL conditions and parameters for ``query`` over nodes of ``kind``."""
    if not query or not query.strip():
        return [], []
    try:
        tokens = shlex.split(query, posix=True)
    except ValueError as exc:
        raise SearchError(f"cannot read search query {query!r}: {exc}") from None
    fields = FIELDS.get(kind, {})
    where: list[str] = []
    params: list[Any] = []
    for token in tokens:
        if token.upper() in {"AND", "OR", "NOT"}:
            continue
        match = _TERM.match(token)
        if not match:
            word = f"%{token.lower()}%"
            where.append("(lower(coalesce(name,'')) LIKE ? OR coalesce(email,'') LIKE ? OR lower(coalesce(sku,'')) "
                         "LIKE ?)")
            params += [word, word, word]
            continue
        negate, field, op, value = match.groups()
        value = value.strip("'\"")
        clause = _clause(kind, fields, field, op or "", value, now, params)
        if clause:
            where.append(f"NOT ({clause})" if negate else clause)
    return where, params


def _clause(kind: str, fields: dict[str, str], field: str, op: str, value: str, now: dt.datetime,
            params: list[Any]) -> str | None:
    if field in TIME_FIELDS:
        params.append(_time(value, now))
        return f"{field} {_OPS[op]} ?"
    if field == "id":
        num = parse_gid(value) if value.startswith("gid://") else (int(value) if value.isdigit() else None)
        if num is None:
            raise SearchError(f"id filter needs a number or GID, got {value!r}")
        params.append(num)
        return f"num {_OPS[op]} ?"
    expr = fields.get(field)
    if expr is None:
        return None
    if field in {"customer_id", "product_id"} and value.isdigit():
        value = f"gid://shopify/{'Customer' if field == 'customer_id' else 'Product'}/{value}"
    if expr == "sku" and kind in {"Order", "Product"}:
        params.append(f"% {value.replace('*', '%')} %" if "*" in value else f"% {value} %")
        return "sku LIKE ?"
    if value.endswith("*"):
        params.append(value[:-1].lower() + "%")
        return f"lower({expr}) LIKE ?"
    params.append(value.lower() if field in {"email", "status"} else value)
    if field in {"email", "status"} or op:
        return f"{expr} {_OPS[op]} ?"
    return f"lower({expr}) = lower(?)"


def _time(value: str, now: dt.datetime) -> str:
    """A stored-format UTC time from a search value (ISO date or time, with or without zone; ``now``)."""
    if value.lower() == "now":
        return iso(now)
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SearchError(f"cannot read time {value!r} in search query") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return iso(parsed)


def encode_cursor(sort_value: Any, num: int) -> str:
    """An opaque cursor for a row."""
    if sort_value is None and num < 1000:
        return _position_cursor(num)
    raw = json.dumps({"last_id": num, "last_value": sort_value}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@lru_cache(maxsize=1000)
def _position_cursor(num: int) -> str:
    """Cursors of positions in nested lists, which every page of a query repeats: encoded once."""
    raw = json.dumps({"last_id": num, "last_value": None}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[Any, int]:
    """``(sort value, id)`` from a cursor; ValueError when it is not one of ours."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return data["last_value"], int(data["last_id"])
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"Invalid cursor {cursor!r}") from None


@dataclass
class Page:
    """One page of nodes with their cursors and the page info."""

    nodes: list[dict[str, Any]]
    cursors: list[str]
    has_next: bool
    has_previous: bool

    def connection(self) -> dict[str, Any]:
        """The GraphQL connection value (edges, nodes, pageInfo)."""
        edges = [{"cursor": c, "node": n} for c, n in zip(self.cursors, self.nodes, strict=True)]
        return {"edges": edges, "nodes": self.nodes, "pageInfo": {
            "hasNextPage": self.has_next, "hasPreviousPage": self.has_previous,
            "startCursor": self.cursors[0] if self.cursors else None,
            "endCursor": self.cursors[-1] if self.cursors else None}}


def page_size(first: int | None, last: int | None) -> int:
    """The page size Shopify allows: ``first`` or ``last`` between 1 and 250, one of them required."""
    size = first if first is not None else last
    if size is None:
        raise SearchError("you must provide one of first or last")
    if size < 0 or size > 250:
        raise SearchError(f"the page size must be between 0 and 250 (got {size})")
    return size


def paginate_list(items: list[Any], args: dict[str, Any]) -> dict[str, Any]:
    """Cursor pagination over an in-memory list (a node's nested connection); cursors are positions."""
    if args.get("reverse"):
        items = list(reversed(items))
    start, end = 0, len(items)
    if args.get("after"):
        start = decode_cursor(args["after"])[1] + 1
    if args.get("before"):
        end = decode_cursor(args["before"])[1]
    window = list(enumerate(items))[start:end]
    if args.get("first") is not None:
        has_next, has_prev = len(window) > args["first"], start > 0
        window = window[: args["first"]]
    elif args.get("last") is not None:
        has_prev, has_next = len(window) > args["last"], end < len(items)
        window = window[max(len(window) - args["last"], 0):]
    else:
        raise SearchError("you must provide one of first or last")
    return Page([item for _, item in window], [encode_cursor(None, i) for i, _ in window], has_next,
                has_prev).connection()
