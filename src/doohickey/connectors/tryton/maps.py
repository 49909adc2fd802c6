"""Canonical entities to and from Tryton's models (party.party, product.product, sale.sale, stock).

Decisions, written down:
- A storefront order becomes one ``sale.sale`` whose ``reference`` is the order
  number the customer knows (``#1001``): that is how a retried create finds the
  sale it already made.
- Product lines carry the storefront's unit price. Discounts, shipping fees and
  taxes become explicit lines without product (``Discount``, ``Shipping: ...``,
  ``Tax: ...``), so the Tryton sale's total equals the storefront's total to the
  cent without re-computing taxes in Tryton. (Mapping storefront tax rates onto
  Tryton taxes is possible but would let Tryton's rounding differ.)
- The sale's status is Tryton's state, with ``processing`` read as ``confirmed``
  (Tryton processes a sale the moment it is confirmed); a processing sale whose
  shipments and invoices were cancelled reads as ``cancelled``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import phonenumbers
from phonenumbers import PhoneNumberFormat

from doohickey.model import Address, Customer, OrderLine, to_dict

CANCELLED_EXCEPTION = "exception"


def party_values(customer: dict[str, Any]) -> dict[str, Any]:
    """``party.party`` create values for a canonical customer (contacts and addresses included)."""
    name = " ".join(p for p in (customer.get("first_name"), customer.get("last_name")) if p).strip()
    mechanisms = [{"type": "email", "value": customer["email"]}] if customer.get("email") else []
    if customer.get("phone"):
        country = next((a.get("country") for a in customer.get("addresses") or [] if a.get("country")), None)
        mechanisms.append(phone_mechanism(customer["phone"], country))
    values: dict[str, Any] = {"name": name or customer.get("company") or customer.get("email") or "Customer"}
    if mechanisms:
        values["contact_mechanisms"] = [["create", mechanisms]]
    addresses = [address_values(a) for a in customer.get("addresses") or []]
    values["addresses"] = [["create", addresses or [{}]]]
    return values


def phone_mechanism(phone: str, country: str | None) -> dict[str, Any]:
    """A phone contact in E.164, as Tryton validates it; one it cannot read is kept as an ``other`` contact.

    Storefronts take numbers as people type them ("020 555 1003"); Tryton refuses a national number
    without its country, so the number is read in the customer's address country first.
    """
    try:
        parsed = phonenumbers.parse(phone, (country or "").upper() or None)
        if phonenumbers.is_valid_number(parsed):
            return {"type": "phone", "value": phonenumbers.format_number(parsed, PhoneNumberFormat.E164)}
    except phonenumbers.NumberParseException:
        pass
    return {"type": "other", "value": phone, "comment": "phone number as the storefront had it"}


def address_values(address: dict[str, Any]) -> dict[str, Any]:
    """``party.address`` values (Tryton keeps the street as one text; countries need loaded country data)."""
    street = "\n".join(p for p in (address.get("line1"), address.get("line2")) if p)
    values = {"street": street, "city": address.get("city", ""), "postal_code": address.get("postal_code", "")}
    return {k: v for k, v in values.items() if v}


def customer_from(party: dict[str, Any], mechanisms: list[dict[str, Any]],
                  addresses: list[dict[str, Any]]) -> dict[str, Any]:
    """A canonical customer dict from a party with its contact mechanisms and addresses."""
    first, _, last = (party.get("name") or "").partition(" ")
    email = next((m["value"] for m in mechanisms if m["type"] == "email"), "")
    phone = next((m["value"] for m in mechanisms if m["type"] in ("phone", "mobile", "other")), "")
    return to_dict(Customer(
        id=str(party["id"]), email=email, phone=phone, first_name=first, last_name=last,
        addresses=[Address(line1=(a.get("street") or "").split("\n")[0], city=a.get("city") or "",
                           postal_code=a.get("postal_code") or "") for a in addresses],
        created_at=party.get("create_date"), updated_at=party.get("write_date")))


def sale_line_values(order: dict[str, Any], product_ids: dict[str, int], unit_id: int) -> list[dict[str, Any]]:
    """Sale lines for a canonical order: products at their unit price, then discount, shipping and tax lines."""
    lines = []
    for line in order.get("lines") or []:
        item = OrderLine(**{k: v for k, v in line.items() if k in OrderLine.__dataclass_fields__})
        lines.append({"type": "line", "product": product_ids[item.sku], "quantity": float(item.quantity),
                      "unit": unit_id, "unit_price": Decimal(str(item.unit_price)),
                      "description": item.title or item.sku})
    discount = Decimal(str(order.get("discount_total") or 0))
    if discount:
        codes = ", ".join(order.get("discount_codes") or [])
        lines.append(_amount_line(f"Discount ({codes})" if codes else "Discount", -discount))
    for shipping in order.get("shipping_lines") or []:
        if Decimal(str(shipping.get("price") or 0)):
            lines.append(_amount_line(f"Shipping: {shipping.get('title') or 'shipping'}",
                                      Decimal(str(shipping["price"]))))
    tax = Decimal(str(order.get("tax_total") or 0))
    if tax:
        lines.append(_amount_line("Tax", tax))
    return lines


def _amount_line(description: str, amount: Decimal) -> dict[str, Any]:
    return {"type": "line", "description": description, "quantity": 1.0, "unit_price": amount}


def order_status(sale: dict[str, Any]) -> str:
    """The canonical status of a sale.

    Tryton processes a sale as soon as it is confirmed (shipment and invoice are made), so
    ``processing`` reads ``confirmed``; a processing sale whose shipments and invoices were
    cancelled reads ``cancelled``. The raw state stays in ``erp_state``.
    """
    state = sale.get("state", "draft")
    if state == "processing" and sale.get("shipment_state") == sale.get("invoice_state") == CANCELLED_EXCEPTION:
        return "cancelled"
    return "confirmed" if state == "processing" else state


def order_from(sale: dict[str, Any], lines: list[dict[str, Any]], codes: dict[int, str],
               party_email: str) -> dict[str, Any]:
    """A canonical order dict from a sale, its lines and the product codes by product id."""
    product_lines = [
        {"id": str(line["id"]), "sku": codes.get(line["product"], ""), "title": line.get("description") or "",
         "quantity": int(line["quantity"]), "unit_price": str(line["unit_price"]), "discount": "0", "taxes": [],
         "gift_card": False, "requires_shipping": True}
        for line in lines if line.get("product")]
    return {
        "id": str(sale["id"]), "number": sale.get("reference") or "", "email": party_email,
        "currency": sale.get("currency_code", ""), "lines": product_lines,
        "total": str(sale.get("total_amount") or "0"), "status": order_status(sale),
        "created_at": _iso(sale.get("create_date")), "updated_at": _iso(sale.get("write_date")),
        "erp_number": sale.get("number") or "", "erp_state": sale.get("state", ""),
    }


def refund_from(sale: dict[str, Any], prefix: str) -> dict[str, Any]:
    """A canonical refund dict from a return sale read as an order (reference ``<prefix><number>/<refund id>``)."""
    number, _, refund_id = sale["number"].removeprefix(prefix).partition("/")
    return {"id": refund_id, "order_id": "", "order_number": number, "currency": sale.get("currency", ""),
            "amount": str(-Decimal(sale.get("total") or "0")), "shipping_amount": "0",
            "lines": [{"sku": ln["sku"], "quantity": -ln["quantity"],
                       "amount": str(-Decimal(ln["unit_price"]) * ln["quantity"]), "restock": False}
                      for ln in sale.get("lines") or []],
            "reason": "", "created_at": sale.get("created_at"), "erp_id": sale["id"]}


def fulfilment_from(shipment: dict[str, Any], moves: list[dict[str, Any]], codes: dict[int, str],
                    order_number: str, order_id: str, carrier: str) -> dict[str, Any]:
    """A canonical fulfilment dict from a done/shipped customer shipment and its outgoing moves."""
    return {
        "id": str(shipment["id"]), "order_id": order_id, "order_number": order_number, "status": "success",
        "lines": [{"sku": codes.get(m["product"], ""), "quantity": int(m["quantity"])} for m in moves],
        "carrier": carrier if shipment.get("reference") else "", "tracking_number": shipment.get("reference") or "",
        "tracking_url": "", "location": shipment.get("warehouse_name", ""),
        "created_at": _iso(shipment.get("create_date")), "updated_at": _iso(shipment.get("write_date")),
    }


def _iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None
