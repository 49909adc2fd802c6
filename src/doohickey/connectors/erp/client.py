"""The ERP connector's Client: reads by ``updated_since`` with page/limit paging, writes with Idempotency-Key.

Records carry canonical dicts (see :mod:`.maps`); ``version`` is the ERP's
``updated_at`` (fixed-width ISO text, so it sorts as text). Errors follow the table
in :mod:`doohickey.connectors.http`; the ERP's message comes from ``o:errorDetails[0].detail``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from doohickey import model
from doohickey.connectors.erp import maps
from doohickey.connectors.http import HttpSession
from doohickey.connectors.spec import ConnectionSettings, ConnectOptions, Page, Record, WriteRequest, WriteResult
from doohickey.errors import DependencyMissing, RejectedError

Mapper = Callable[[dict[str, Any]], dict[str, Any]]
READS: dict[str, tuple[str, Mapper]] = {
    "order": ("/sales-orders", maps.order_from_erp),
    "customer": ("/customers", maps.customer_from_erp),
    "product": ("/items", maps.item_to_product),
    "variant": ("/items", maps.item_to_variant),
    "stock": ("/stock", maps.stock_from_erp),
    "fulfilment": ("/item-fulfilments", maps.fulfilment_from_erp),
    "refund": ("/credit-memos", maps.refund_from_erp),
}


def erp_message(body: Any) -> str:
    """The ERP's own words from an error body (NetSuite shape, with a plain ``detail`` fallback)."""
    details = body.get("o:errorDetails") or []
    return "; ".join(d["detail"] for d in details if d.get("detail")) or body.get("detail", "")


