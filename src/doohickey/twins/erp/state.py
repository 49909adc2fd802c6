"""The ERP twin's state: customers, items, sales orders, stock, item fulfilments and credit memos in SQLite.

Each resource is one table holding the JSON document the API returns, plus the
columns it is filtered and paged on. Every write stamps ``updated_at`` from the
injected clock and a monotonically increasing ``seq``, so ``updated_since``
polling pages in a stable order (``updated_at``, then ``seq``).

Business rules live here (not in the routes) and raise :class:`ErpError` with a
message in business words ("product code SKU-123 does not exist"); the routes
turn it into the NetSuite-style error body. Money is :class:`~decimal.Decimal`,
stored as strings. The state is thread-safe (one lock): tests seed and inspect it
directly while the server thread serves requests.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import threading
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from doohickey import model
from doohickey.clock import Clock

STATUSES = ("draft", "confirmed", "partially_fulfilled", "fulfilled", "cancelled")
DEFAULT_LOCATION = "WH-MAIN"

_TABLES = {
    "customers": "CUS",
    "items": "ITM",
    "sales_orders": "SO",
    "stock": "STK",
    "fulfilments": "IF",
    "credit_memos": "CM",
}


class ErpError(Exception):
    """A business rule refused the request: ``status`` (HTTP), ``code`` (NetSuite-style), ``path`` (field)."""

    def __init__(self, message: str, *, status: int = 400, code: str = "INVALID_VALUE", path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.path = path


def _money(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)


def digits(phone: str) -> str:
    """The digits of a phone number, for matching "+1 415-555-0100" with "14155550100"."""
    return re.sub(r"\D", "", phone or "")


class ErpState:
    """The ERP's data and rules; ``path`` is a SQLite file or ``:memory:``."""

    def __init__(self, clock: Clock, path: str = ":memory:", *, allow_negative_stock: bool = True) -> None:
        self.clock = clock
        self.allow_negative_stock = allow_negative_stock
        self.lock = threading.RLock()
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self._create_schema()

    # --- storage ---------------------------------------------------------------------------------

    def _create_schema(self) -> None:
        for table in _TABLES:
            self.db.execute(
                f"CREATE TABLE IF NOT EXISTS {table} (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, doc TEXT NOT NULL,"
                " updated_at TEXT NOT NULL, k1 TEXT, k2 TEXT)"
            )
            self.db.execute(f"CREATE INDEX IF NOT EXISTS {table}_upd ON {table} (updated_at, seq)")
            self.db.execute(f"CREATE INDEX IF NOT EXISTS {table}_k1 ON {table} (k1)")
        self.db.execute("CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")
        self.db.execute("CREATE TABLE IF NOT EXISTS idempotency (key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL,"
                        " resource TEXT NOT NULL, id TEXT NOT NULL)")

    def _next(self, name: str) -> int:
        row = self.db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        value = (row["value"] if row else 0) + 1
        self.db.execute("INSERT OR REPLACE INTO counters (name, value) VALUES (?, ?)", (name, value))
        return value

    def _new_id(self, table: str) -> str:
        return f"{_TABLES[table]}-{self._next(table):06d}"

    def _save(self, table: str, doc: dict[str, Any], k1: str | None = None, k2: str | None = None) -> dict[str, Any]:
        now = model.stamp(self.clock.now())
        doc.setdefault("created_at", now)
        doc["updated_at"] = now
        self.db.execute(
            f"INSERT OR REPLACE INTO {table} (id, seq, doc, updated_at, k1, k2) VALUES (?, ?, ?, ?, ?, ?)",
            (doc["id"], self._next("seq"), json.dumps(doc), now, k1, k2),
        )
        return doc

    def _load(self, table: str, record_id: str) -> dict[str, Any] | None:
        row = self.db.execute(f"SELECT doc FROM {table} WHERE id = ?", (record_id,)).fetchone()
        return json.loads(row["doc"]) if row else None

    def page(self, table: str, *, updated_since: dt.datetime | None = None, page: int = 1, limit: int = 50,
             where: Iterable[tuple[str, Any]] = ()) -> tuple[list[dict[str, Any]], int]:
        """One page of ``table`` oldest change first, and the total count; ``where`` is (sql, param) pairs."""
        clauses, params = [], []
        if updated_since is not None:
            clauses.append("updated_at >= ?")
            params.append(model.stamp(updated_since))
        for sql, param in where:
            clauses.append(sql)
            params.append(param)
        cond = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self.lock:
            total = self.db.execute(f"SELECT COUNT(*) FROM {table} {cond}", params).fetchone()[0]
            rows = self.db.execute(
                f"SELECT doc FROM {table} {cond} ORDER BY updated_at, seq LIMIT ? OFFSET ?",
                [*params, limit, (page - 1) * limit],
            ).fetchall()
        return [json.loads(r["doc"]) for r in rows], total

    def count(self, table: str) -> int:
        """How many records ``table`` holds."""
        with self.lock:
            return self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]

    def get(self, table: str, record_id: str) -> dict[str, Any] | None:
        """One record by id, or None."""
        with self.lock:
            return self._load(table, record_id)

    def all(self, table: str) -> list[dict[str, Any]]:
        """Every record of ``table``, oldest change first (for tests and /_twin/ inspection)."""
        return self.page(table, limit=1_000_000)[0]

    # --- idempotency -----------------------------------------------------------------------------

    def replay(self, key: str | None, fingerprint: str, resource: str) -> dict[str, Any] | None:
        """The record a previous request with this Idempotency-Key created, or None if the key is new."""
        if not key:
            return None
        with self.lock:
            row = self.db.execute("SELECT * FROM idempotency WHERE key = ?", (key,)).fetchone()
            if row is None:
                return None
            if row["fingerprint"] != fingerprint or row["resource"] != resource:
                raise ErpError(f"Idempotency-Key {key!r} was already used with a different request",
                               status=422, code="IDEMPOTENCY_KEY_REUSED")
            return self._load(resource, row["id"])

    def _remember(self, key: str | None, fingerprint: str, resource: str, record_id: str) -> None:
        if key:
            self.db.execute("INSERT OR IGNORE INTO idempotency (key, fingerprint, resource, id) VALUES (?, ?, ?, ?)",
                            (key, fingerprint, resource, record_id))

    # --- customers -------------------------------------------------------------------------------

    def create_customer(self, data: dict[str, Any], *, key: str | None = None, fingerprint: str = "") -> dict:
        """Create a customer; email is not unique (as in most ERPs), external_ref is."""
        with self.lock:
            ref = data.get("external_ref")
            if ref:
                existing = self.db.execute("SELECT doc FROM customers WHERE k2 = ?", (ref,)).fetchone()
                if existing:
                    return json.loads(existing["doc"])
            doc = {"id": self._new_id("customers"), **data}
            self._save("customers", doc, (doc.get("email") or "").lower(), ref)
            self._remember(key, fingerprint, "customers", doc["id"])
            return doc

    def update_customer(self, customer_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply ``changes`` (only the fields given) to a customer."""
        with self.lock:
            doc = self._load("customers", customer_id)
            if doc is None:
                raise ErpError(f"customer {customer_id} does not exist", status=404, code="NONEXISTENT_ID")
            doc.update(changes)
            return self._save("customers", doc, (doc.get("email") or "").lower(), doc.get("external_ref"))

    def find_customers(self, *, email: str | None = None, phone: str | None = None) -> list[dict[str, Any]]:
        """Customers by email (case-insensitive) and/or phone (digits compared, any format)."""
        with self.lock:
            if email:
                rows = self.db.execute("SELECT doc FROM customers WHERE k1 = ? ORDER BY seq",
                                       (email.strip().lower(),)).fetchall()
                found = [json.loads(r["doc"]) for r in rows]
            else:
                found = self.all("customers")
        if phone:
            wanted = digits(phone)
            found = [c for c in found if wanted and _phone_match(digits(c.get("phone", "")), wanted)]
        return found

    # --- items and stock -------------------------------------------------------------------------

    def upsert_item(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create or replace an item by its product code."""
        code = (data.get("code") or "").strip()
        if not code:
            raise ErpError("an item needs a product code", code="MISSING_REQD_FLD", path="code")
        with self.lock:
            doc = self._load("items", code) or {}
            doc.update(data)
            doc["id"] = code
            return self._save("items", doc, code)

    def item(self, code: str) -> dict[str, Any]:
        """The item with product code ``code``, or a business error naming it."""
        with self.lock:
            doc = self._load("items", code)
        if doc is None:
            raise ErpError(f"product code {code} does not exist", code="INVALID_KEY_OR_REF", path="item_code")
        return doc

    def stock_level(self, code: str, location: str) -> dict[str, Any] | None:
        """The stock record of one item at one location, or None."""
        with self.lock:
            return self._load("stock", f"{code}@{location}")

    def adjust_stock(self, code: str, location: str, *, delta: int | None = None, on_hand: int | None = None,
                     reason: str = "", committed_delta: int = 0, key: str | None = None,
                     fingerprint: str = "") -> dict[str, Any]:
        """Change stock of ``code`` at ``location`` by ``delta`` or set it to ``on_hand``.

        ``committed_delta`` moves the quantity promised to confirmed orders;
        ``available = on_hand - committed`` is what the shop may sell.
        """
        self.item(code)
        with self.lock:
            doc = self._load("stock", f"{code}@{location}") or {
                "id": f"{code}@{location}", "item_code": code, "location": location, "on_hand": 0, "committed": 0}
            new = on_hand if on_hand is not None else doc["on_hand"] + (delta or 0)
            if new < 0 and not self.allow_negative_stock:
                raise ErpError(f"insufficient stock of {code} at {location}: {doc['on_hand']} on hand",
                               code="INSUFFICIENT_STOCK")
            doc["on_hand"] = new
            doc["committed"] = max(doc.get("committed", 0) + committed_delta, 0)
            doc["available"] = new - doc["committed"]
            doc["last_reason"] = reason
            saved = self._save("stock", doc, code, location)
            self._remember(key, fingerprint, "stock", saved["id"])
            return saved

    def _commit(self, order: dict[str, Any], sign: int) -> None:
        """Promise (sign +1) or release (-1) the open quantities of an order at its location."""
        for line in order["lines"]:
            open_quantity = line["quantity"] - line["quantity_fulfilled"]
            if open_quantity > 0 and not line.get("is_gift_card"):
                self.adjust_stock(line["item_code"], order.get("location") or DEFAULT_LOCATION, delta=0,
                                  committed_delta=sign * open_quantity, reason=f"commitment of {order['id']}")

    # --- sales orders ----------------------------------------------------------------------------

    def create_order(self, data: dict[str, Any], *, key: str | None = None, fingerprint: str = "") -> tuple[dict, bool]:
        """Create a sales order from a validated request; returns (order, created).

        An order whose ``external_ref`` already exists is returned as it is (created
        False), so a retried create never makes a second order even without a key.
        """
        with self.lock:
            ref = data.get("external_ref")
            if ref:
                row = self.db.execute("SELECT doc FROM sales_orders WHERE k2 = ?", (ref,)).fetchone()
                if row:
                    return json.loads(row["doc"]), False
            if data.get("customer_id") and self._load("customers", data["customer_id"]) is None:
                raise ErpError(f"customer {data['customer_id']} does not exist", code="INVALID_KEY_OR_REF",
                               path="customer_id")
            status = data.get("status") or "draft"
            if status not in ("draft", "confirmed"):
                raise ErpError(f"a new sales order must be draft or confirmed, not {status}", path="status")
            lines = [self._order_line(i, line) for i, line in enumerate(data.get("lines") or [])]
            if not lines:
                raise ErpError("a sales order needs at least one line", code="MISSING_REQD_FLD", path="lines")
            doc = {**data, "id": self._new_id("sales_orders"), "status": status, "lines": lines}
            doc["number"] = doc["id"]
            _totals(doc)
            expected = data.get("expected_total")
            if expected is not None and _money(expected) != _money(doc["total"]):
                raise ErpError(f"total {expected} does not match the computed total {doc['total']} "
                               f"(subtotal {doc['subtotal']} - discounts {doc['discount_total']} + shipping "
                               f"{doc['shipping_fee']} + tax {doc['tax_total']})", path="expected_total")
            doc.pop("expected_total", None)
            doc["location"] = data.get("location") or DEFAULT_LOCATION
            self._save("sales_orders", doc, status, ref)
            if status == "confirmed":
                self._commit(doc, +1)
            self._remember(key, fingerprint, "sales_orders", doc["id"])
            return doc, True

    def _order_line(self, index: int, line: dict[str, Any]) -> dict[str, Any]:
        code = line.get("item_code") or ""
        try:
            item = self.item(code)
        except ErpError as exc:
            exc.path = f"lines[{index}].item_code"
            raise
        quantity = int(line.get("quantity") or 0)
        if quantity <= 0:
            raise ErpError(f"line {index + 1} ({code}): quantity must be at least 1", path=f"lines[{index}].quantity")
        price = _money(line["unit_price"]) if line.get("unit_price") is not None else _money(item.get("price"))
        discount = _money(line.get("discount"))
        if discount > price * quantity:
            raise ErpError(f"line {index + 1} ({code}): discount {discount} exceeds the line amount "
                           f"{price * quantity}", path=f"lines[{index}].discount")
        return {
            "line_no": index + 1, "item_code": code, "description": line.get("description") or item.get("name", ""),
            "quantity": quantity, "unit_price": str(price), "discount": str(discount),
            "tax_rate": str(_money(line.get("tax_rate"))), "tax_amount": str(_money(line.get("tax_amount"))),
            "amount": str(price * quantity - discount), "quantity_fulfilled": 0,
            "is_gift_card": bool(line.get("is_gift_card", item.get("is_gift_card", False))),
        }

    def order(self, order_id: str) -> dict[str, Any]:
        """A sales order by id, or a 404 business error."""
        with self.lock:
            doc = self._load("sales_orders", order_id)
        if doc is None:
            raise ErpError(f"sales order {order_id} does not exist", status=404, code="NONEXISTENT_ID")
        return doc

    def set_status(self, order_id: str, status: str) -> dict[str, Any]:
        """Move an order along the workflow: confirm a draft, or cancel an unfulfilled order."""
        with self.lock:
            doc = self.order(order_id)
            current = doc["status"]
            if current == status:
                return doc
            allowed = {"confirmed": ("draft",), "cancelled": ("draft", "confirmed")}[status]
            if current not in allowed:
                verb = "confirmed" if status == "confirmed" else "cancelled"
                raise ErpError(f"sales order {order_id} is {current.replace('_', ' ')} and cannot be {verb}",
                               status=422, code="INVALID_STATUS_TRANSITION", path="status")
            if status == "confirmed":
                self._commit(doc, +1)
            elif current == "confirmed":
                self._commit(doc, -1)
            doc["status"] = status
            if status == "cancelled":
                doc["cancelled_at"] = model.stamp(self.clock.now())
            return self._save("sales_orders", doc, status, doc.get("external_ref"))

    # --- fulfilments -----------------------------------------------------------------------------

    def fulfil(self, order_id: str, data: dict[str, Any], *, key: str | None = None, fingerprint: str = "") -> dict:
        """Record an item fulfilment (all or part of the open quantities) and move the order's status."""
        with self.lock:
            order = self.order(order_id)
            if order["status"] not in ("confirmed", "partially_fulfilled"):
                raise ErpError(f"sales order {order_id} is {order['status'].replace('_', ' ')}; only confirmed "
                               "orders can be fulfilled", status=422, code="INVALID_STATUS_TRANSITION")
            requested = data.get("lines") or [
                {"item_code": ln["item_code"], "quantity": ln["quantity"] - ln["quantity_fulfilled"]}
                for ln in order["lines"] if ln["quantity"] > ln["quantity_fulfilled"]]
            location = data.get("location") or DEFAULT_LOCATION
            gift_cards = {ln["item_code"] for ln in order["lines"] if ln.get("is_gift_card")}
            shipped = self._allocate(order, requested)
            for code, quantity in shipped:
                if code in gift_cards:
                    continue  # nothing physical leaves the warehouse
                release = -quantity
                if location != (order.get("location") or DEFAULT_LOCATION):
                    self.adjust_stock(code, order.get("location") or DEFAULT_LOCATION, delta=0,
                                      committed_delta=release, reason=f"fulfilment of {order_id} elsewhere")
                    release = 0
                self.adjust_stock(code, location, delta=-quantity, committed_delta=release,
                                  reason=f"fulfilment of {order_id}")
            done = all(ln["quantity_fulfilled"] >= ln["quantity"] for ln in order["lines"])
            order["status"] = "fulfilled" if done else "partially_fulfilled"
            self._save("sales_orders", order, order["status"], order.get("external_ref"))
            doc = {
                "id": self._new_id("fulfilments"), "order_id": order_id,
                "order_external_ref": order.get("external_ref"),
                "status": "shipped", "location": location, "carrier": data.get("carrier") or "",
                "tracking_number": data.get("tracking_number") or "", "tracking_url": data.get("tracking_url") or "",
                "lines": [{"item_code": c, "quantity": q} for c, q in shipped], "memo": data.get("memo") or "",
            }
            self._save("fulfilments", doc, order_id)
            self._remember(key, fingerprint, "fulfilments", doc["id"])
            return doc

    def _allocate(self, order: dict[str, Any], requested: list[dict[str, Any]]) -> list[tuple[str, int]]:
        shipped = []
        for index, want in enumerate(requested):
            code, quantity = want.get("item_code") or "", int(want.get("quantity") or 0)
            if quantity <= 0:
                raise ErpError(f"fulfilment line {index + 1} ({code}): quantity must be at least 1",
                               path=f"lines[{index}].quantity")
            open_lines = [ln for ln in order["lines"] if ln["item_code"] == code]
            if not open_lines:
                raise ErpError(f"product code {code} is not on sales order {order['id']}",
                               path=f"lines[{index}].item_code")
            left = sum(ln["quantity"] - ln["quantity_fulfilled"] for ln in open_lines)
            if quantity > left:
                raise ErpError(f"cannot fulfil {quantity} of {code} on {order['id']}: only {left} left to fulfil",
                               path=f"lines[{index}].quantity")
            remaining = quantity
            for ln in open_lines:
                take = min(remaining, ln["quantity"] - ln["quantity_fulfilled"])
                ln["quantity_fulfilled"] += take
                remaining -= take
            shipped.append((code, quantity))
        if not shipped:
            raise ErpError(f"sales order {order['id']} has nothing left to fulfil", status=422)
        return shipped

    # --- credit memos ----------------------------------------------------------------------------

    def credit(self, data: dict[str, Any], *, key: str | None = None, fingerprint: str = "") -> dict[str, Any]:
        """Record a credit memo (a refund) against an order, never more than what is left to refund."""
        with self.lock:
            ref = data.get("external_ref")
            if ref:
                row = self.db.execute("SELECT doc FROM credit_memos WHERE k2 = ?", (ref,)).fetchone()
                if row:
                    return json.loads(row["doc"])
            order = self.order(data.get("order_id") or "")
            if order["status"] == "draft":
                raise ErpError(f"sales order {order['id']} is a draft; nothing was charged to credit", status=422)
            lines = []
            for index, line in enumerate(data.get("lines") or []):
                code = line.get("item_code") or ""
                ordered = sum(ln["quantity"] for ln in order["lines"] if ln["item_code"] == code)
                if not ordered:
                    raise ErpError(f"product code {code} is not on sales order {order['id']}",
                                   path=f"lines[{index}].item_code")
                if int(line.get("quantity") or 0) > ordered:
                    raise ErpError(f"cannot credit {line.get('quantity')} of {code}: only {ordered} ordered",
                                   path=f"lines[{index}].quantity")
                lines.append({"item_code": code, "quantity": int(line.get("quantity") or 0),
                              "amount": str(_money(line.get("amount"))), "restock": bool(line.get("restock"))})
            amount = sum((_money(ln["amount"]) for ln in lines), Decimal(0)) + _money(data.get("shipping_amount"))
            if data.get("amount") is not None:  # the total credited, tax included, when the caller knows it
                if _money(data["amount"]) < amount:
                    raise ErpError(f"credit amount {data['amount']} is less than its lines and shipping ({amount})",
                                   path="amount")
                amount = _money(data["amount"])
            credited = sum((_money(m["amount"]) for m in self.all("credit_memos") if m["order_id"] == order["id"]),
                           Decimal(0))
            balance = _money(order["total"]) - credited
            if amount <= 0:
                raise ErpError("a credit memo must be for more than 0", path="amount")
            if amount > balance:
                raise ErpError(f"credit of {amount} {order['currency']} exceeds the refundable balance of "
                               f"{balance} {order['currency']} on {order['id']}", path="amount")
            for line in lines:
                if line["restock"]:
                    self.adjust_stock(line["item_code"], data.get("location") or DEFAULT_LOCATION,
                                      delta=line["quantity"], reason=f"return on {order['id']}")
            doc = {"id": self._new_id("credit_memos"), "order_id": order["id"], "external_ref": ref,
                   "order_external_ref": order.get("external_ref"),
                   "currency": order["currency"], "amount": str(amount),
                   "shipping_amount": str(_money(data.get("shipping_amount"))), "lines": lines,
                   "reason": data.get("reason") or ""}
            self._save("credit_memos", doc, order["id"], ref)
            self._remember(key, fingerprint, "credit_memos", doc["id"])
            return doc

    # --- seeding from canonical entities ---------------------------------------------------------

    def seed(self, *, products: Iterable[model.Product] = (), customers: Iterable[model.Customer] = (),
             stock: Iterable[model.StockLevel] = (), orders: Iterable[model.Order] = ()) -> dict[str, int]:
        """Load canonical entities (e.g. from the data generator); returns how many of each were loaded."""
        counts = {"items": 0, "customers": 0, "stock": 0, "sales_orders": 0}
        for product in products:
            for variant in product.variants:
                self.upsert_item({
                    "code": variant.sku, "name": f"{product.title} - {variant.title}".strip(" -"),
                    "product_code": product.code or product.id, "price": str(variant.price),
                    "barcode": variant.barcode, "weight_grams": variant.weight_grams,
                    "is_gift_card": product.id == "GIFT" or product.product_type.lower() == "gift card",
                    "active": product.status == "active",
                })
                counts["items"] += 1
        for customer in customers:
            self.create_customer(_customer_doc(customer))
            counts["customers"] += 1
        for level in stock:
            self.adjust_stock(level.sku, level.location or DEFAULT_LOCATION, on_hand=level.on_hand, reason="seed")
            counts["stock"] += 1
        for order in orders:
            self.create_order(_order_doc(order))
            counts["sales_orders"] += 1
        return counts


def _phone_match(have: str, wanted: str) -> bool:
    # National and international forms differ by the country code / trunk prefix: compare the last 9 digits.
    return bool(have) and (have == wanted or (len(wanted) >= 9 and have[-9:] == wanted[-9:]))


def _totals(doc: dict[str, Any]) -> None:
    lines = doc["lines"]
    subtotal = sum((_money(ln["unit_price"]) * ln["quantity"] for ln in lines), Decimal(0))
    discount = sum((_money(ln["discount"]) for ln in lines), Decimal(0))
    shipping = _money(doc.get("shipping_fee"))
    tax = sum((_money(ln["tax_amount"]) for ln in lines), Decimal(0)) + _money(doc.get("shipping_tax"))
    doc.update(subtotal=str(subtotal), discount_total=str(discount), shipping_fee=str(shipping),
               shipping_tax=str(_money(doc.get("shipping_tax"))), tax_total=str(tax),
               total=str(subtotal - discount + shipping + tax))


def _address_doc(address: model.Address | None) -> dict[str, str] | None:
    if address is None:
        return None
    return {"name": f"{address.first_name} {address.last_name}".strip(), "company": address.company,
            "line1": address.line1, "line2": address.line2, "city": address.city, "region": address.province,
            "postal_code": address.postal_code, "country": address.country, "phone": address.phone}


def _customer_doc(customer: model.Customer) -> dict[str, Any]:
    return {"external_ref": customer.id or None, "email": customer.email, "first_name": customer.first_name,
            "last_name": customer.last_name, "company": customer.company, "phone": customer.phone,
            "addresses": [_address_doc(a) for a in customer.addresses]}


def _order_doc(order: model.Order) -> dict[str, Any]:
    return {
        "external_ref": order.number or order.id, "status": "confirmed", "currency": order.currency,
        "email": order.email, "ship_to": _address_doc(order.shipping_address),
        "bill_to": _address_doc(order.billing_address),
        "lines": [{"item_code": ln.sku, "quantity": ln.quantity, "unit_price": str(ln.unit_price),
                   "discount": str(ln.discount), "tax_amount": str(sum((t.amount for t in ln.taxes), Decimal(0))),
                   "tax_rate": str(ln.taxes[0].rate) if ln.taxes else "0", "is_gift_card": ln.gift_card}
                  for ln in order.lines],
        "shipping_fee": str(order.shipping_total),
        "shipping_tax": str(sum((t.amount for s in order.shipping_lines for t in s.taxes), Decimal(0))),
        "memo": order.note,
    }
