"""The Shopify twin's state: every node as a JSON document in SQLite, plus inventory levels.

Documents are stored in the shape the Admin GraphQL API returns them (camelCase
keys, MoneyBags, GIDs), so most fields resolve by plain lookup; a reference to
another node is stored as ``{"__ref": gid}`` and resolved on read. Search keys
(times, email, SKU, name, status) are columns so ``query:`` filters and cursor
pagination run in SQL.

Every change that Shopify would announce calls :meth:`ShopState.emit` with the
webhook topic and the node; listeners (the webhook deliverer) build and send
the payload. All methods are thread-safe: the twin serves from a uvicorn thread
while tests seed and inspect from theirs.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from doohickey.clock import SYSTEM_CLOCK, Clock
from doohickey.twins.shopify.shapes import UserErrors, gid, gql_amount, iso, mailing_address, parse_gid, user_error

SCHEMA = """
CREATE TABLE node (
  gid TEXT PRIMARY KEY, type TEXT NOT NULL, num INTEGER NOT NULL,
  created_at TEXT, updated_at TEXT, processed_at TEXT,
  email TEXT, sku TEXT, name TEXT, status TEXT, parent TEXT, doc TEXT NOT NULL
);
CREATE INDEX node_type_num ON node(type, num);
CREATE INDEX node_type_updated ON node(type, updated_at, num);
CREATE INDEX node_type_email ON node(type, email);
CREATE INDEX node_type_sku ON node(type, sku);
CREATE INDEX node_parent ON node(parent);
CREATE TABLE level (
  item INTEGER NOT NULL, location INTEGER NOT NULL, on_hand INTEGER NOT NULL, committed INTEGER NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (item, location)
);
CREATE TABLE seq (type TEXT PRIMARY KEY, next INTEGER NOT NULL);
"""

# First numeric id per type: realistic sizes, distinct ranges so a wrong-type lookup never hits.
ID_BASE = {
    "Order": 5_500_000_000_001, "LineItem": 14_000_000_000_001, "Customer": 7_100_000_000_001,
    "Product": 8_200_000_000_001, "ProductVariant": 44_000_000_000_001, "InventoryItem": 46_000_000_000_001,
    "Location": 70_000_000_001, "Fulfillment": 5_000_000_001, "FulfillmentOrder": 6_300_000_000_001,
    "FulfillmentOrderLineItem": 13_000_000_000_001, "FulfillmentLineItem": 11_000_000_000_001,
    "Refund": 900_000_000_001, "RefundLineItem": 500_000_000_001, "OrderTransaction": 6_800_000_000_001,
    "MailingAddress": 8_900_000_000_001, "WebhookSubscription": 1_400_000_001, "InventoryAdjustmentGroup": 3_000_001,
    "Job": 1_000_001, "ShippingLine": 4_700_000_000_001, "OrderNumber": 1001, "TaxLine": 1,
}
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

Listener = Callable[[str, dict[str, Any]], None]


class ShopState:
    """One shop's data: nodes, inventory levels, id sequences; emits webhook topics on change."""

    def __init__(self, *, clock: Clock | None = None, path: str = ":memory:", shop_domain: str = "twin.myshopify.com",
                 currency: str = "USD", shop_name: str = "Doohickey Twin Shop") -> None:
        self.clock = clock or SYSTEM_CLOCK
        self.shop_domain = shop_domain
        self.shop_name = shop_name
        self.currency = currency
        self.listeners: list[Listener] = []
        self.wants: Callable[[str], bool] = lambda topic: True
        """Whether any listener wants ``topic``: lets emit skip snapshotting events nobody subscribed to."""
        self._lock = threading.RLock()
        # Parsed documents for the read path (GraphQL), dropped on every write of the node; writers get copies.
        self._docs: dict[str, dict[str, Any]] = {}
        self.version = 0
        """Bumped by every committed write: read results cached under an older version are stale."""
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL") if path != ":memory:" else None
        if not self._db.execute("SELECT name FROM sqlite_master WHERE name='node'").fetchone():
            self._db.executescript(SCHEMA)

    # ------------------------------------------------------------------ storage

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Hold the lock and one SQLite transaction; emitted events are sent only after commit."""
        with self._lock:
            outer = not self._db.in_transaction
            if outer:
                self._pending: list[tuple[str, dict[str, Any]]] = []
                self._db.execute("BEGIN")
            try:
                yield
            except BaseException:
                if outer:
                    self._db.execute("ROLLBACK")
                    self._pending = []
                    self._docs.clear()
                    self.version += 1
                raise
            if outer:
                self._db.execute("COMMIT")
                self.version += 1
                pending, self._pending = self._pending, []
                for topic, node in pending:
                    for listener in list(self.listeners):
                        listener(topic, node)

    def emit(self, topic: str, node: dict[str, Any]) -> None:
        """Announce ``topic`` (``orders/create``) about ``node``, after the current transaction commits."""
        if not self.listeners or not self.wants(topic):
            return
        node = json.loads(json.dumps(node))  # a snapshot: later changes must not leak into this event
        with self._lock:
            if self._db.in_transaction:
                self._pending.append((topic, node))
                return
        for listener in list(self.listeners):
            listener(topic, node)

    def next_id(self, kind: str) -> int:
        """The next numeric id for ``kind``."""
        with self._lock:
            row = self._db.execute("SELECT next FROM seq WHERE type=?", (kind,)).fetchone()
            num = row[0] if row else ID_BASE.get(kind, 1_000_001)
            self._db.execute("INSERT OR REPLACE INTO seq(type, next) VALUES (?, ?)", (kind, num + 1))
            return num

    def now(self) -> str:
        """The current time as a stored timestamp."""
        return iso(self.clock.now())

    def put(self, doc: dict[str, Any], *, email: str | None = None, sku: str | None = None, name: str | None = None,
            status: str | None = None, parent: str | None = None) -> dict[str, Any]:
        """Insert or replace a node document with its search keys."""
        kind = doc["__typename"]
        with self._lock:
            self._docs.pop(doc["id"], None)
            self.version += 1
            self._db.execute(
                "INSERT OR REPLACE INTO node(gid, type, num, created_at, updated_at, processed_at, email, sku, name,"
                " status, parent, doc) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (doc["id"], kind, parse_gid(doc["id"]), doc.get("createdAt"), doc.get("updatedAt"),
                 doc.get("processedAt"), (email or "").lower() or None, sku, name, status, parent,
                 json.dumps(doc, separators=(",", ":"))),
            )
        return doc

    def get(self, node_gid: str, kind: str | None = None) -> dict[str, Any] | None:
        """The document of ``node_gid`` (of ``kind`` when given), or None."""
        with self._lock:
            row = self._db.execute("SELECT type, doc FROM node WHERE gid=?", (node_gid,)).fetchone()
        if row is None or (kind and row[0] != kind):
            return None
        return json.loads(row[1])

    def read(self, node_gid: str) -> dict[str, Any] | None:
        """The document of ``node_gid`` for reading only (shared and cached: never modify it)."""
        doc = self._docs.get(node_gid)
        if doc is None:
            with self._lock:  # so a write between load and store cannot leave a stale copy cached
                doc = self.get(node_gid)
                if doc is not None:
                    self._docs[node_gid] = doc
        return doc

    def select_read(self, sql_where: str, params: tuple | list, *, order: str = "num", limit: int | None = None
                    ) -> list[dict[str, Any]]:
        """Like :meth:`select`, for reading only: documents come from (and go to) the read cache."""
        sql = f"SELECT gid FROM node WHERE {sql_where} ORDER BY {order}" + (f" LIMIT {int(limit)}" if limit else "")
        with self._lock:
            gids = [row[0] for row in self._db.execute(sql, params).fetchall()]
        return [doc for doc in (self.read(g) for g in gids) if doc is not None]

    def get_many(self, gids: list[str]) -> dict[str, dict[str, Any]]:
        """Documents by GID for the ones that exist."""
        if not gids:
            return {}
        with self._lock:
            rows = self._db.execute(
                f"SELECT gid, doc FROM node WHERE gid IN ({','.join('?' * len(gids))})", gids).fetchall()
        return {g: json.loads(d) for g, d in rows}

    def select(self, sql_where: str, params: tuple | list, *, order: str = "num", limit: int | None = None
               ) -> list[dict[str, Any]]:
        """Documents matching a WHERE clause over the node table."""
        sql = f"SELECT doc FROM node WHERE {sql_where} ORDER BY {order}" + (f" LIMIT {int(limit)}" if limit else "")
        with self._lock:
            return [json.loads(row[0]) for row in self._db.execute(sql, params).fetchall()]

    def count(self, sql_where: str, params: tuple | list) -> int:
        """How many nodes match a WHERE clause."""
        with self._lock:
            return self._db.execute(f"SELECT count(*) FROM node WHERE {sql_where}", params).fetchone()[0]

    def find_one(self, kind: str, column: str, value: str) -> dict[str, Any] | None:
        """The first node of ``kind`` whose search column (email, sku, name) equals ``value``."""
        assert column in {"email", "sku", "name", "parent"}
        found = self.select(f"type=? AND {column}=?", (kind, value.lower() if column == "email" else value), limit=1)
        return found[0] if found else None

    def all(self, kind: str) -> list[dict[str, Any]]:
        """Every node of ``kind``, oldest first."""
        return self.select("type=?", (kind,))

    # ---------------------------------------------------------------- locations

    def add_location(self, name: str, *, country: str = "US", city: str = "", address1: str = "",
                     zip_code: str = "") -> dict[str, Any]:
        """Create a location (the first one is the shop's primary location)."""
        with self.transaction():
            num = self.next_id("Location")
            now = self.now()
            doc = {
                "__typename": "Location", "id": gid("Location", num), "legacyResourceId": str(num), "name": name,
                "isActive": True, "activatable": True, "deactivatable": True, "deletable": False,
                "fulfillsOnlineOrders": True, "hasActiveInventory": True, "shipsInventory": True,
                "addressVerified": True, "createdAt": now, "updatedAt": now, "deactivatedAt": None,
                "address": {"address1": address1 or None, "address2": None, "city": city or None,
                            "country": country, "countryCode": country, "zip": zip_code or None,
                            "province": None, "provinceCode": None, "phone": None, "latitude": None,
                            "longitude": None, "formatted": [p for p in (address1, city, country) if p]},
            }
            return self.put(doc, name=name)

    def location(self, name_or_gid: str | None = None) -> dict[str, Any]:
        """A location by GID or name; the primary one when not given (created on first use)."""
        if name_or_gid:
            found = self.get(name_or_gid, "Location") or self.find_one("Location", "name", name_or_gid)
            if found:
                return found
            return self.add_location(name_or_gid)
        first = self.select("type='Location'", (), limit=1)
        return first[0] if first else self.add_location("Shop location")

    # ----------------------------------------------------------------- catalogue

    def add_product(self, title: str, variants: list[dict[str, Any]], *, vendor: str = "", product_type: str = "",
                    status: str = "ACTIVE", handle: str = "", tags: list[str] | None = None) -> dict[str, Any]:
        """Create a product with variants (``{sku, title, price, barcode, weight_grams}``) and inventory items."""
        with self.transaction():
            num = self.next_id("Product")
            now = self.now()
            product_gid = gid("Product", num)
            refs = []
            for position, spec in enumerate(variants or [{"title": "Default Title"}], start=1):
                refs.append({"__ref": self._add_variant(product_gid, title, spec, position, now)["id"]})
            handle = handle or re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or f"product-{num}"
            doc = {
                "__typename": "Product", "id": product_gid, "legacyResourceId": str(num), "title": title,
                "handle": handle, "vendor": vendor, "productType": product_type, "status": status.upper(),
                "tags": tags or [], "description": "", "descriptionHtml": "", "createdAt": now, "updatedAt": now,
                "publishedAt": now, "hasOnlyDefaultVariant": len(refs) == 1, "isGiftCard": False,
                "tracksInventory": True, "variants": refs, "variantsCount": {"count": len(refs), "precision": "EXACT"},
            }
            skus = " ".join(v.get("sku") or "" for v in variants)
            self.put(doc, name=title, status=status.upper(), sku=f" {skus} ")
            self.emit("products/update", doc)
            return doc

    def _add_variant(self, product_gid: str, product_title: str, spec: dict[str, Any], position: int,
                     now: str) -> dict[str, Any]:
        num = self.next_id("ProductVariant")
        item_num = self.next_id("InventoryItem")
        variant_gid, item_gid = gid("ProductVariant", num), gid("InventoryItem", item_num)
        sku = spec.get("sku") or None
        title = spec.get("title") or "Default Title"
        self.put({
            "__typename": "InventoryItem", "id": item_gid, "legacyResourceId": str(item_num), "sku": sku,
            "tracked": True, "requiresShipping": spec.get("requires_shipping", True), "createdAt": now,
            "updatedAt": now, "variant": {"__ref": variant_gid}, "duplicateSkuCount": 0,
            "unitCost": None, "countryCodeOfOrigin": None, "harmonizedSystemCode": None,
            "inventoryHistoryUrl": None, "provinceCodeOfOrigin": None,
        }, sku=sku, parent=variant_gid)
        doc = {
            "__typename": "ProductVariant", "id": variant_gid, "legacyResourceId": str(num), "title": title,
            "displayName": f"{product_title} - {title}", "sku": sku, "barcode": spec.get("barcode") or None,
            "price": gql_amount(Decimal(str(spec.get("price", "0")))), "compareAtPrice": None, "position": position,
            "taxable": True, "inventoryPolicy": "DENY", "availableForSale": True, "createdAt": now, "updatedAt": now,
            "product": {"__ref": product_gid}, "inventoryItem": {"__ref": item_gid},
            "weight": spec.get("weight_grams", 0),
        }
        return self.put(doc, sku=sku, name=title, parent=product_gid)

    def variant_by_sku(self, sku: str) -> dict[str, Any] | None:
        """The variant with ``sku``, or None."""
        return self.find_one("ProductVariant", "sku", sku)

    def touch_product(self, product_gid: str) -> None:
        """Mark a product updated (variants or stock changed) and announce products/update."""
        with self.transaction():
            product = self.get(product_gid, "Product")
            if product:
                product["updatedAt"] = self.now()
                self.put(product, name=product["title"], status=product["status"],
                         sku=self._row_value(product_gid, "sku"))
                self.emit("products/update", product)

    def _row_value(self, node_gid: str, column: str) -> Any:
        with self._lock:
            row = self._db.execute(f"SELECT {column} FROM node WHERE gid=?", (node_gid,)).fetchone()
        return row[0] if row else None

    # ----------------------------------------------------------------- customers

    def create_customer(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a customer from ``CustomerInput``-shaped data; refuses duplicates and bad emails."""
        with self.transaction():
            self._check_customer(data, None)
            num = self.next_id("Customer")
            now = self.now()
            doc = {"__typename": "Customer", "id": gid("Customer", num), "legacyResourceId": str(num),
                   "createdAt": now, "updatedAt": now, "state": "DISABLED", "verifiedEmail": True,
                   "taxExempt": False, "tags": [], "note": None, "locale": "en", "multipassIdentifier": None,
                   "dataSaleOptOut": False, "canDelete": True, "addresses": [], "addressesV2": []}
            self._apply_customer(doc, data)
            self.emit("customers/create", doc)
            return doc

    def update_customer(self, customer_gid: str, data: dict[str, Any]) -> dict[str, Any]:
        """Update a customer from ``CustomerInput``-shaped data."""
        with self.transaction():
            doc = self.get(customer_gid, "Customer")
            if doc is None:
                raise UserErrors([user_error(["id"], "Customer does not exist")])
            self._check_customer(data, customer_gid)
            doc["updatedAt"] = self.now()
            self._apply_customer(doc, data)
            self.emit("customers/update", doc)
            return doc

    def _check_customer(self, data: dict[str, Any], own_gid: str | None) -> None:
        email, phone = (data.get("email") or "").strip(), (data.get("phone") or "").strip()
        errors = []
        if own_gid is None and not (email or phone or data.get("firstName") or data.get("lastName")):
            errors.append(user_error(None, "Customer must have a name, phone number or email address"))
        if email and not EMAIL_RE.match(email):
            errors.append(user_error(["email"], "Email is invalid"))
        elif email:
            other = self.find_one("Customer", "email", email)
            if other and other["id"] != own_gid:
                errors.append(user_error(["email"], "Email has already been taken"))
        if phone:
            clash = [c for c in self.select("type='Customer' AND json_extract(doc, '$.phone')=?", (phone,))
                     if c["id"] != own_gid]
            if clash:
                errors.append(user_error(["phone"], "Phone has already been taken"))
        if errors:
            raise UserErrors(errors)

    def _apply_customer(self, doc: dict[str, Any], data: dict[str, Any]) -> None:
        for key in ("email", "firstName", "lastName", "phone", "note", "tags", "taxExempt", "locale"):
            if key in data and data[key] is not None:
                doc[key] = data[key]
        doc.setdefault("email", None)
        doc.setdefault("phone", None)
        doc.setdefault("firstName", None)
        doc.setdefault("lastName", None)
        doc["displayName"] = " ".join(p for p in (doc["firstName"], doc["lastName"]) if p) or doc["email"] or ""
        if data.get("addresses") is not None:
            doc["addresses"] = [mailing_address(a, self.next_id("MailingAddress")) for a in data["addresses"]]
        doc["addressesV2"] = doc["addresses"]
        doc["defaultAddress"] = doc["addresses"][0] if doc["addresses"] else None
        doc["defaultEmailAddress"] = ({"emailAddress": doc["email"], "marketingState": "NOT_SUBSCRIBED",
                                       "marketingOptInLevel": None, "marketingUpdatedAt": None,
                                       "validFormat": True} if doc["email"] else None)
        consent = data.get("emailMarketingConsent")
        if consent and doc["defaultEmailAddress"]:
            doc["defaultEmailAddress"]["marketingState"] = consent.get("marketingState", "NOT_SUBSCRIBED")
            doc["defaultEmailAddress"]["marketingOptInLevel"] = consent.get("marketingOptInLevel")
        doc["emailMarketingConsent"] = ({"marketingState": doc["defaultEmailAddress"]["marketingState"],
                                         "marketingOptInLevel": doc["defaultEmailAddress"]["marketingOptInLevel"],
                                         "consentUpdatedAt": None} if doc["defaultEmailAddress"] else None)
        doc["defaultPhoneNumber"] = ({"phoneNumber": doc["phone"], "marketingState": "NOT_SUBSCRIBED"}
                                     if doc["phone"] else None)
        self.put(doc, email=doc["email"], name=doc["displayName"])

    # ----------------------------------------------------------------- inventory

    def level(self, item_num: int, location_num: int) -> dict[str, int] | None:
        """``{on_hand, committed, available}`` of an item at a location, or None when not stocked there."""
        with self._lock:
            row = self._db.execute("SELECT on_hand, committed, updated_at, created_at FROM level "
                                   "WHERE item=? AND location=?", (item_num, location_num)).fetchone()
        if row is None:
            return None
        return {"on_hand": row[0], "committed": row[1], "available": row[0] - row[1],
                "updated_at": row[2], "created_at": row[3]}

    def levels(self, *, item_num: int | None = None, location_num: int | None = None) -> list[dict[str, Any]]:
        """Inventory levels of an item or a location (or all), ordered by item then location."""
        where, params = [], []
        if item_num is not None:
            where.append("item=?")
            params.append(item_num)
        if location_num is not None:
            where.append("location=?")
            params.append(location_num)
        sql = "SELECT item, location, on_hand, committed, updated_at, created_at FROM level"
        sql += (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY item, location"
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [{"item": r[0], "location": r[1], "on_hand": r[2], "committed": r[3], "available": r[2] - r[3],
                 "updated_at": r[4], "created_at": r[5]} for r in rows]

    def forget(self, node_gid: str) -> None:
        """Delete a node."""
        with self.transaction():
            self._docs.pop(node_gid, None)
            self._db.execute("DELETE FROM node WHERE gid=?", (node_gid,))

    def change_level(self, item_num: int, location_num: int, *, on_hand: int = 0, committed: int = 0,
                     create: bool = True) -> dict[str, int]:
        """Add deltas to a level (creating it when ``create``); emits inventory_levels/update if available moved."""
        with self.transaction():
            now = self.now()
            current = self.level(item_num, location_num)
            if current is None:
                if not create:
                    raise KeyError((item_num, location_num))
                self._db.execute("INSERT INTO level VALUES (?,?,0,0,?,?)", (item_num, location_num, now, now))
                current = {"on_hand": 0, "committed": 0, "available": 0}
            self.version += 1
            self._db.execute("UPDATE level SET on_hand=on_hand+?, committed=committed+?, updated_at=? "
                             "WHERE item=? AND location=?", (on_hand, committed, now, item_num, location_num))
            after = self.level(item_num, location_num)
            assert after is not None
            if after["available"] != current["available"] or current.get("updated_at") is None:
                self.emit("inventory_levels/update", {"__typename": "InventoryLevel", "item": item_num,
                                                      "location": location_num, "available": after["available"],
                                                      "updatedAt": now})
            return after

    def stock(self, sku: str) -> dict[str, dict[str, int]]:
        """Stock of ``sku`` per location name: ``{"Main": {"available", "on_hand", "committed"}}``."""
        variant = self.variant_by_sku(sku)
        if variant is None:
            raise KeyError(f"no variant with SKU {sku!r}")
        names = {parse_gid(loc["id"]): loc["name"] for loc in self.all("Location")}
        return {names.get(level["location"], str(level["location"])):
                {key: level[key] for key in ("available", "on_hand", "committed")}
                for level in self.levels(item_num=parse_gid(variant["inventoryItem"]["__ref"]))}

    def order_by_name(self, name: str) -> dict[str, Any] | None:
        """The order called ``name`` (``#1001``), or None."""
        return self.find_one("Order", "name", name if name.startswith("#") else f"#{name}")

    def set_stock(self, sku: str, location: str | None, *, available: int | None = None,
                  on_hand: int | None = None) -> dict[str, int]:
        """Set the stock of ``sku`` at a location (by name or GID; primary when None) as a merchant would."""
        variant = self.variant_by_sku(sku)
        if variant is None:
            raise KeyError(f"no variant with SKU {sku!r}")
        item_num = parse_gid(variant["inventoryItem"]["__ref"])
        location_num = parse_gid(self.location(location)["id"])
        assert item_num is not None and location_num is not None
        with self.transaction():
            current = self.level(item_num, location_num) or {"on_hand": 0, "committed": 0, "available": 0}
            target, name = (available, "available") if available is not None else (on_hand or 0, "on_hand")
            delta = target - current[name]
            return self.change_level(item_num, location_num, on_hand=delta)