class ErpClient:
    """A live connection to the ERP (see :class:`doohickey.connectors.spec.Client`)."""

    def __init__(self, settings: ConnectionSettings, options: ConnectOptions) -> None:
        if "api_key" not in settings.secrets:
            raise RejectedError(f"{settings.system}: the ERP connection needs the secret 'api_key'",
                                system=settings.system)
        prefix = settings.options.get("api_prefix", "/api/v1")
        self.system = settings.system
        self.http = HttpSession(settings, options, base_url=settings.url.rstrip("/") + prefix,
                                headers={"X-Api-Key": settings.secrets["api_key"].reveal()}, message_of=erp_message)

    async def check(self) -> None:
        """One cheap authenticated call (the first item)."""
        await self.http.call("GET", "/items", params={"limit": 1})

    async def read(self, entity: str, *, since: dt.datetime | None = None, cursor: str | None = None,
                   limit: int = 100) -> Page:
        """One page of ``entity`` changed at or after ``since``, oldest first; the cursor is the next page."""
        path, mapper = _reads(entity)
        body = await self.http.call("GET", path, params={
            "page": int(cursor or 1), "limit": min(limit, 500),
            "updated_since": since.astimezone(dt.UTC).isoformat() if since else None})
        records = [self._record(entity, doc, mapper) for doc in body["items"]]
        return Page(records, str(body["next_page"]) if body.get("has_more") else None)

    async def get(self, entity: str, external_id: str) -> Record | None:
        """One record by its ERP id (stock: ``SKU@LOCATION``)."""
        path, mapper = _reads(entity)
        if entity == "stock":
            sku, _, location = external_id.partition("@")
            found = await self.http.call("GET", path, params={"item_code": sku, "location": location or None})
            return self._record(entity, found["items"][0], mapper) if found["items"] else None
        doc = await self.http.call("GET", f"{path}/{external_id}", missing_ok=True)
        return self._record(entity, doc, mapper) if doc else None

    async def find(self, entity: str, key: Mapping[str, str]) -> list[Record]:
        """Find by natural key: order ``number``; customer ``email``/``phone``; product/variant ``sku``;
        stock ``sku`` (+ ``location``); fulfilment/refund ``order_number``."""
        path, mapper = _reads(entity)
        if key.get("id"):
            one = await self.get(entity, key["id"])
            return [one] if one else []
        params: dict[str, Any]
        if entity == "order" and key.get("number"):
            params = {"external_ref": key["number"]}
        elif entity == "customer" and (key.get("email") or key.get("phone")):
            params = {"email": key.get("email"), "phone": key.get("phone")}
        elif entity in ("product", "variant") and (key.get("sku") or key.get("code")):
            one = await self.get(entity, key.get("sku") or key["code"])
            return [one] if one else []
        elif entity == "stock" and key.get("sku"):
            params = {"item_code": key["sku"], "location": key.get("location")}
        elif entity == "refund" and key.get("id"):
            params = {"external_ref": key["id"]}
        elif entity in ("fulfilment", "refund") and (key.get("order_number") or key.get("order_id")):
            order_id = key.get("order_id") or await self._order_id(key["order_number"])
            if order_id is None:
                return []
            params = {"order_id": order_id}
        else:
            raise RejectedError(f"the ERP cannot find {entity} records by {', '.join(key) or 'nothing'}",
                                system=self.system)
        body = await self.http.call("GET", path, params={**params, "limit": 500})
        return [self._record(entity, doc, mapper) for doc in body["items"]]

    async def write(self, request: WriteRequest) -> WriteResult:
        """Perform ``request.action`` on ``request.entity`` (see the connector's entity declarations)."""
        entity, action, data = request.entity, request.action, request.data
        idem = {"Idempotency-Key": request.idempotency_key} if request.idempotency_key else None
        if entity == "order" and action == "create":
            customer_id = await self._customer_id(data.get("email") or (data.get("customer") or {}).get("email"))
            doc = await self.http.call("POST", "/sales-orders", json_body=maps.order_to_erp(
                data, customer_id=customer_id), headers=idem)
        elif entity == "order" and action in ("cancel", "confirm"):
            order_id = request.external_id or await self._order_id(data.get("number", ""))
            if order_id is None:
                raise DependencyMissing(f"order {data.get('number')} is not in the ERP", system=self.system)
            doc = await self.http.call("POST", f"/sales-orders/{order_id}/{action}")
        elif entity == "customer" and action == "create":
            doc = await self.http.call("POST", "/customers", json_body=maps.customer_to_erp(data), headers=idem)
        elif entity == "customer" and action == "update":
            doc = await self.http.call("PATCH", f"/customers/{_need_id(request)}",
                                       json_body=maps.customer_to_erp(data, partial=True))
        elif entity in ("variant", "product") and action == "upsert":
            doc = await self._upsert_items(entity, data)
        elif entity == "stock" and action == "set":
            doc = await self.http.call("POST", "/stock/adjustments", json_body={
                "item_code": data["sku"], "location": data.get("location") or "WH-MAIN",
                "on_hand": int(data.get("on_hand", data.get("available", 0))), "reason": "integration"})
        elif entity in ("fulfilment", "refund") and action == "create":
            doc = await self._create_for_order(entity, data, idem)
        else:
            raise RejectedError(f"the ERP connector has no action {action!r} for {entity}", system=self.system)
        record = self._record(entity, doc, _reads(entity)[1])
        return WriteResult(record.external_id, record.version, record.data)

    async def aclose(self) -> None:
        """Close connections."""
        await self.http.aclose()

    # --- helpers ---------------------------------------------------------------------------------

    def _record(self, entity: str, doc: dict[str, Any], mapper: Mapper) -> Record:
        return Record(system=self.system, entity=entity, external_id=doc["id"], data=mapper(doc),
                      version=doc["updated_at"], updated_at=model.parse_time(doc["updated_at"]))

    async def _order_id(self, number: str) -> str | None:
        if not number:
            return None
        body = await self.http.call("GET", "/sales-orders", params={"external_ref": number, "limit": 1})
        return body["items"][0]["id"] if body["items"] else None

    async def _customer_id(self, email: str | None) -> str | None:
        if not email:
            return None
        body = await self.http.call("GET", "/customers", params={"email": email, "limit": 1})
        return body["items"][0]["id"] if body["items"] else None

    async def _upsert_items(self, entity: str, data: dict[str, Any]) -> dict[str, Any]:
        variants = data.get("variants") if entity == "product" else [data]
        doc: dict[str, Any] = {}
        for variant in variants or []:
            body = {**maps.variant_to_item(variant), "product_code": data.get("code") or data.get("id") or ""}
            if entity == "product":
                body["name"] = f"{data.get('title', '')} - {variant.get('title', '')}".strip(" -")
            doc = await self.http.call("PUT", f"/items/{body['code']}", json_body=body)
        if not doc:
            raise RejectedError("a product needs at least one variant with a SKU", system=self.system)
        return doc

    async def _create_for_order(self, entity: str, data: dict[str, Any], idem: dict[str, str] | None) -> dict:
        order_id = await self._order_id(data.get("order_number", ""))
        if order_id is None and data.get("order_id"):
            known = await self.http.call("GET", f"/sales-orders/{data['order_id']}", missing_ok=True)
            order_id = known["id"] if known else None
        if order_id is None:
            number = data.get("order_number") or data.get("order_id")
            raise DependencyMissing(f"order {number} is not in the ERP yet", system=self.system)
        if entity == "fulfilment":
            return await self.http.call("POST", f"/sales-orders/{order_id}/fulfilments",
                                        json_body=maps.fulfilment_to_erp(data), headers=idem)
        return await self.http.call("POST", "/credit-memos", json_body=maps.refund_to_erp(data, order_id),
                                    headers=idem)


def _reads(entity: str) -> tuple[str, Mapper]:
    try:
        return READS[entity]
    except KeyError:
        raise RejectedError(f"the ERP connector does not know the entity {entity!r}; it knows "
                            f"{', '.join(sorted(READS))}") from None


def _need_id(request: WriteRequest) -> str:
    if not request.external_id:
        raise RejectedError(f"{request.entity} {request.action} needs the record's ERP id (external_id)")
    return request.external_id
