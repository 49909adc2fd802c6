"""The Tryton Client: customers, products, sales, stock, shipments and refunds over JSON-RPC.

Tryton has no webhooks, so every read is a poll on ``write_date`` (set on create
too in 8.2), oldest first, paged by offset. Stock levels change through stock
moves, not products, so a stock poll looks for moves written since the cursor
and reads those products' quantities in the configured warehouse.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from doohickey.connectors.spec import ConnectionSettings, ConnectOptions, Page, Record, WriteRequest, WriteResult
from doohickey.connectors.tryton import maps
from doohickey.connectors.tryton.rpc import TrytonRpc
from doohickey.errors import DependencyMissing, NotFoundError, RejectedError

PARTY_FIELDS = ["name", "contact_mechanisms", "addresses", "create_date", "write_date"]
SALE_FIELDS = ["number", "reference", "state", "party", "lines", "total_amount", "currency", "shipment_state",
               "invoice_state", "shipments", "invoices", "create_date", "write_date"]
REFUND_PREFIX = "refund "  # return sales are told apart from orders by their reference
SHIPMENT_FIELDS = ["number", "reference", "state", "outgoing_moves", "warehouse", "create_date", "write_date"]


class TrytonClient:
    """A live connection to one Tryton database (implements ``connectors.spec.Client``)."""

    def __init__(self, settings: ConnectionSettings, options: ConnectOptions) -> None:
        self.system = settings.system
        self.rpc = TrytonRpc(settings, options)
        self.carrier = str(settings.options.get("carrier", ""))
        self._warehouse_name = settings.options.get("warehouse")
        self._refs: dict[str, int] = {}
        self._party_lock = asyncio.Lock()

    async def check(self) -> None:
        """Log in and read the user's preferences."""
        await self.rpc.login()

    async def aclose(self) -> None:
        await self.rpc.aclose()

    # -- reading -----------------------------------------------------------------------------------

    async def read(self, entity: str, *, since: datetime | None = None, cursor: str | None = None,
                   limit: int = 100) -> Page:
        """One page of ``entity`` records written at or after ``since``, oldest first."""
        offset = int(cursor or 0)
        readers = {"customer": self._read_customers, "order": self._read_orders, "variant": self._read_variants,
                   "stock": self._read_stock, "fulfilment": self._read_fulfilments, "refund": self._read_refunds}
        if entity not in readers:
            raise RejectedError(f"the Tryton connector cannot read {entity!r}", system=self.system)
        records = await readers[entity](since, offset, limit)
        return Page(records, str(offset + limit) if len(records) == limit else None)

    async def get(self, entity: str, external_id: str) -> Record | None:
        """One record by its Tryton id (customers, orders, variants, fulfilments)."""
        models = {"customer": "party.party", "order": "sale.sale", "variant": "product.product",
                  "fulfilment": "stock.shipment.out"}
        if entity not in models:
            raise RejectedError(f"the Tryton connector cannot get {entity!r} by id", system=self.system)
        found = await self._search_read(models[entity], [["id", "=", int(external_id)]], 0, 1, ["id"])
        if not found:
            return None
        return (await self._records(entity, [found[0]["id"]]))[0]

    async def find(self, entity: str, key: Mapping[str, str]) -> list[Record]:
        """Records by natural key: customer by email or phone, variant/stock by sku, order by number."""
        ids = await self._find_ids(entity, key)
        return await self._records(entity, ids) if ids else []

    async def _find_ids(self, entity: str, key: Mapping[str, str]) -> list[int]:
        if entity == "customer" and key.get("email"):
            return await self._party_ids([["type", "=", "email"], ["value", "ilike", key["email"].strip()]])
        if entity == "customer" and key.get("phone"):
            return await self._party_ids([["type", "in", ["phone", "mobile"]],
                                          ["value_compact", "=", _compact(key["phone"])]])
        if entity in ("variant", "stock") and key.get("sku"):
            return await self.rpc.call("model.product.product.search", [["code", "=", key["sku"]]], 0, None, None)
        if entity == "refund" and (key.get("order_number") or key.get("id")):
            pattern = f"{REFUND_PREFIX}{key['order_number']}/%" if key.get("order_number") else \
                f"{REFUND_PREFIX}%/{key['id']}"
            return await self.rpc.call("model.sale.sale.search", [["reference", "like", pattern]], 0, None,
                                       [["id", "ASC"]])
        if entity == "order" and key.get("number"):
            return await self.rpc.call("model.sale.sale.search", [["reference", "=", key["number"]]], 0, None,
                                       [["id", "ASC"]])
        raise RejectedError(f"cannot find Tryton {entity} by {', '.join(key)}", system=self.system)

    async def _party_ids(self, domain: list[Any]) -> list[int]:
        rows = await self._search_read("party.contact_mechanism", domain, 0, None, ["party"])
        return sorted({row["party"] for row in rows})

    async def _records(self, entity: str, ids: list[int]) -> list[Record]:
        builders = {"customer": self._customers, "order": self._orders, "variant": self._variants,
                    "stock": self._stock, "fulfilment": self._fulfilments, "refund": self._refunds}
        return await builders[entity](ids)

    async def _read_customers(self, since: datetime | None, offset: int, limit: int) -> list[Record]:
        return await self._customers(await self._changed("party.party", since, offset, limit))

    async def _read_orders(self, since: datetime | None, offset: int, limit: int) -> list[Record]:
        not_refund = ["OR", ["reference", "=", None], ["reference", "not like", f"{REFUND_PREFIX}%"]]
        return await self._orders(await self._changed("sale.sale", since, offset, limit, [not_refund]))

    async def _read_refunds(self, since: datetime | None, offset: int, limit: int) -> list[Record]:
        return await self._refunds(await self._changed("sale.sale", since, offset, limit,
                                                       [["reference", "like", f"{REFUND_PREFIX}%"]]))

    async def _read_variants(self, since: datetime | None, offset: int, limit: int) -> list[Record]:
        return await self._variants(await self._changed("product.product", since, offset, limit,
                                                        [["code", "!=", None]]))

    async def _read_fulfilments(self, since: datetime | None, offset: int, limit: int) -> list[Record]:
        return await self._fulfilments(await self._changed("stock.shipment.out", since, offset, limit,
                                                           [["state", "in", ["shipped", "done"]]]))

    async def _read_stock(self, since: datetime | None, offset: int, limit: int) -> list[Record]:
        if since is None:
            ids = await self.rpc.call("model.product.product.search", [["type", "=", "goods"], ["code", "!=", None]],
                                      offset, limit, [["id", "ASC"]])
        else:
            moves = await self._search_read("stock.move", [["write_date", ">=", since]], offset, limit, ["product"],
                                            order=[["write_date", "ASC"], ["id", "ASC"]])
            ids = sorted({m["product"] for m in moves})
            if len(moves) == limit:  # keep paging by moves even when products repeat
                ids = ids or [0]
        return await self._stock([i for i in ids if i])

    async def _changed(self, model: str, since: datetime | None, offset: int, limit: int,
                       extra: list[Any] | None = None) -> list[int]:
        domain = ([["write_date", ">=", since]] if since else []) + (extra or [])
        order = [["write_date", "ASC"], ["id", "ASC"]]
        return await self.rpc.call(f"model.{model}.search", domain, offset, limit, order)

    async def _search_read(self, model: str, domain: list[Any], offset: int, limit: int | None, fields: list[str],
                           order: list[Any] | None = None, context: dict[str, Any] | None = None) -> list[dict]:
        return await self.rpc.call(f"model.{model}.search_read", domain, offset, limit, order, fields,
                                   context=context)

    async def _read(self, model: str, ids: list[int], fields: list[str],
                    context: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        if not ids:
            return []
        return await self.rpc.call(f"model.{model}.read", ids, fields, context=context)

    async def _customers(self, ids: list[int]) -> list[Record]:
        parties = await self._read("party.party", ids, PARTY_FIELDS)
        mechanisms = await self._read("party.contact_mechanism", _flat(p["contact_mechanisms"] for p in parties),
                                      ["party", "type", "value"])
        addresses = await self._read("party.address", _flat(p["addresses"] for p in parties),
                                     ["party", "street", "city", "postal_code"])
        return [self._record("customer", maps.customer_from(
            party, [m for m in mechanisms if m["party"] == party["id"]],
            [a for a in addresses if a["party"] == party["id"]]), party.get("write_date")) for party in parties]

    async def _orders(self, ids: list[int]) -> list[Record]:
        sales = await self._read("sale.sale", ids, SALE_FIELDS)
        lines = await self._read("sale.line", _flat(s["lines"] for s in sales),
                                 ["sale", "product", "quantity", "unit_price", "description"])
        codes = await self._codes({line["product"] for line in lines if line.get("product")})
        emails = {c.data["id"]: c.data["email"] for c in await self._customers(sorted({s["party"] for s in sales}))}
        currencies = await self._currency_codes({s["currency"] for s in sales})
        records = []
        for sale in sales:
            sale["currency_code"] = currencies.get(sale["currency"], "")
            data = maps.order_from(sale, [ln for ln in lines if ln["sale"] == sale["id"]], codes,
                                   emails.get(str(sale["party"]), ""))
            records.append(self._record("order", data, sale.get("write_date")))
        return records

    async def _refunds(self, ids: list[int]) -> list[Record]:
        """Return sales read back as canonical refunds (amount positive, as the storefront states it)."""
        records = []
        for order in await self._orders(ids):
            data = maps.refund_from(order.data, REFUND_PREFIX)
            records.append(Record(self.system, "refund", data["id"], data, order.version, order.updated_at))
        return records

    async def _variants(self, ids: list[int]) -> list[Record]:
        products = await self._read("product.product", ids, ["code", "name", "list_price_used", "write_date"])
        return [self._record("variant", {"id": str(p["id"]), "sku": p["code"], "title": p.get("name") or "",
                                         "price": str(p.get("list_price_used") or "0")}, p.get("write_date"))
                for p in products]

    async def _stock(self, ids: list[int]) -> list[Record]:
        warehouse = await self._warehouse()
        products = await self._read("product.product", ids, ["code", "quantity", "forecast_quantity"],
                                    context={"locations": [warehouse["id"]]})
        return [Record(self.system, "stock", p["code"], {
            "sku": p["code"], "location": warehouse["name"], "available": int(p["forecast_quantity"]),
            "on_hand": int(p["quantity"]), "reserved": int(p["quantity"] - p["forecast_quantity"])})
            for p in products if p.get("code")]

    async def _fulfilments(self, ids: list[int]) -> list[Record]:
        shipments = await self._read("stock.shipment.out", ids, SHIPMENT_FIELDS)
        moves = await self._read("stock.move", _flat(s["outgoing_moves"] for s in shipments),
                                 ["shipment", "product", "quantity", "sale"])
        codes = await self._codes({m["product"] for m in moves})
        sales = {s["id"]: s for s in await self._read("sale.sale", sorted({m["sale"] for m in moves if m["sale"]}),
                                                        ["reference"])}
        records = []
        for shipment in shipments:
            own = [m for m in moves if m["shipment"] == f"stock.shipment.out,{shipment['id']}"
                   or m["shipment"] == shipment["id"]]
            sale_id = next((m["sale"] for m in own if m.get("sale")), None)
            data = maps.fulfilment_from(shipment, own, codes, (sales.get(sale_id) or {}).get("reference", ""),
                                        str(sale_id or ""), self.carrier)
            records.append(self._record("fulfilment", data, shipment.get("write_date")))
        return records

    def _record(self, entity: str, data: dict[str, Any], written: datetime | None) -> Record:
        return Record(self.system, entity, data["id"], data,
                      version=written.isoformat() if written else "", updated_at=written)

    async def _codes(self, product_ids: set[int]) -> dict[int, str]:
        rows = await self._read("product.product", sorted(product_ids), ["code"])
        return {row["id"]: row["code"] or "" for row in rows}

    async def _currency_codes(self, ids: set[int]) -> dict[int, str]:
        return {row["id"]: row["code"] for row in await self._read("currency.currency", sorted(ids), ["code"])}

    async def _warehouse(self) -> dict[str, Any]:
        domain: list[Any] = [["type", "=", "warehouse"]]
        if self._warehouse_name:
            domain.append(["name", "=", self._warehouse_name])
        found = await self._search_read("stock.location", domain, 0, 1, ["name", "storage_location"],
                                        order=[["id", "ASC"]])
        if not found:
            raise RejectedError(f"Tryton has no warehouse {self._warehouse_name or ''}".strip(), system=self.system)
        return found[0]

    async def _ref(self, model: str, domain: list[Any], what: str) -> int:
        """The id of a configuration record (unit, payment term, category), cached."""
        key = f"{model}{domain}"
        if key not in self._refs:
            found = await self.rpc.call(f"model.{model}.search", domain, 0, 1, [["id", "ASC"]])
            if not found:
                raise RejectedError(f"Tryton has no {what}; configure one first", system=self.system)
            self._refs[key] = found[0]
        return self._refs[key]

    # -- writing -----------------------------------------------------------------------------------

    async def write(self, request: WriteRequest) -> WriteResult:
        """Create or change a record; see the entity declarations for the actions."""
        writers = {("customer", "create"): self._create_customer, ("customer", "update"): self._update_customer,
                   ("variant", "create"): self._create_variant, ("order", "create"): self._create_order,
                   ("order", "update"): self._update_order, ("order", "cancel"): self._cancel_order,
                   ("refund", "create"): self._create_refund, ("stock", "set"): self._set_stock}
        writer = writers.get((request.entity, request.action))
        if writer is None:
            raise RejectedError(f"the Tryton connector cannot {request.action} {request.entity!r}",
                                system=self.system)
        return await writer(request)

    async def _create_customer(self, request: WriteRequest) -> WriteResult:
        # Tryton numbers parties from a sequence that concurrent creates can race for ("The code on party
        # must be unique"), so this connection creates parties one at a time.
        async with self._party_lock:
            (party_id,) = await self.rpc.call("model.party.party.create", [maps.party_values(request.data)])
        return await self._result("customer", party_id)

    async def _update_customer(self, request: WriteRequest) -> WriteResult:
        party_id = int(request.external_id or 0)
        name = " ".join(p for p in (request.data.get("first_name"), request.data.get("last_name")) if p)
        if name:
            await self.rpc.call("model.party.party.write", [party_id], {"name": name})
        return await self._result("customer", party_id)

    async def _create_variant(self, request: WriteRequest) -> WriteResult:
        existing = await self._find_ids("variant", {"sku": request.data["sku"]})
        if existing:
            return await self._result("variant", existing[0])
        unit = await self._ref("product.uom", [["symbol", "=", "u"]], "unit of measure 'u'")
        category = await self._ref("product.category", [["accounting", "=", True]], "accounting product category")
        template = {"name": request.data.get("title") or request.data["sku"], "type": "goods", "salable": True,
                    "default_uom": unit, "sale_uom": unit, "account_category": category,
                    "list_price": Decimal(str(request.data.get("price") or 0)),
                    "products": [["create", [{"suffix_code": request.data["sku"]}]]]}
        await self.rpc.call("model.product.template.create", [template])
        return await self._result("variant", (await self._find_ids("variant", {"sku": request.data["sku"]}))[0])

    async def _set_stock(self, request: WriteRequest) -> WriteResult:
        """Bring on-hand stock of a SKU to ``available`` with one inventory-style move (tests, go-live loads)."""
        (product_id,) = await self._product_ids([request.data["sku"]])
        warehouse = await self._warehouse()
        current = (await self._stock([product_id]))[0].data["on_hand"]
        delta = int(request.data["available"]) - current
        if delta:
            other = await self._ref("stock.location", [["type", "=", "lost_found"]], "lost and found location")
            unit = await self._ref("product.uom", [["symbol", "=", "u"]], "unit of measure 'u'")
            source, target = (other, warehouse["storage_location"]) if delta > 0 else \
                (warehouse["storage_location"], other)
            moves = await self.rpc.call("model.stock.move.create", [{
                "product": product_id, "quantity": float(abs(delta)), "unit": unit, "from_location": source,
                "to_location": target}])
            await self.rpc.call("model.stock.move.do", moves)
        record = (await self._stock([product_id]))[0]
        return WriteResult(record.external_id, "", record.data)

    async def _create_order(self, request: WriteRequest) -> WriteResult:
        data = request.data
        number = data.get("number") or data.get("id")
        existing = await self._find_ids("order", {"number": number})
        if existing:  # a retried create: the sale is already there
            return await self._update_order(WriteRequest("order", "update", data, str(existing[0])))
        party_id = await self._party_for(data)
        product_ids = dict(zip([ln["sku"] for ln in data.get("lines") or []],
                               await self._product_ids([ln["sku"] for ln in data.get("lines") or []]), strict=True))
        sale = {"party": party_id, "reference": number, "description": f"Storefront order {number}",
                "comment": data.get("note") or "", "currency": await self._currency(data.get("currency") or "USD"),
                "warehouse": (await self._warehouse())["id"],
                "payment_term": await self._ref("account.invoice.payment_term", [], "payment term"),
                "lines": [["create", maps.sale_line_values(
                    data, product_ids, await self._ref("product.uom", [["symbol", "=", "u"]], "unit 'u'"))]]}
        address = await self._address(party_id)
        if address:
            sale["invoice_address"] = sale["shipment_address"] = address
        (sale_id,) = await self.rpc.call("model.sale.sale.create", [sale])
        await self._advance(sale_id, data.get("status") or "confirmed")
        return await self._result("order", sale_id)

    async def _update_order(self, request: WriteRequest) -> WriteResult:
        sale_id = int(request.external_id or 0)
        status = request.data.get("status")
        if status == "cancelled":
            return await self._cancel_order(request)
        if status:
            await self._advance(sale_id, status)
        return await self._result("order", sale_id)

    async def _advance(self, sale_id: int, status: str) -> None:
        """Move a sale forward to ``status`` (quotation, confirmed); never backwards."""
        (sale,) = await self._read("sale.sale", [sale_id], ["state"])
        steps = {"quotation": ["quote"], "confirmed": ["quote", "confirm"], "processing": ["quote", "confirm"],
                 "done": ["quote", "confirm"]}.get(status, [])
        done = {"draft": 0, "quotation": 1, "confirmed": 2, "processing": 2, "done": 2, "cancelled": 2}[sale["state"]]
        for button in steps[done:]:
            await self.rpc.call(f"model.sale.sale.{button}", [sale_id])

    async def _cancel_order(self, request: WriteRequest) -> WriteResult:
        """Cancel a sale: directly before confirmation; after it, cancel its open shipments and draft invoices."""
        sale_id = int(request.external_id or 0)
        (sale,) = await self._read("sale.sale", [sale_id], ["state", "shipments", "invoices"])
        if sale["state"] in ("draft", "quotation"):
            await self.rpc.call("model.sale.sale.cancel", [sale_id])
        elif sale["state"] in ("confirmed", "processing"):
            shipments = await self._read("stock.shipment.out", sale["shipments"], ["state"])
            if any(s["state"] in ("shipped", "done") for s in shipments):
                raise RejectedError(f"Tryton sale {sale_id} has already shipped; it cannot be cancelled, "
                                    "book a return instead", system=self.system)
            await self.rpc.call("model.stock.shipment.out.cancel", [s["id"] for s in shipments])
            invoices = await self._read("account.invoice", sale["invoices"], ["state"])
            await self.rpc.call("model.account.invoice.cancel", [i["id"] for i in invoices if i["state"] == "draft"])
        return await self._result("order", sale_id)

    async def _create_refund(self, request: WriteRequest) -> WriteResult:
        """A refund becomes a return sale (negative quantities), whose invoice is Tryton's credit note."""
        data = request.data
        reference = f"{REFUND_PREFIX}{data.get('order_number') or data.get('order_id')}/{data.get('id')}"
        existing = await self._find_ids("order", {"number": reference})
        if existing:
            return await self._result("order", existing[0])
        original = await self._original_sale(data)
        if not original:
            raise DependencyMissing(f"order {data.get('order_number')} is not in Tryton yet", system=self.system)
        (sale,) = await self._read("sale.sale", [original[0]], ["party", "currency", "invoice_address",
                                                                 "shipment_address", "warehouse", "payment_term"])
        lines = await self._refund_lines(data)
        values = {k: sale[k] for k in ("party", "currency", "invoice_address", "shipment_address", "warehouse",
                                       "payment_term") if sale.get(k)}
        values.update(reference=reference, description=f"Refund for order {data.get('order_number')}",
                      lines=[["create", lines]])
        (sale_id,) = await self.rpc.call("model.sale.sale.create", [values])
        await self._advance(sale_id, "confirmed")
        return await self._result("order", sale_id)

    async def _original_sale(self, data: dict[str, Any]) -> list[int]:
        """The sale a refund belongs to: by the engine-translated ``order_id`` (a Tryton sale id), else by number."""
        order_id = str(data.get("order_id") or "")
        if order_id.isdigit():
            found = await self.rpc.call("model.sale.sale.search", [["id", "=", int(order_id)]], 0, 1, None)
            if found:
                return found
        return await self._find_ids("order", {"number": data.get("order_number") or ""})

    async def _refund_lines(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        unit = await self._ref("product.uom", [["symbol", "=", "u"]], "unit 'u'")
        lines, covered = [], Decimal(0)
        skus = [ln["sku"] for ln in data.get("lines") or [] if int(ln.get("quantity") or 0)]
        ids = dict(zip(skus, await self._product_ids(skus), strict=True))
        for line in data.get("lines") or []:
            quantity = int(line.get("quantity") or 0)
            if quantity:
                amount = Decimal(str(line.get("amount") or 0))
                lines.append({"type": "line", "product": ids[line["sku"]], "quantity": float(-quantity),
                              "unit": unit, "unit_price": (amount / quantity).quantize(Decimal("0.0001"))})
                covered += amount
        rest = Decimal(str(data.get("amount") or 0)) - covered
        if rest:
            lines.append({"type": "line", "description": "Refund (shipping and adjustments)", "quantity": -1.0,
                          "unit_price": rest})
        return lines

    async def _party_for(self, order: dict[str, Any]) -> int:
        if order.get("customer_ref"):
            return int(order["customer_ref"])
        email = order.get("email") or (order.get("customer") or {}).get("email")
        found = await self._find_ids("customer", {"email": email}) if email else []
        if not found:
            raise DependencyMissing(f"customer {email or '(no email)'} is not in Tryton yet", system=self.system)
        return found[0]

    async def _product_ids(self, skus: list[str]) -> list[int]:
        rows = await self._search_read("product.product", [["code", "in", sorted(set(skus))]], 0, None, ["code"])
        by_code = {row["code"]: row["id"] for row in rows}
        missing = [sku for sku in skus if sku not in by_code]
        if missing:
            raise RejectedError(f"Tryton has no product with code {', '.join(repr(m) for m in missing)} "
                                "(product.product searched by code)", system=self.system)
        return [by_code[sku] for sku in skus]

    async def _currency(self, code: str) -> int:
        return await self._ref("currency.currency", [["code", "=", code.upper()]], f"currency {code.upper()}")

    async def _address(self, party_id: int) -> int | None:
        found = await self.rpc.call("model.party.address.search", [["party", "=", party_id]], 0, 1, [["id", "ASC"]])
        return found[0] if found else None

    async def _result(self, entity: str, record_id: int) -> WriteResult:
        records = await self._records(entity, [record_id])
        if not records:
            raise NotFoundError(f"Tryton {entity} {record_id} vanished after the write", system=self.system)
        return WriteResult(records[0].external_id, records[0].version, records[0].data)


def _flat(groups: Any) -> list[int]:
    return sorted({item for group in groups for item in group})


def _compact(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit() or ch == "+")

