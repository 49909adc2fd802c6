"""Canonical <-> ERP payloads: sales orders, customers, items, stock, item fulfilments and credit memos.

``*_from_erp`` take the ERP's JSON document and return the canonical dict
(:func:`doohickey.model.to_dict` form); ``*_to_erp`` take a canonical dict and
return the request body. The ERP order's ``external_ref`` carries the storefront's
order number, so ``number`` round-trips.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from doohickey import model

# ERP workflow status -> canonical life-cycle status and fulfilment status.
STATUS = {"draft": "open", "confirmed": "confirmed", "partially_fulfilled": "processing", "fulfilled": "shipped",
          "cancelled": "cancelled"}
FULFILMENT = {"partially_fulfilled": "partial", "fulfilled": "fulfilled"}


def _dec(value: Any) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else Decimal(0)


def _sum(values: Any) -> Decimal:
    return sum((_dec(v) for v in values), Decimal(0))


def address_from_erp(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    """An ERP address (one ``name``) as a canonical Address (first word is the first name)."""
    if not doc:
        return None
    first, _, last = (doc.get("name") or "").partition(" ")
    return model.to_dict(model.Address(
        first_name=first, last_name=last, company=doc.get("company", ""), line1=doc.get("line1", ""),
        line2=doc.get("line2", ""), city=doc.get("city", ""), province=doc.get("region", ""),
        postal_code=doc.get("postal_code", ""), country=doc.get("country", ""), phone=doc.get("phone", "")))


def address_to_erp(data: dict[str, Any] | None) -> dict[str, Any] | None:
    """A canonical Address as the ERP's."""
    if not data:
        return None
    name = f"{data.get('first_name', '')} {data.get('last_name', '')}".strip()
    return {"name": name, "company": data.get("company", ""), "line1": data.get("line1", ""),
            "line2": data.get("line2", ""), "city": data.get("city", ""), "region": data.get("province", ""),
            "postal_code": data.get("postal_code", ""), "country": data.get("country", ""),
            "phone": data.get("phone", "")}


def customer_from_erp(doc: dict[str, Any]) -> dict[str, Any]:
    """An ERP customer as a canonical Customer."""
    return {**model.to_dict(model.Customer(
        id=doc["id"], email=doc.get("email", ""), first_name=doc.get("first_name", ""),
        last_name=doc.get("last_name", ""), phone=doc.get("phone", ""), company=doc.get("company", ""),
        created_at=model.parse_time(doc["created_at"]), updated_at=model.parse_time(doc["updated_at"]))),
        "addresses": [address_from_erp(a) for a in doc.get("addresses") or []]}


