"""Shopify payloads <-> canonical entities (``doohickey.model`` dicts).

Two native shapes come in: GraphQL nodes (camelCase, ``MoneyBag`` objects, gid
ids) from reads and writes, and REST-shaped webhook payloads (snake_case,
integer ids, ``*_set`` money objects). Both become the same canonical dicts:

* ids are Shopify gids (``gid://shopify/Order/820982911946154508``), kept as
  text, so ids above 2^53 stay exact; a REST payload's integer id is turned into
  the same gid;
* money is a Decimal string in the shop currency (``shopMoney`` / ``shop_money``);
* ``financial_status`` and ``fulfillment_status`` use Shopify's REST vocabulary
  (``paid``, ``partially_refunded``; ``fulfilled``, ``partial``, ``unfulfilled``);
* ``order.number`` is the order name customers know (``#1001``);
* ``order.subtotal`` is before discounts (the sum of line prices, REST's
  ``total_line_items_price``), ``discount_total`` the order's discounts, so
  ``total = subtotal - discount_total + shipping_total + tax_total`` as in
  :func:`doohickey.twins.datagen.totalled` (Shopify's ``subtotalPrice`` is after
  discounts and is not used).

Extra native keys that flows need but the canonical entity lacks ride along in
the dict (``product_id`` on a variant, ``inventory_item_id`` and ``location_id``
on a stock level); ``model.from_dict`` ignores them.

A value of the wrong type (money that is not a number, a time that is not ISO
8601) raises ``ValueError`` naming the field.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from doohickey import model

GID = "gid://shopify/"

FULFILMENT_STATUS = {"FULFILLED": "fulfilled", "PARTIALLY_FULFILLED": "partial", "RESTOCKED": "restocked",
                     "UNFULFILLED": "unfulfilled"}
CANCEL_REASONS = ("customer", "declined", "fraud", "inventory", "other", "staff")


# --- small helpers ---------------------------------------------------------------------------------

def gid(kind: str, value: Any) -> str:
    """The gid for a REST id (``gid://shopify/Order/123``); a gid passes through unchanged."""
    if value is None or value == "":
        return ""
    text = str(value)
    return text if text.startswith(GID) else f"{GID}{kind}/{text}"


def rest_id(payload: dict[str, Any], kind: str, key: str = "id") -> str:
    """A REST payload's id as a gid: ``admin_graphql_api_id`` when it is one, else built from the integer id."""
    api_id = payload.get("admin_graphql_api_id")
    if isinstance(api_id, str) and api_id.startswith(GID):
        return api_id
    return gid(kind, payload.get(key))


def legacy_id(value: str) -> str:
    """The number at the end of a gid (``gid://shopify/Order/12`` -> ``12``), for search queries."""
    return value.rsplit("/", 1)[-1].split("?", 1)[0]


def decimal_text(value: Any, where: str) -> str:
    """A money amount as a Decimal string; ``None``/empty is ``0``; anything else non-numeric is a ValueError."""
    if value is None or value == "":
        return "0.00"
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{where}: {value!r} is not a money amount") from None
    if not number.is_finite():
        raise ValueError(f"{where}: {value!r} is not a money amount")
    return money_text(number)


def money_text(number: Decimal) -> str:
    """One text per amount whatever the source wrote (``10``, ``10.0``, ``10.00`` -> ``10.00``; ``29.999`` kept),
    so fingerprints of the same record read by GraphQL and by webhook agree."""
    normal = number.normalize()
    if normal.as_tuple().exponent > -2:  # type: ignore[operator]
        normal = normal.quantize(Decimal("0.01"))
    return f"{normal:f}"


def bag(value: Any, where: str) -> str:
    """Shop-currency amount of a GraphQL ``MoneyBag`` or a REST ``*_set`` object (or a plain amount)."""
    if isinstance(value, dict):
        money = value.get("shopMoney") or value.get("shop_money") or {}
        return decimal_text(money.get("amount"), where)
    return decimal_text(value, where)


def time_text(value: Any, where: str) -> str | None:
    """An ISO-8601 time as canonical UTC text (``...Z``), or None."""
    if value in (None, ""):
        return None
    try:
        parsed = model.parse_time(str(value))
    except ValueError:
        raise ValueError(f"{where}: {value!r} is not an ISO-8601 time") from None
    return parsed.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _tags(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(t) for t in value]
    return [t.strip() for t in str(value or "").split(",") if t.strip()]


def _sum(amounts: list[str]) -> str:
    return money_text(sum((Decimal(a) for a in amounts), Decimal("0")))


def _int(value: Any, where: str) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {value!r} is not a whole number") from None


# --- GraphQL nodes -> canonical --------------------------------------------------------------------

def address_from_node(node: dict[str, Any] | None) -> dict[str, Any] | None:
    """A ``MailingAddress`` node (GraphQL) or REST address as a canonical Address dict."""
    if not node:
        return None
    return model.to_dict(model.Address(
        first_name=_text(node.get("firstName", node.get("first_name"))),
        last_name=_text(node.get("lastName", node.get("last_name"))),
        company=_text(node.get("company")), line1=_text(node.get("address1")), line2=_text(node.get("address2")),
        city=_text(node.get("city")),
        province=_text(node.get("provinceCode") or node.get("province_code") or node.get("province")),
        postal_code=_text(node.get("zip")),
        country=_text(node.get("countryCodeV2") or node.get("country_code") or node.get("countryCode")),
        phone=_text(node.get("phone"))))


def _taxes(lines: list[dict[str, Any]] | None, where: str) -> list[dict[str, Any]]:
    out = []
    for index, tax in enumerate(lines or []):
        amount = tax.get("priceSet") or tax.get("price_set") or tax.get("price")
        out.append({"title": _text(tax.get("title")), "rate": decimal_text(tax.get("rate"), f"{where}[{index}].rate"),
                    "amount": bag(amount, f"{where}[{index}].price")})
    return out


def line_from_node(node: dict[str, Any], where: str = "lineItem") -> dict[str, Any]:
    """A ``LineItem`` node as a canonical OrderLine dict (``discount`` = sum of its discount allocations)."""
    allocations = [bag(a.get("allocatedAmountSet"), f"{where}.discountAllocations")
                   for a in node.get("discountAllocations") or []]
    discount = _sum(allocations) if allocations else bag(node.get("totalDiscountSet"), f"{where}.totalDiscountSet")
    return {"id": _text(node.get("id")), "sku": _text(node.get("sku")), "title": _text(node.get("name") or
                                                                                          node.get("title")),
            "quantity": _int(node.get("quantity"), f"{where}.quantity"),
            "unit_price": bag(node.get("originalUnitPriceSet"), f"{where}.originalUnitPriceSet"),
            "discount": discount, "taxes": _taxes(node.get("taxLines"), f"{where}.taxLines"),
            "gift_card": bool(node.get("isGiftCard")), "requires_shipping": bool(node.get("requiresShipping", True))}


def order_status(cancelled_at: Any, closed: bool) -> str:
    """The canonical life-cycle state: cancelled, closed or open."""
    if cancelled_at:
        return "cancelled"
    return "closed" if closed else "open"


def order_from_node(node: dict[str, Any]) -> dict[str, Any]:
    """An ``Order`` node (GraphQL) as a canonical Order dict."""
    customer = node.get("customer")
    data = {
        "id": _text(node.get("id")), "number": _text(node.get("name")), "email": _text(node.get("email")),
        "currency": _text(node.get("currencyCode")) or "USD",
        "customer": customer_ref(customer_from_node(customer)) if customer else None,
        "lines": [line_from_node(n, f"order.lineItems[{i}]")
                  for i, n in enumerate((node.get("lineItems") or {}).get("nodes") or [])],
        "shipping_lines": [
            {"title": _text(s.get("title")), "code": _text(s.get("code")),
             "price": bag(s.get("originalPriceSet"), "order.shippingLines.originalPriceSet"),
             "taxes": _taxes(s.get("taxLines"), "order.shippingLines.taxLines")}
            for s in (node.get("shippingLines") or {}).get("nodes") or []],
        "shipping_address": address_from_node(node.get("shippingAddress")),
        "billing_address": address_from_node(node.get("billingAddress")),
        "subtotal": None,
        "discount_total": bag(node.get("totalDiscountsSet"), "order.totalDiscountsSet"),
        "shipping_total": bag(node.get("totalShippingPriceSet"), "order.totalShippingPriceSet"),
        "tax_total": bag(node.get("totalTaxSet"), "order.totalTaxSet"),
        "total": bag(node.get("totalPriceSet"), "order.totalPriceSet"),
        "discount_codes": [str(c) for c in node.get("discountCodes") or []],
        "financial_status": _text(node.get("displayFinancialStatus")).lower() or "pending",
        "fulfillment_status": _fulfilment_status(node.get("displayFulfillmentStatus")),
        "status": order_status(node.get("cancelledAt"), bool(node.get("closed"))),
        "note": _text(node.get("note")), "tags": _tags(node.get("tags")),
        "cancelled_at": time_text(node.get("cancelledAt"), "order.cancelledAt"),
        "cancel_reason": _text(node.get("cancelReason")).lower(),
        "created_at": time_text(node.get("createdAt"), "order.createdAt"),
        "updated_at": time_text(node.get("updatedAt"), "order.updatedAt"),
    }
    data["subtotal"] = line_subtotal(data["lines"])
    return _canonical(model.Order, data)


def line_subtotal(lines: list[dict[str, Any]]) -> str:
    """The canonical subtotal: line prices times quantities, before discounts (Shopify's ``subtotalPriceSet``
    is after discounts, so it is not used)."""
    return money_text(sum((Decimal(ln["unit_price"]) * ln["quantity"] for ln in lines), Decimal("0")))


def _fulfilment_status(value: Any) -> str:
    if not value:
        return "unfulfilled"
    text = str(value)
    return FULFILMENT_STATUS.get(text.upper(), text.lower())


def customer_ref(customer: dict[str, Any]) -> dict[str, Any]:
    """An order's customer as a reference: id, e-mail, names and phone (the Customer entity is synced on its own,
    and GraphQL and webhooks then give the same order fingerprint)."""
    keep = ("id", "email", "first_name", "last_name", "phone")
    return _canonical(model.Customer, {k: customer.get(k, "") for k in keep})


def customer_from_node(node: dict[str, Any]) -> dict[str, Any]:
    """A ``Customer`` node (GraphQL) as a canonical Customer dict."""
    default = node.get("defaultAddress")
    addresses = [a for a in (node.get("addresses") or []) if a]
    if default and not addresses:
        addresses = [default]
    consent = (node.get("emailMarketingConsent") or {}).get("marketingState")
    email = (node.get("defaultEmailAddress") or {}).get("emailAddress") or node.get("email")
    phone = (node.get("defaultPhoneNumber") or {}).get("phoneNumber") or node.get("phone")
    data = {"id": _text(node.get("id")), "email": _text(email),
            "first_name": _text(node.get("firstName")), "last_name": _text(node.get("lastName")),
            "phone": _text(phone), "company": _text((default or {}).get("company")),
            "accepts_marketing": consent == "SUBSCRIBED",
            "addresses": [address_from_node(a) for a in addresses], "tags": _tags(node.get("tags")),
            "created_at": time_text(node.get("createdAt"), "customer.createdAt"),
            "updated_at": time_text(node.get("updatedAt"), "customer.updatedAt")}
    return _canonical(model.Customer, data)


def variant_from_node(node: dict[str, Any]) -> dict[str, Any]:
    """A ``ProductVariant`` node as a canonical Variant dict (plus ``product_id`` and ``updated_at``)."""
    data = model.to_dict(model.Variant(
        id=_text(node.get("id")), sku=_text(node.get("sku")), title=_text(node.get("title")),
        price=Decimal(decimal_text(node.get("price"), "variant.price")), barcode=_text(node.get("barcode")),
        inventory_item_id=_text((node.get("inventoryItem") or {}).get("id"))))
    data["product_id"] = _text((node.get("product") or {}).get("id"))
    data["updated_at"] = time_text(node.get("updatedAt"), "variant.updatedAt")
    return data


def product_from_node(node: dict[str, Any]) -> dict[str, Any]:
    """A ``Product`` node as a canonical Product dict with its variants."""
    data = {"id": _text(node.get("id")), "title": _text(node.get("title")), "code": _text(node.get("handle")),
            "vendor": _text(node.get("vendor")), "product_type": _text(node.get("productType")),
            "status": _text(node.get("status")).lower() or "active",
            "variants": [variant_from_node(v) for v in (node.get("variants") or {}).get("nodes") or []],
            "updated_at": time_text(node.get("updatedAt"), "product.updatedAt")}
    for variant in data["variants"]:
        variant.pop("product_id", None)
        variant.pop("updated_at", None)
    return _canonical(model.Product, data)


def level_from_node(node: dict[str, Any], sku: str = "") -> dict[str, Any]:
    """An ``InventoryLevel`` node as a canonical StockLevel dict; ``location`` is the location's name."""
    quantities = {q.get("name"): _int(q.get("quantity"), "inventoryLevel.quantities")
                  for q in node.get("quantities") or []}
    location = node.get("location") or {}
    data = model.to_dict(model.StockLevel(
        sku=sku or _text((node.get("item") or {}).get("sku")), location=_text(location.get("name")),
        available=quantities.get("available", 0), on_hand=quantities.get("on_hand", 0),
        reserved=quantities.get("committed", 0),
        updated_at=model.parse_time(node["updatedAt"]) if node.get("updatedAt") else None))
    data["id"] = _text(node.get("id"))
    data["location_id"] = _text(location.get("id"))
    data["inventory_item_id"] = _text((node.get("item") or {}).get("id"))
    return data


def fulfilment_from_node(node: dict[str, Any]) -> dict[str, Any]:
    """A ``Fulfillment`` node as a canonical Fulfilment dict (first tracking entry as carrier/number/url;
    ``location`` is the location's gid, the one thing a webhook payload also carries)."""
    tracking = (node.get("trackingInfo") or [{}])[0] or {}
    order = node.get("order") or {}
    data = {"id": _text(node.get("id")), "order_id": _text(order.get("id")), "order_number": _text(order.get("name")),
            "status": _text(node.get("status")).lower() or "success",
            "lines": [{"sku": _text((n.get("lineItem") or {}).get("sku")),
                       "quantity": _int(n.get("quantity"), "fulfillment.fulfillmentLineItems.quantity")}
                      for n in (node.get("fulfillmentLineItems") or {}).get("nodes") or []],
            "carrier": _text(tracking.get("company")), "tracking_number": _text(tracking.get("number")),
            "tracking_url": _text(tracking.get("url")), "location": _text((node.get("location") or {}).get("id")),
            "created_at": time_text(node.get("createdAt"), "fulfillment.createdAt"),
            "updated_at": time_text(node.get("updatedAt"), "fulfillment.updatedAt")}
    return _canonical(model.Fulfilment, data)


def refund_from_node(node: dict[str, Any], currency: str = "") -> dict[str, Any]:
    """A ``Refund`` node as a canonical Refund dict."""
    total = node.get("totalRefundedSet") or {}
    order = node.get("order") or {}
    lines = [{"sku": _text((n.get("lineItem") or {}).get("sku")),
              "quantity": _int(n.get("quantity"), "refund.refundLineItems.quantity"),
              "amount": bag(n.get("subtotalSet"), "refund.refundLineItems.subtotalSet"),
              "restock": _text(n.get("restockType")).upper() not in ("", "NO_RESTOCK")}
             for n in (node.get("refundLineItems") or {}).get("nodes") or []]
    data = {"id": _text(node.get("id")), "order_id": _text(order.get("id")), "order_number": _text(order.get("name")),
            "currency": currency or _text((total.get("shopMoney") or {}).get("currencyCode")) or "USD",
            "amount": bag(total, "refund.totalRefundedSet"), "lines": lines, "reason": _text(node.get("note")),
            "created_at": time_text(node.get("createdAt"), "refund.createdAt")}
    return _canonical(model.Refund, data)


def _canonical(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """Round-trip through the entity so every canonical dict has all its fields, in the model's types,
    with every amount written one way (see :func:`money_text`)."""
    return model.to_dict(_money_normal(model.from_dict(cls, data)))


def _money_normal(entity: Any) -> Any:
    for item in dataclasses.fields(entity):
        value = getattr(entity, item.name)
        if isinstance(value, Decimal):
            setattr(entity, item.name, Decimal(money_text(value)))
        elif isinstance(value, list):
            for element in value:
                if dataclasses.is_dataclass(element):
                    _money_normal(element)
        elif dataclasses.is_dataclass(value):
            _money_normal(value)
    return entity


# --- canonical -> GraphQL inputs -------------------------------------------------------------------

def address_input(address: dict[str, Any] | None) -> dict[str, Any] | None:
    """A canonical Address as ``MailingAddressInput``."""
    if not address:
        return None
    fields = {"firstName": address.get("first_name"), "lastName": address.get("last_name"),
              "company": address.get("company"), "address1": address.get("line1"), "address2": address.get("line2"),
              "city": address.get("city"), "provinceCode": address.get("province"), "zip": address.get("postal_code"),
              "countryCode": (address.get("country") or "").upper() or None, "phone": address.get("phone")}
    return {k: v for k, v in fields.items() if v}


def customer_input(data: dict[str, Any], external_id: str | None = None) -> dict[str, Any]:
    """A canonical Customer as ``CustomerInput`` (``id`` set for an update)."""
    fields: dict[str, Any] = {"id": external_id, "email": data.get("email"), "firstName": data.get("first_name"),
                              "lastName": data.get("last_name"), "phone": data.get("phone") or None,
                              "tags": data.get("tags") or None}
    addresses = [address_input(a) for a in data.get("addresses") or []]
    if addresses and not external_id:
        fields["addresses"] = [a for a in addresses if a]
    if data.get("accepts_marketing") and not external_id:
        fields["emailMarketingConsent"] = {"marketingState": "SUBSCRIBED", "marketingOptInLevel": "SINGLE_OPT_IN"}
    return {k: v for k, v in fields.items() if v is not None and v != ""}


def _money_bag(amount: Any, currency: str) -> dict[str, Any]:
    return {"shopMoney": {"amount": decimal_text(amount, "amount"), "currencyCode": currency}}


def _tax_inputs(taxes: list[dict[str, Any]] | None, currency: str) -> list[dict[str, Any]]:
    return [{"title": t.get("title") or "Tax", "rate": decimal_text(t.get("rate"), "tax.rate"),
             "priceSet": _money_bag(t.get("amount"), currency)} for t in taxes or []]


def order_input(data: dict[str, Any]) -> dict[str, Any]:
    """A canonical Order as ``OrderCreateOrderInput`` (for test data: custom lines by SKU, title and price)."""
    currency = data.get("currency") or "USD"
    customer = data.get("customer") or {}
    order: dict[str, Any] = {
        "currency": currency, "email": data.get("email") or customer.get("email") or None,
        "name": data.get("number") or None, "note": data.get("note") or None, "tags": data.get("tags") or None,
        "financialStatus": (data.get("financial_status") or "pending").upper(),
        "lineItems": [{"sku": line.get("sku") or None, "title": line.get("title") or line.get("sku") or "Item",
                       "quantity": int(line.get("quantity") or 1),
                       "priceSet": _money_bag(line.get("unit_price"), currency),
                       "giftCard": bool(line.get("gift_card")),
                       "requiresShipping": bool(line.get("requires_shipping", True)),
                       "taxLines": _tax_inputs(line.get("taxes"), currency) or None}
                      for line in data.get("lines") or []],
        "shippingLines": [{"title": s.get("title") or "Shipping", "code": s.get("code") or None,
                           "priceSet": _money_bag(s.get("price"), currency),
                           "taxLines": _tax_inputs(s.get("taxes"), currency) or None}
                          for s in data.get("shipping_lines") or []] or None,
        "shippingAddress": address_input(data.get("shipping_address")),
        "billingAddress": address_input(data.get("billing_address")),
    }
    discount = Decimal(decimal_text(data.get("discount_total"), "discount_total"))
    if discount > 0:
        codes = data.get("discount_codes") or ["DISCOUNT"]
        order["discountCode"] = {"itemFixedDiscountCode": {"code": codes[0],
                                                           "amountSet": _money_bag(discount, currency)}}
    if str(customer.get("id", "")).startswith(GID + "Customer/"):
        order["customer"] = {"toAssociate": {"id": customer["id"]}}
    elif customer.get("email"):
        order["customer"] = {"toUpsert": {k: v for k, v in {"email": customer.get("email"),
                                                             "firstName": customer.get("first_name"),
                                                             "lastName": customer.get("last_name")}.items() if v}}
    order["lineItems"] = [{k: v for k, v in line.items() if v is not None} for line in order["lineItems"]]
    return {k: v for k, v in order.items() if v is not None}


def cancel_reason(value: Any) -> str:
    """A canonical cancel reason as Shopify's ``OrderCancelReason`` (OTHER when unknown)."""
    text = str(value or "").lower()
    return text.upper() if text in CANCEL_REASONS else "OTHER"
