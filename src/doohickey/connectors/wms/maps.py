"""Canonical <-> WMS payloads: orders as fulfilment requests, shipments as Fulfilments, stock per SKU.

The warehouse knows only SKUs, quantities and where to ship: prices, taxes and
gift cards (nothing to ship) stay behind. ``order_ref`` carries the storefront's
order number, so shipments come back with the number every System knows.
"""

from __future__ import annotations

from typing import Any

from doohickey import model

# Request status -> (canonical order status, canonical fulfilment status).
STATUS = {
    "received": ("processing", "unfulfilled"), "picking": ("processing", "unfulfilled"),
    "backordered": ("processing", "unfulfilled"), "partially_shipped": ("processing", "partial"),
    "shipped": ("shipped", "fulfilled"), "cancelled": ("cancelled", "unfulfilled"),
}


def ship_to(address: dict[str, Any] | None, email: str = "") -> dict[str, Any] | None:
    """A canonical Address as the WMS ship-to."""
    if not address:
        return None
    return {"name": f"{address.get('first_name', '')} {address.get('last_name', '')}".strip(),
            "company": address.get("company", ""), "line1": address.get("line1", ""),
            "line2": address.get("line2", ""), "city": address.get("city", ""),
            "region": address.get("province", ""), "postal_code": address.get("postal_code", ""),
            "country": address.get("country", ""), "phone": address.get("phone", ""), "email": email}


def address_from_wms(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    """A WMS ship-to as a canonical Address."""
    if not doc:
        return None
    first, _, last = (doc.get("name") or "").partition(" ")
    return model.to_dict(model.Address(first_name=first, last_name=last, company=doc.get("company", ""),
                                       line1=doc.get("line1", ""), line2=doc.get("line2", ""),
                                       city=doc.get("city", ""), province=doc.get("region", ""),
                                       postal_code=doc.get("postal_code", ""), country=doc.get("country", ""),
                                       phone=doc.get("phone", "")))


def order_to_request(data: dict[str, Any]) -> dict[str, Any]:
    """A canonical Order as a fulfilment request: the lines that need shipping, summed per SKU."""
    quantities: dict[str, int] = {}
    for line in data.get("lines") or []:
        if line.get("requires_shipping", True) and not line.get("gift_card"):
            quantities[line["sku"]] = quantities.get(line["sku"], 0) + int(line["quantity"])
    return {"order_ref": data.get("number") or data.get("id"), "lines": [
        {"sku": sku, "quantity": q} for sku, q in quantities.items()],
        "ship_to": ship_to(data.get("shipping_address"), data.get("email", ""))}


def fulfilment_to_request(data: dict[str, Any]) -> dict[str, Any]:
    """A canonical Fulfilment (what to send for an order) as a fulfilment request."""
    body: dict[str, Any] = {"order_ref": data.get("order_number") or data.get("order_id"),
                            "lines": [{"sku": ln["sku"], "quantity": int(ln["quantity"])} for ln in data["lines"]]}
    if data.get("carrier"):
        body["carrier"] = data["carrier"]
    return body


def request_to_order(doc: dict[str, Any]) -> dict[str, Any]:
    """A fulfilment request as a canonical Order (lines without prices)."""
    status, fulfilment = STATUS.get(doc["status"], ("processing", "unfulfilled"))
    data = model.to_dict(model.Order(
        id=doc["id"], number=doc["order_ref"], status=status, fulfillment_status=fulfilment,
        lines=[model.OrderLine(id=f"{doc['id']}-{i + 1}", sku=ln["sku"], quantity=int(ln["quantity"]))
               for i, ln in enumerate(doc["lines"])],
        created_at=model.parse_time(doc["created_at"]), updated_at=model.parse_time(doc["updated_at"])))
    data["shipping_address"] = address_from_wms(doc.get("ship_to"))
    return data


def request_to_fulfilment(doc: dict[str, Any]) -> dict[str, Any]:
    """A fulfilment request as a canonical Fulfilment still to be shipped (status pending)."""
    return model.to_dict(model.Fulfilment(
        id=doc["id"], order_id=doc["id"], order_number=doc["order_ref"],
        status="cancelled" if doc["status"] == "cancelled" else "pending", carrier=doc.get("carrier", ""),
        lines=[model.FulfilmentLine(ln["sku"], int(ln["quantity"])) for ln in doc["lines"]],
        created_at=model.parse_time(doc["created_at"]), updated_at=model.parse_time(doc["updated_at"])))


def shipment_to_fulfilment(doc: dict[str, Any]) -> dict[str, Any]:
    """A WMS shipment (one parcel) as a canonical Fulfilment with carrier and tracking."""
    return model.to_dict(model.Fulfilment(
        id=doc["id"], order_id=doc["request_id"], order_number=doc["order_ref"], status="success",
        lines=[model.FulfilmentLine(ln["sku"], int(ln["quantity"])) for ln in doc["lines"]],
        carrier=doc.get("carrier", ""), tracking_number=doc.get("tracking_number", ""),
        tracking_url=doc.get("tracking_url", ""), location="WMS",
        created_at=model.parse_time(doc.get("shipped_at") or doc["created_at"]),
        updated_at=model.parse_time(doc["updated_at"])))


def stock_from_wms(doc: dict[str, Any], location: str = "WMS") -> dict[str, Any]:
    """WMS stock of one SKU as a canonical StockLevel at ``location``."""
    return model.to_dict(model.StockLevel(
        sku=doc["sku"], location=location, available=int(doc["available"]), on_hand=int(doc["on_hand"]),
        reserved=int(doc["reserved"]), updated_at=model.parse_time(doc["updated_at"])))
