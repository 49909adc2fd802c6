"""The WMS connector's Client: fulfilment requests out, shipments and stock in (polled or by webhook).

Records carry canonical dicts (see :mod:`.maps`); ``version`` is the WMS's
``updated_at``. Errors follow the shared status table; the WMS's message comes
from ``error.message``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from doohickey import model
from doohickey.connectors.http import HttpSession
from doohickey.connectors.spec import ConnectionSettings, ConnectOptions, Page, Record, WriteRequest, WriteResult
from doohickey.connectors.wms import maps
from doohickey.errors import DependencyMissing, RejectedError

Mapper = Callable[[dict[str, Any]], dict[str, Any]]
READS: dict[str, tuple[str, Mapper]] = {
    "order": ("/fulfilment-requests", maps.request_to_order),
    "fulfilment": ("/shipments", maps.shipment_to_fulfilment),
    "shipment": ("/shipments", maps.shipment_to_fulfilment),
    "stock": ("/stock", maps.stock_from_wms),
}


def wms_message(body: Any) -> str:
    """The WMS's own words from an error body."""
    return body["error"]["message"]


class WmsClient:
    """A live connection to the WMS (see :class:`doohickey.connectors.spec.Client`)."""

    def __init__(self, settings: ConnectionSettings, options: ConnectOptions) -> None:
        if "token" not in settings.secrets:
            raise RejectedError(f"{settings.system}: the WMS connection needs the secret 'token'",
                                system=settings.system)
        self.system = settings.system
        self.location = settings.options.get("location", "WMS")
        base_url = settings.url.rstrip("/") + settings.options.get("api_prefix", "/api/v1")
        self.http = HttpSession(settings, options, base_url=base_url, message_of=wms_message,
                                headers={"Authorization": f"Bearer {settings.secrets['token'].reveal()}"})

    async def check(self) -> None:
        """One cheap authenticated call."""
        await self.http.call("GET", "/stock", params={"limit": 1})

    async def read(self, entity: str, *, since: dt.datetime | None = None, cursor: str | None = None,
                   limit: int = 100) -> Page:
        """One page of ``entity`` changed at or after ``since``, oldest first; the cursor is the next page."""
        path, _ = _reads(entity)
        body = await self.http.call("GET", path, params={
            "page": int(cursor or 1), "limit": min(limit, 500),
            "updated_since": since.astimezone(dt.UTC).isoformat() if since else None})
        return Page([self._record(entity, doc) for doc in body["items"]],
                    str(body["next_page"]) if body.get("has_more") else None)

    async def get(self, entity: str, external_id: str) -> Record | None:
        """One record by its WMS id (stock: the SKU)."""
        path, _ = _reads(entity)
        doc = await self.http.call("GET", f"{path}/{external_id}", missing_ok=True)
        return self._record(entity, doc) if doc else None

    async def find(self, entity: str, key: Mapping[str, str]) -> list[Record]:
        """Find by natural key: order ``number``; fulfilment/shipment ``order_number``; stock ``sku``."""
        if key.get("id"):
            one = await self.get(entity, key["id"])
            return [one] if one else []
        if entity == "stock" and key.get("sku"):
            one = await self.get("stock", key["sku"])
            return [one] if one else []
        ref = key.get("number") if entity == "order" else key.get("order_number")
        if not ref or entity not in READS:
            raise RejectedError(f"the WMS cannot find {entity} records by {', '.join(key) or 'nothing'}",
                                system=self.system)
        body = await self.http.call("GET", READS[entity][0], params={"order_ref": ref, "limit": 500})
        return [self._record(entity, doc) for doc in body["items"]]

    async def write(self, request: WriteRequest) -> WriteResult:
        """Perform ``request.action``: order create/cancel, fulfilment create, stock receive/set."""
        entity, action, data = request.entity, request.action, request.data
        idem = {"Idempotency-Key": request.idempotency_key} if request.idempotency_key else None
        if entity == "order" and action == "create":
            doc = await self.http.call("POST", "/fulfilment-requests", json_body=maps.order_to_request(data),
                                       headers=idem)
            return self._result("order", doc)
        if entity == "order" and action == "cancel":
            request_id = request.external_id or await self._request_id(data.get("number", ""))
            doc = await self.http.call("POST", f"/fulfilment-requests/{request_id}/cancel")
            return self._result("order", doc)
        if entity == "fulfilment" and action == "create":
            doc = await self.http.call("POST", "/fulfilment-requests", json_body=maps.fulfilment_to_request(data),
                                       headers=idem)
            return WriteResult(doc["id"], doc["updated_at"], maps.request_to_fulfilment(doc))
        if entity == "stock" and action in ("receive", "set"):
            return await self._receive(data, action, idem)
        raise RejectedError(f"the WMS connector has no action {action!r} for {entity}", system=self.system)

    async def aclose(self) -> None:
        """Close connections."""
        await self.http.aclose()

    # --- helpers ---------------------------------------------------------------------------------

    def _record(self, entity: str, doc: dict[str, Any]) -> Record:
        mapper = READS[entity][1]
        data = maps.stock_from_wms(doc, self.location) if entity == "stock" else mapper(doc)
        external_id = doc["sku"] if entity == "stock" else doc["id"]
        return Record(system=self.system, entity=entity, external_id=external_id, data=data,
                      version=doc["updated_at"], updated_at=model.parse_time(doc["updated_at"]))

    def _result(self, entity: str, doc: dict[str, Any]) -> WriteResult:
        record = self._record(entity, doc)
        return WriteResult(record.external_id, record.version, record.data)

    async def _request_id(self, number: str) -> str:
        body = await self.http.call("GET", "/fulfilment-requests", params={"order_ref": number, "limit": 1})
        if not number or not body["items"]:
            raise DependencyMissing(f"order {number or '(no number)'} was never sent to the warehouse",
                                    system=self.system)
        return body["items"][0]["id"]

    async def _receive(self, data: dict[str, Any], action: str, idem: dict[str, str] | None) -> WriteResult:
        """Goods-in: ``receive`` adds ``quantity``; ``set`` raises on-hand to ``on_hand`` (a WMS never loses
        stock by decree: lowering it is refused)."""
        sku = data["sku"]
        quantity = int(data.get("quantity") or 0)
        if action == "set":
            current = await self.http.call("GET", f"/stock/{sku}", missing_ok=True)
            held = current["on_hand"] if current else 0
            quantity = int(data.get("on_hand", 0)) - held
            if quantity < 0:
                raise RejectedError(f"the warehouse holds {held} of {sku}; stock can only be raised by goods-in, "
                                    f"not lowered to {data.get('on_hand')}", system=self.system)
            if quantity == 0:
                return self._result("stock", current)
        if quantity <= 0:
            raise RejectedError(f"a goods-in of {sku} needs a positive quantity", system=self.system)
        await self.http.call("POST", "/goods-in", headers=idem, json_body={
            "reference": data.get("reference") or "integration", "lines": [{"sku": sku, "quantity": quantity}]})
        return self._result("stock", await self.http.call("GET", f"/stock/{sku}"))


def _reads(entity: str) -> tuple[str, Mapper]:
    try:
        return READS[entity]
    except KeyError:
        raise RejectedError(f"the WMS connector does not know the entity {entity!r}; it knows "
                            f"{', '.join(sorted(READS))}") from None
