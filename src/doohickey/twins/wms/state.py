"""The WMS twin's state and its warehouse simulation: requests picked and shipped over injected time.

Tables (SQLite): ``stock`` per SKU, ``requests`` (fulfilment requests), ``shipments``
(parcels with carrier and tracking), ``receipts`` (goods-in), ``events`` (the
outbox of webhook events) and ``deliveries`` (one per event and subscription).

:meth:`WmsState.tick` moves the warehouse to the clock's "now": a request starts
picking half a pick time after it arrived and ships one pick time after it
arrived; a seeded share of requests ships in two parcels (the second a pick time
later); lines without stock wait (backordered) until goods-in brings stock. Each
shipment becomes a ``shipment.created`` event for the polled list and the webhooks.
All randomness (splits, carriers, tracking numbers) comes from ``random.Random(seed)``.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sqlite3
import threading
from typing import Any

from doohickey import model
from doohickey.clock import Clock

CARRIERS = {
    "DHL": ("JD01460000{:010d}", "https://www.dhl.com/track?tracking-id={}"),
    "UPS": ("1Z999AA1{:010d}", "https://www.ups.com/track?tracknum={}"),
    "PostNL": ("3SABCD{:09d}", "https://postnl.nl/tracktrace/?B={}"),
    "Royal Mail": ("RM{:09d}GB", "https://www.royalmail.com/track-your-item#/tracking-results/{}"),
}
_TABLES = ("stock", "requests", "shipments", "receipts", "events", "subscriptions")
_PREFIX = {"requests": "FR", "shipments": "SHP", "receipts": "GR", "events": "EVT", "subscriptions": "WH"}


class WmsError(Exception):
    """A business rule refused the request: ``status`` (HTTP), ``code``, ``field``."""

    def __init__(self, message: str, *, status: int = 422, code: str = "invalid", field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.field = field


class WmsState:
    """The warehouse: stock, requests, shipments, receipts and the webhook outbox."""

    def __init__(self, clock: Clock, *, seed: int = 0, path: str = ":memory:", pick_seconds: float = 60.0,
                 partial_share: float = 0.25) -> None:
        self.clock = clock
        self.pick_seconds = pick_seconds
        self.partial_share = partial_share
        self.rng = random.Random(seed)
        self.lock = threading.RLock()
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        for table in _TABLES:
            self.db.execute(f"CREATE TABLE IF NOT EXISTS {table} (id TEXT PRIMARY KEY, seq INTEGER NOT NULL,"
                            " doc TEXT NOT NULL, updated_at TEXT NOT NULL, k1 TEXT, k2 TEXT)")
            self.db.execute(f"CREATE INDEX IF NOT EXISTS {table}_upd ON {table} (updated_at, seq)")
        self.db.execute("CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")
        self.db.execute("CREATE TABLE IF NOT EXISTS idempotency (key TEXT PRIMARY KEY, id TEXT NOT NULL)")
        self.db.execute("CREATE TABLE IF NOT EXISTS deliveries (id TEXT PRIMARY KEY, event_id TEXT, sub_id TEXT,"
                        " due REAL, attempts INTEGER DEFAULT 0, status TEXT DEFAULT 'pending', held INTEGER DEFAULT 0,"
                        " decided INTEGER DEFAULT 0, last_error TEXT DEFAULT '', seq INTEGER)")
        self.deliverer: Any = None  # set by create_twin: the webhook sender, so tests can drive it
        self.last_loop_error = ""

    # --- storage ---------------------------------------------------------------------------------

    def _next(self, name: str) -> int:
        row = self.db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        value = (row["value"] if row else 0) + 1
        self.db.execute("INSERT OR REPLACE INTO counters (name, value) VALUES (?, ?)", (name, value))
        return value

    def _new_id(self, table: str) -> str:
        return f"{_PREFIX[table]}-{self._next(table):06d}"

    def _save(self, table: str, doc: dict[str, Any], k1: str | None = None, k2: str | None = None) -> dict[str, Any]:
        now = model.stamp(self.clock.now())
        doc.setdefault("created_at", now)
        doc["updated_at"] = now
        self.db.execute(f"INSERT OR REPLACE INTO {table} (id, seq, doc, updated_at, k1, k2) VALUES (?,?,?,?,?,?)",
                        (doc["id"], self._next("seq"), json.dumps(doc), now, k1, k2))
        return doc

    def get(self, table: str, record_id: str) -> dict[str, Any] | None:
        """One record by id, or None."""
        with self.lock:
            row = self.db.execute(f"SELECT doc FROM {table} WHERE id = ?", (record_id,)).fetchone()
        return json.loads(row["doc"]) if row else None

    def page(self, table: str, *, since: dt.datetime | None = None, page: int = 1, limit: int = 50,
             where: list[tuple[str, Any]] | None = None) -> tuple[list[dict[str, Any]], int]:
        """One page of ``table``, oldest change first, and the total count."""
        clauses, params = [], []
        if since is not None:
            clauses.append("updated_at >= ?")
            params.append(model.stamp(since))
        for sql, value in where or []:
            clauses.append(sql)
            params.append(value)
        cond = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self.lock:
            total = self.db.execute(f"SELECT COUNT(*) FROM {table} {cond}", params).fetchone()[0]
            rows = self.db.execute(f"SELECT doc FROM {table} {cond} ORDER BY updated_at, seq LIMIT ? OFFSET ?",
                                   [*params, limit, (page - 1) * limit]).fetchall()
        return [json.loads(r["doc"]) for r in rows], total

    def all(self, table: str) -> list[dict[str, Any]]:
        """Every record of ``table``, oldest change first."""
        return self.page(table, limit=1_000_000)[0]

    # --- stock and goods-in ----------------------------------------------------------------------

    def stock(self, sku: str) -> dict[str, Any] | None:
        """The stock record of ``sku`` or None."""
        return self.get("stock", sku)

    def _set_stock(self, sku: str, *, on_hand_delta: int = 0, reserved_delta: int = 0) -> dict[str, Any]:
        doc = self.get("stock", sku) or {"id": sku, "sku": sku, "on_hand": 0, "reserved": 0}
        doc["on_hand"] += on_hand_delta
        doc["reserved"] = max(doc["reserved"] + reserved_delta, 0)
        doc["available"] = doc["on_hand"] - doc["reserved"]
        saved = self._save("stock", doc, sku)
        self._event("stock.updated", {k: saved[k] for k in ("sku", "on_hand", "reserved", "available", "updated_at")})
        return saved

    def receive(self, data: dict[str, Any], *, key: str | None = None) -> dict[str, Any]:
        """Record a goods-in receipt: stock of each line goes up; waiting requests may now ship."""
        with self.lock:
            first = self._replayed(key, "receipts")
            if first:
                return first
            lines = [{"sku": ln["sku"], "quantity": int(ln["quantity"])} for ln in data.get("lines") or []]
            if not lines:
                raise WmsError("a goods-in receipt needs at least one line", field="lines")
            for line in lines:
                self._set_stock(line["sku"], on_hand_delta=line["quantity"])
            doc = self._save("receipts", {"id": self._new_id("receipts"), "reference": data.get("reference") or "",
                                          "supplier": data.get("supplier") or "", "lines": lines})
            self._remember(key, doc["id"])
            return doc

    # --- fulfilment requests ---------------------------------------------------------------------

    def _replayed(self, key: str | None, table: str) -> dict[str, Any] | None:
        if not key:
            return None
        row = self.db.execute("SELECT id FROM idempotency WHERE key = ?", (key,)).fetchone()
        return self.get(table, row["id"]) if row else None

    def _remember(self, key: str | None, record_id: str) -> None:
        if key:
            self.db.execute("INSERT OR IGNORE INTO idempotency (key, id) VALUES (?, ?)", (key, record_id))

    def request(self, data: dict[str, Any], *, key: str | None = None) -> tuple[dict[str, Any], bool]:
        """Accept a fulfilment request; a repeat (same key or order_ref) returns the first: (doc, created)."""
        with self.lock:
            first = self._replayed(key, "requests")
            if first is None and data.get("order_ref"):
                row = self.db.execute("SELECT doc FROM requests WHERE k1 = ?", (data["order_ref"],)).fetchone()
                first = json.loads(row["doc"]) if row else None
            if first is not None:
                return first, False
            lines = []
            for index, line in enumerate(data.get("lines") or []):
                if self.stock(line["sku"]) is None:
                    raise WmsError(f"sku {line['sku']} is not stocked in this warehouse", code="unknown_sku",
                                   field=f"lines[{index}].sku")
                lines.append({"sku": line["sku"], "quantity": int(line["quantity"]), "shipped": 0})
            if not lines:
                raise WmsError("a fulfilment request needs at least one line", field="lines")
            units = sum(ln["quantity"] for ln in lines)
            split = units >= 2 and self.rng.random() < self.partial_share
            now = self.clock.now()
            doc = {"id": self._new_id("requests"), "order_ref": data.get("order_ref") or "", "status": "received",
                   "lines": lines, "ship_to": data.get("ship_to"), "service_level": data.get("service_level") or
                   "standard", "carrier": data.get("carrier") or self.rng.choice(sorted(CARRIERS)),
                   "parcels_planned": 2 if split else 1, "received_at": model.stamp(now),
                   "pick_at": model.stamp(now + dt.timedelta(seconds=self.pick_seconds / 2)),
                   "ship_at": model.stamp(now + dt.timedelta(seconds=self.pick_seconds))}
            for line in lines:
                self._set_stock(line["sku"], reserved_delta=line["quantity"])
            self._save("requests", doc, doc["order_ref"], doc["status"])
            self._remember(key, doc["id"])
            self._event("fulfilment_request.received", doc)
            return doc, True

    def cancel(self, request_id: str) -> dict[str, Any]:
        """Cancel a request that has not shipped anything yet."""
        with self.lock:
            doc = self.get("requests", request_id)
            if doc is None:
                raise WmsError(f"fulfilment request {request_id} does not exist", status=404, code="not_found")
            if doc["status"] == "cancelled":
                return doc
            if any(ln["shipped"] for ln in doc["lines"]):
                raise WmsError(f"fulfilment request {request_id} has already shipped parcels and cannot be cancelled",
                               code="already_shipped")
            for line in doc["lines"]:
                self._set_stock(line["sku"], reserved_delta=-line["quantity"])
            doc["status"] = "cancelled"
            self._save("requests", doc, doc["order_ref"], doc["status"])
            self._event("fulfilment_request.cancelled", doc)
            return doc

    # --- the simulation --------------------------------------------------------------------------

    def tick(self) -> list[dict[str, Any]]:
        """Move every open request to the clock's now; returns the shipments made."""
        made = []
        now = model.stamp(self.clock.now())
        with self.lock:
            rows = self.db.execute("SELECT doc FROM requests WHERE k2 IN ('received', 'picking', "
                                   "'partially_shipped', 'backordered') ORDER BY seq").fetchall()
            for row in rows:
                doc = json.loads(row["doc"])
                if doc["status"] == "received" and now >= doc["pick_at"]:
                    doc["status"] = "picking"
                    self._save("requests", doc, doc["order_ref"], doc["status"])
                if now >= doc["ship_at"]:
                    shipment = self._ship_due(doc)
                    if shipment:
                        made.append(shipment)
        return made

    def _ship_due(self, doc: dict[str, Any]) -> dict[str, Any] | None:
        parcel_no = doc.get("parcels_shipped", 0) + 1
        want = [(ln, ln["quantity"] - ln["shipped"]) for ln in doc["lines"] if ln["quantity"] > ln["shipped"]]
        if parcel_no == 1 and doc["parcels_planned"] == 2:
            want = _first_half(want)
        lines = []
        for line, quantity in want:
            on_hand = (self.stock(line["sku"]) or {}).get("on_hand", 0)
            take = min(quantity, max(on_hand, 0))
            if take:
                line["shipped"] += take
                lines.append({"sku": line["sku"], "quantity": take})
                self._set_stock(line["sku"], on_hand_delta=-take, reserved_delta=-take)
        done = all(ln["shipped"] >= ln["quantity"] for ln in doc["lines"])
        if not lines:
            if doc["status"] != "backordered":
                doc["status"] = "backordered"
                self._save("requests", doc, doc["order_ref"], doc["status"])
            return None
        doc["parcels_shipped"] = parcel_no
        doc["status"] = "shipped" if done else "partially_shipped"
        if not done:
            # The rest follows one pick time later (or as soon as stock arrives after that).
            doc["ship_at"] = model.stamp(self.clock.now() + dt.timedelta(seconds=self.pick_seconds))
        self._save("requests", doc, doc["order_ref"], doc["status"])
        number_format, url_format = CARRIERS.get(doc["carrier"], CARRIERS["DHL"])
        tracking = number_format.format(self.rng.randrange(10**9))
        shipment = self._save("shipments", {
            "id": self._new_id("shipments"), "request_id": doc["id"], "order_ref": doc["order_ref"],
            "parcel": parcel_no, "final": done, "lines": lines, "carrier": doc["carrier"],
            "tracking_number": tracking, "tracking_url": url_format.format(tracking),
            "shipped_at": model.stamp(self.clock.now()), "ship_to": doc.get("ship_to"),
        }, doc["order_ref"])
        self._event("shipment.created", shipment)
        return shipment

    # --- webhook outbox --------------------------------------------------------------------------

    def subscribe(self, url: str, topics: list[str]) -> dict[str, Any]:
        """Add a webhook subscription for ``topics`` (``*`` for all)."""
        with self.lock:
            return self._save("subscriptions", {"id": self._new_id("subscriptions"), "url": url,
                                                "topics": topics or ["*"]})

    def unsubscribe(self, sub_id: str) -> bool:
        """Remove a subscription; False when there was none."""
        with self.lock:
            return self.db.execute("DELETE FROM subscriptions WHERE id = ?", (sub_id,)).rowcount > 0

    def _event(self, topic: str, data: dict[str, Any]) -> None:
        now = self.clock.now()
        event = self._save("events", {"id": self._new_id("events"), "topic": topic, "occurred_at": model.stamp(now),
                                      "data": data}, topic)
        for sub in self.all("subscriptions"):
            if "*" in sub["topics"] or topic in sub["topics"]:
                self.db.execute("INSERT INTO deliveries (id, event_id, sub_id, due, seq) VALUES (?, ?, ?, ?, ?)",
                                (f"DLV-{self._next('deliveries'):06d}", event["id"], sub["id"],
                                 self.clock.monotonic(), self._next("seq")))

    def due_deliveries(self) -> list[dict[str, Any]]:
        """Pending, unheld deliveries whose time has come, oldest first, with their event and subscription."""
        with self.lock:
            rows = self.db.execute("SELECT * FROM deliveries WHERE status = 'pending' AND held = 0 AND due <= ? "
                                   "ORDER BY seq", (self.clock.monotonic(),)).fetchall()
            out = []
            for row in rows:
                event, sub = self.get("events", row["event_id"]), self.get("subscriptions", row["sub_id"])
                if event and sub:
                    out.append({**dict(row), "event": event, "subscription": sub})
        return out

    def mark(self, delivery_id: str, **fields: Any) -> None:
        """Update a delivery's bookkeeping (status, attempts, due, held, last_error)."""
        sets = ", ".join(f"{name} = ?" for name in fields)
        with self.lock:
            self.db.execute(f"UPDATE deliveries SET {sets} WHERE id = ?", (*fields.values(), delivery_id))

    def claim(self, delivery_id: str) -> bool:
        """Take a pending delivery for sending (False if another loop took it first)."""
        with self.lock:
            return self.db.execute("UPDATE deliveries SET status = 'sending' WHERE id = ? AND status = 'pending'",
                                   (delivery_id,)).rowcount == 1

    def release_held(self, sub_id: str) -> int:
        """Release deliveries held back (reordered) for a subscription; returns how many."""
        with self.lock:
            return self.db.execute("UPDATE deliveries SET held = 0 WHERE sub_id = ? AND held = 1 AND "
                                   "status = 'pending'", (sub_id,)).rowcount

    def deliveries(self) -> list[dict[str, Any]]:
        """Every delivery's bookkeeping row (for tests and /_twin/deliveries)."""
        with self.lock:
            return [dict(r) for r in self.db.execute("SELECT * FROM deliveries ORDER BY seq").fetchall()]

    # --- seeding ---------------------------------------------------------------------------------

    def seed(self, *, stock: list[model.StockLevel] = (), products: list[model.Product] = ()) -> dict[str, int]:
        """Load stock levels (summed over locations: one warehouse) and register product SKUs with no stock."""
        with self.lock:
            totals: dict[str, int] = {}
            for product in products:
                for variant in product.variants:
                    totals.setdefault(variant.sku, 0)
            for level in stock:
                totals[level.sku] = totals.get(level.sku, 0) + level.on_hand
            for sku, on_hand in totals.items():
                self._save("stock", {"id": sku, "sku": sku, "on_hand": on_hand, "reserved": 0, "available": on_hand},
                           sku)
            return {"stock": len(totals)}


def _first_half(want: list[tuple[dict[str, Any], int]]) -> list[tuple[dict[str, Any], int]]:
    """About half the units, line by line: the first parcel of a two-parcel shipment."""
    target = max(1, sum(q for _, q in want) // 2)
    half = []
    for line, quantity in want:
        take = min(quantity, target)
        if take:
            half.append((line, take))
            target -= take
    return half