def customer_to_erp(data: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """A canonical Customer as the ERP's create (or, ``partial``, update) body."""
    body: dict[str, Any] = {k: data[k] for k in ("email", "first_name", "last_name", "company", "phone") if k in data}
    if "addresses" in data:
        body["addresses"] = [address_to_erp(a) for a in data["addresses"] or []]
    if not partial and data.get("id"):
        body["external_ref"] = data["id"]
    return body


def item_to_variant(doc: dict[str, Any]) -> dict[str, Any]:
    """An ERP item as a canonical Variant (the SKU is the product code)."""
    return model.to_dict(model.Variant(id=doc["code"], sku=doc["code"], title=doc.get("name", ""),
                                       price=_dec(doc.get("price")), barcode=doc.get("barcode", ""),
                                       weight_grams=int(doc.get("weight_grams") or 0)))


def item_to_product(doc: dict[str, Any]) -> dict[str, Any]:
    """An ERP item as a canonical Product holding its one Variant."""
    return {**model.to_dict(model.Product(
        id=doc["code"], title=doc.get("name", ""), code=doc.get("product_code") or doc["code"],
        product_type="Gift card" if doc.get("is_gift_card") else "", status="active" if doc.get("active", True)
        else "archived", updated_at=model.parse_time(doc["updated_at"]))), "variants": [item_to_variant(doc)]}


def variant_to_item(data: dict[str, Any]) -> dict[str, Any]:
    """A canonical Variant as the ERP's item body."""
    return {"code": data["sku"], "name": data.get("title", ""), "price": str(_dec(data.get("price"))),
            "barcode": data.get("barcode", ""), "weight_grams": int(data.get("weight_grams") or 0)}


def stock_from_erp(doc: dict[str, Any]) -> dict[str, Any]:
    """An ERP stock record as a canonical StockLevel."""
    return model.to_dict(model.StockLevel(
        sku=doc["item_code"], location=doc["location"], available=int(doc.get("available", doc["on_hand"])),
        on_hand=int(doc["on_hand"]), reserved=int(doc.get("committed") or 0),
        updated_at=model.parse_time(doc["updated_at"])))


def order_from_erp(doc: dict[str, Any]) -> dict[str, Any]:
    """An ERP sales order as a canonical Order."""
    lines = [model.OrderLine(
        id=f"{doc['id']}-{ln['line_no']}", sku=ln["item_code"], title=ln.get("description", ""),
        quantity=int(ln["quantity"]), unit_price=_dec(ln["unit_price"]), discount=_dec(ln["discount"]),
        taxes=[model.TaxLine("Tax", _dec(ln.get("tax_rate")), _dec(ln["tax_amount"]))] if _dec(ln["tax_amount"])
        else [], gift_card=bool(ln.get("is_gift_card")), requires_shipping=not ln.get("is_gift_card"))
        for ln in doc["lines"]]
    shipping = []
    if _dec(doc.get("shipping_fee")) or _dec(doc.get("shipping_tax")):
        tax = _dec(doc.get("shipping_tax"))
        shipping = [model.ShippingLine(title="Shipping", price=_dec(doc["shipping_fee"]),
                                       taxes=[model.TaxLine("Tax", Decimal(0), tax)] if tax else [])]
    order = model.Order(
        id=doc["id"], number=doc.get("external_ref") or doc["number"], email=doc.get("email", ""),
        currency=doc["currency"], lines=lines, shipping_lines=shipping,
        customer=model.Customer(id=doc["customer_id"]) if doc.get("customer_id") else None,
        subtotal=_dec(doc["subtotal"]), discount_total=_dec(doc["discount_total"]),
        shipping_total=_dec(doc["shipping_fee"]), tax_total=_dec(doc["tax_total"]), total=_dec(doc["total"]),
        status=STATUS.get(doc["status"], doc["status"]),
        fulfillment_status=FULFILMENT.get(doc["status"], "unfulfilled"), note=doc.get("memo", ""),
        cancelled_at=model.parse_time(doc["cancelled_at"]) if doc.get("cancelled_at") else None,
        created_at=model.parse_time(doc["created_at"]), updated_at=model.parse_time(doc["updated_at"]))
    data = model.to_dict(order)
    data["shipping_address"] = address_from_erp(doc.get("ship_to"))
    data["billing_address"] = address_from_erp(doc.get("bill_to"))
    return data


def order_to_erp(data: dict[str, Any], *, customer_id: str | None = None) -> dict[str, Any]:
    """A canonical Order as the ERP's create body; ``expected_total`` makes the ERP check the total to the cent."""
    lines = []
    for line in data.get("lines") or []:
        taxes = line.get("taxes") or []
        lines.append({
            "item_code": line["sku"], "quantity": int(line["quantity"]),
            "unit_price": str(_dec(line.get("unit_price"))), "discount": str(_dec(line.get("discount"))),
            "tax_amount": str(_sum(t.get("amount") for t in taxes)),
            "tax_rate": str(_dec(taxes[0].get("rate"))) if taxes else "0",
            "description": line.get("title", ""), "is_gift_card": bool(line.get("gift_card")),
        })
    shipping = data.get("shipping_lines") or []
    body: dict[str, Any] = {
        "external_ref": data.get("number") or data.get("id") or None, "status": "confirmed",
        "currency": data.get("currency") or "USD", "email": data.get("email", ""), "lines": lines,
        "shipping_fee": str(_sum(s.get("price") for s in shipping)),
        "shipping_tax": str(_sum(t.get("amount") for s in shipping for t in s.get("taxes") or [])),
        "ship_to": address_to_erp(data.get("shipping_address")),
        "bill_to": address_to_erp(data.get("billing_address")), "memo": data.get("note", ""),
    }
    if data.get("total") not in (None, "", "0"):
        body["expected_total"] = str(_dec(data["total"]))
    if customer_id:
        body["customer_id"] = customer_id
    return body


def fulfilment_from_erp(doc: dict[str, Any]) -> dict[str, Any]:
    """An ERP item fulfilment as a canonical Fulfilment."""
    return model.to_dict(model.Fulfilment(
        id=doc["id"], order_id=doc["order_id"], order_number=doc.get("order_external_ref") or "",
        status="success", lines=[model.FulfilmentLine(ln["item_code"], int(ln["quantity"])) for ln in doc["lines"]],
        carrier=doc.get("carrier", ""), tracking_number=doc.get("tracking_number", ""),
        tracking_url=doc.get("tracking_url", ""), location=doc.get("location", ""),
        created_at=model.parse_time(doc["created_at"]), updated_at=model.parse_time(doc["updated_at"])))


def fulfilment_to_erp(data: dict[str, Any]) -> dict[str, Any]:
    """A canonical Fulfilment as the ERP's item fulfilment body (no lines: everything still open)."""
    body = {"lines": [{"item_code": ln["sku"], "quantity": int(ln["quantity"])} for ln in data.get("lines") or []],
            "carrier": data.get("carrier", ""), "tracking_number": data.get("tracking_number", ""),
            "tracking_url": data.get("tracking_url", "")}
    if data.get("location"):
        body["location"] = data["location"]
    return body


def refund_from_erp(doc: dict[str, Any]) -> dict[str, Any]:
    """An ERP credit memo as a canonical Refund."""
    return model.to_dict(model.Refund(
        id=doc["id"], order_id=doc["order_id"], order_number=doc.get("order_external_ref") or "",
        currency=doc["currency"], amount=_dec(doc["amount"]), shipping_amount=_dec(doc.get("shipping_amount")),
        lines=[model.RefundLine(ln["item_code"], int(ln["quantity"]), _dec(ln["amount"]), bool(ln.get("restock")))
               for ln in doc["lines"]], reason=doc.get("reason", ""), created_at=model.parse_time(doc["created_at"])))


def refund_to_erp(data: dict[str, Any], order_id: str) -> dict[str, Any]:
    """A canonical Refund as the ERP's credit memo body for ERP order ``order_id``."""
    lines = [{"item_code": ln["sku"], "quantity": int(ln.get("quantity") or 0), "amount": str(_dec(ln.get("amount"))),
              "restock": bool(ln.get("restock"))} for ln in data.get("lines") or []]
    body: dict[str, Any] = {"order_id": order_id, "lines": lines, "reason": data.get("reason", ""),
                            "shipping_amount": str(_dec(data.get("shipping_amount"))),
                            "external_ref": data.get("id") or None}
    if _dec(data.get("amount")) > 0:  # the total refunded, tax included
        body["amount"] = str(_dec(data.get("amount")))
    return body
