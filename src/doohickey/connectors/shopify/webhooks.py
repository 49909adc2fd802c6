"""Shopify webhooks: signature verification and parsing of the REST-shaped payloads into canonical Records.

``verify(headers, body, secret)``: ``X-Shopify-Hmac-Sha256`` must be the base64
HMAC-SHA256 of the **raw** body under the app's client secret, compared with
``hmac.compare_digest`` (header names are case-insensitive).

``parse(headers, body)``: one :class:`~doohickey.connectors.spec.WebhookDelivery`
with the delivery id (``X-Shopify-Webhook-Id``, the dedupe key), the event id
(``X-Shopify-Event-Id``, shared by deliveries of one merchant action), the
triggered-at time and the Records the payload announces, in canonical form.
Integer ids are read exactly (Python's JSON keeps ids above 2^53) and turned into
gids. An ``inventory_levels/update`` payload names only the inventory item and
location ids, so its stock Record has no SKU, location name, on-hand or
committed quantity and carries ``"partial": true``: the flow re-reads the level
by its id (the Record's ``external_id``) before writing anywhere.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from typing import Any

from doohickey import model
from doohickey.connectors.shopify import maps
from doohickey.connectors.spec import Record, WebhookDelivery, WebhookSpec

SIGNATURE_HEADER = "X-Shopify-Hmac-Sha256"
SYSTEM = "shopify"


def sign(body: bytes, secret: str) -> str:
    """The ``X-Shopify-Hmac-Sha256`` value for ``body``: base64 of the raw HMAC-SHA256 digest."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in headers.items()}


def verify(headers: Mapping[str, str], body: bytes, secret: str) -> bool:
    """Whether the delivery was signed with ``secret`` (constant-time comparison of the decoded digests)."""
    given = _lower(headers).get(SIGNATURE_HEADER.lower(), "").strip()
    if not given or not secret:
        return False
    try:
        digest = base64.b64decode(given, validate=True)
    except (binascii.Error, ValueError):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return hmac.compare_digest(digest, expected)


def parse(headers: Mapping[str, str], body: bytes) -> WebhookDelivery:
    """The delivery's ids and canonical Records; ValueError naming the topic and the problem if malformed."""
    lowered = _lower(headers)
    topic = lowered.get("x-shopify-topic", "").strip()
    if not topic:
        raise ValueError("Shopify webhook without an X-Shopify-Topic header")
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"Shopify webhook {topic}: the body is not valid JSON ({exc})") from None
    if not isinstance(payload, dict):
        raise ValueError(f"Shopify webhook {topic}: the body is not a JSON object")
    reader = _reader(topic)
    try:
        records = reader(payload)
    except ValueError as exc:
        raise ValueError(f"Shopify webhook {topic}: {exc}") from None
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"Shopify webhook {topic}: unexpected payload shape ({type(exc).__name__}: {exc})") from None
    triggered = lowered.get("x-shopify-triggered-at")
    try:
        triggered_at = model.parse_time(triggered) if triggered else None
    except ValueError:
        raise ValueError(f"Shopify webhook {topic}: X-Shopify-Triggered-At {triggered!r} is not a time") from None
    return WebhookDelivery(topic=topic, delivery_id=lowered.get("x-shopify-webhook-id", ""),
                           event_id=lowered.get("x-shopify-event-id", ""), triggered_at=triggered_at, records=records)


def record(entity: str, data: dict[str, Any], external_id: str | None = None) -> Record:
    """A Shopify Record: ``version`` is ``updated_at`` (or ``created_at``) in fixed-width UTC text."""
    stamp = data.get("updated_at") or data.get("created_at")
    when = model.parse_time(stamp) if stamp else None
    version = when.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if when else ""
    return Record(system=SYSTEM, entity=entity, external_id=external_id or str(data.get("id", "")), data=data,
                  version=version, updated_at=when)


# --- REST payloads -> canonical ---------------------------------------------------------------------

def _money(payload: dict[str, Any], key: str) -> str:
    """``key_set``'s shop money when present, else the flat ``key`` amount."""
    if isinstance(payload.get(f"{key}_set"), dict):
        return maps.bag(payload[f"{key}_set"], f"{key}_set")
    return maps.decimal_text(payload.get(key), key)


def _taxes(lines: list[dict[str, Any]] | None, where: str) -> list[dict[str, Any]]:
    return [{"title": maps._text(t.get("title")), "rate": maps.decimal_text(t.get("rate"), f"{where}.rate"),
             "amount": _money(t, "price")} for t in lines or []]


def order_from_rest(p: dict[str, Any]) -> dict[str, Any]:
    """An ``orders/*`` payload as a canonical Order dict."""
    lines = []
    for i, item in enumerate(p.get("line_items") or []):
        where = f"line_items[{i}]"
        allocations = [_money(a, "amount") for a in item.get("discount_allocations") or []]
        lines.append({"id": maps.rest_id(item, "LineItem"), "sku": maps._text(item.get("sku")),
                      "title": maps._text(item.get("name") or item.get("title")),
                      "quantity": maps._int(item.get("quantity"), f"{where}.quantity"),
                      "unit_price": _money(item, "price"),
                      "discount": maps._sum(allocations) if allocations else _money(item, "total_discount"),
                      "taxes": _taxes(item.get("tax_lines"), f"{where}.tax_lines"),
                      "gift_card": bool(item.get("gift_card")),
                      "requires_shipping": bool(item.get("requires_shipping", True))})
    shipping = [{"title": maps._text(s.get("title")), "code": maps._text(s.get("code")), "price": _money(s, "price"),
                 "taxes": _taxes(s.get("tax_lines"), "shipping_lines.tax_lines")}
                for s in p.get("shipping_lines") or []]
    total_shipping = p.get("total_shipping_price_set")
    data = {
        "id": maps.rest_id(p, "Order"), "number": maps._text(p.get("name")),
        "email": maps._text(p.get("email") or p.get("contact_email")), "currency": maps._text(p.get("currency")),
        "customer": maps.customer_ref(customer_from_rest(p["customer"])) if p.get("customer") else None,
        "lines": lines, "shipping_lines": shipping,
        "shipping_address": maps.address_from_node(p.get("shipping_address")),
        "billing_address": maps.address_from_node(p.get("billing_address")),
        "subtotal": _money(p, "total_line_items_price") if p.get("total_line_items_price") is not None
        or p.get("total_line_items_price_set") else maps.line_subtotal(lines),
        "discount_total": _money(p, "total_discounts"),
        "shipping_total": maps.bag(total_shipping, "total_shipping_price_set") if total_shipping
        else maps._sum([s["price"] for s in shipping]),
        "tax_total": _money(p, "total_tax"), "total": _money(p, "total_price"),
        "discount_codes": [maps._text(c.get("code") if isinstance(c, dict) else c) for c in p.get("discount_codes")
                           or []],
        "financial_status": maps._text(p.get("financial_status")).lower() or "pending",
        "fulfillment_status": maps._text(p.get("fulfillment_status")).lower() or "unfulfilled",
        "status": maps.order_status(p.get("cancelled_at"), bool(p.get("closed_at"))),
        "note": maps._text(p.get("note")), "tags": maps._tags(p.get("tags")),
        "cancelled_at": maps.time_text(p.get("cancelled_at"), "cancelled_at"),
        "cancel_reason": maps._text(p.get("cancel_reason")).lower(),
        "created_at": maps.time_text(p.get("created_at"), "created_at"),
        "updated_at": maps.time_text(p.get("updated_at"), "updated_at"),
    }
    return maps._canonical(model.Order, data)


def customer_from_rest(p: dict[str, Any]) -> dict[str, Any]:
    """A ``customers/*`` payload (or an order's ``customer``) as a canonical Customer dict."""
    default = p.get("default_address") or {}
    addresses = [a for a in p.get("addresses") or [] if a] or ([default] if default else [])
    consent = (p.get("email_marketing_consent") or {}).get("state")
    data = {"id": maps.rest_id(p, "Customer"), "email": maps._text(p.get("email")),
            "first_name": maps._text(p.get("first_name")), "last_name": maps._text(p.get("last_name")),
            "phone": maps._text(p.get("phone")), "company": maps._text(default.get("company")),
            "accepts_marketing": consent == "subscribed" or bool(p.get("accepts_marketing")),
            "addresses": [maps.address_from_node(a) for a in addresses], "tags": maps._tags(p.get("tags")),
            "created_at": maps.time_text(p.get("created_at"), "customer.created_at"),
            "updated_at": maps.time_text(p.get("updated_at"), "customer.updated_at")}
    return maps._canonical(model.Customer, data)


def product_from_rest(p: dict[str, Any]) -> dict[str, Any]:
    """A ``products/*`` payload as a canonical Product dict with its variants."""
    variants = [{"id": maps.rest_id(v, "ProductVariant"), "sku": maps._text(v.get("sku")),
                 "title": maps._text(v.get("title")), "price": maps.decimal_text(v.get("price"), "variants.price"),
                 "barcode": maps._text(v.get("barcode")), "weight_grams": maps._int(v.get("grams"), "variants.grams"),
                 "inventory_item_id": maps.gid("InventoryItem", v.get("inventory_item_id"))}
                for v in p.get("variants") or []]
    data = {"id": maps.rest_id(p, "Product"), "title": maps._text(p.get("title")), "code": maps._text(p.get("handle")),
            "vendor": maps._text(p.get("vendor")), "product_type": maps._text(p.get("product_type")),
            "status": maps._text(p.get("status")).lower() or "active", "variants": variants,
            "updated_at": maps.time_text(p.get("updated_at"), "updated_at")}
    return maps._canonical(model.Product, data)


def level_from_rest(p: dict[str, Any]) -> dict[str, Any]:
    """An ``inventory_levels/update`` payload as a canonical StockLevel dict (no SKU: see the module docstring)."""
    item, location = p.get("inventory_item_id"), p.get("location_id")
    data = model.to_dict(model.StockLevel(available=maps._int(p.get("available"), "available"),
                                          updated_at=model.parse_time(maps.time_text(p.get("updated_at"), "updated_at"))
                                          if p.get("updated_at") else None))
    data["id"] = level_id(p)
    data["inventory_item_id"] = maps.gid("InventoryItem", item)
    data["location_id"] = maps.gid("Location", location)
    data["partial"] = True  # only ``available`` and the ids are known: re-read the level by id for the rest
    return data


def level_id(p: dict[str, Any]) -> str:
    """An inventory level's gid (``gid://shopify/InventoryLevel/<location>?inventory_item_id=<item>``)."""
    api_id = p.get("admin_graphql_api_id")
    if isinstance(api_id, str) and api_id.startswith(maps.GID):
        return api_id
    return f"{maps.GID}InventoryLevel/{p.get('location_id')}?inventory_item_id={p.get('inventory_item_id')}"


def fulfilment_from_rest(p: dict[str, Any]) -> dict[str, Any]:
    """A ``fulfillments/*`` payload as a canonical Fulfilment dict (order number from the name ``#1001.1``)."""
    name = maps._text(p.get("name"))
    data = {"id": maps.rest_id(p, "Fulfillment"), "order_id": maps.gid("Order", p.get("order_id")),
            "order_number": name.rsplit(".", 1)[0] if "." in name else "",
            "status": maps._text(p.get("status")).lower() or "success",
            "lines": [{"sku": maps._text(i.get("sku")), "quantity": maps._int(i.get("quantity"), "line_items.quantity")}
                      for i in p.get("line_items") or []],
            "carrier": maps._text(p.get("tracking_company")), "tracking_number": maps._text(p.get("tracking_number")),
            "tracking_url": maps._text(p.get("tracking_url")),
            "location": maps.gid("Location", p.get("location_id")),
            "created_at": maps.time_text(p.get("created_at"), "created_at"),
            "updated_at": maps.time_text(p.get("updated_at"), "updated_at")}
    return maps._canonical(model.Fulfilment, data)


def refund_from_rest(p: dict[str, Any]) -> dict[str, Any]:
    """A ``refunds/create`` payload as a canonical Refund dict; the amount is what successful refund transactions
    returned (or, without transactions, the refunded lines and shipping)."""
    lines, currency = [], ""
    for i, item in enumerate(p.get("refund_line_items") or []):
        subtotal = item.get("subtotal_set")
        currency = currency or maps._text(((subtotal or {}).get("shop_money") or {}).get("currency_code"))
        lines.append({"sku": maps._text((item.get("line_item") or {}).get("sku")),
                      "quantity": maps._int(item.get("quantity"), f"refund_line_items[{i}].quantity"),
                      "amount": _money(item, "subtotal"),
                      "restock": maps._text(item.get("restock_type")).lower() not in ("", "no_restock")})
    shipping = maps._sum([maps.bag(s.get("subtotal_amount_set") or s.get("amount"), "refund_shipping_lines")
                          for s in p.get("refund_shipping_lines") or []])
    paid_back = [t for t in p.get("transactions") or [] if maps._text(t.get("kind")).lower() == "refund"
                 and maps._text(t.get("status")).lower() in ("success", "")]
    for t in paid_back:
        currency = currency or maps._text(t.get("currency"))
    amounts = [maps.decimal_text(t.get("amount"), "transactions.amount") for t in paid_back]
    amount = maps._sum(amounts) if amounts else maps._sum([ln["amount"] for ln in lines] + [shipping])
    data = {"id": maps.rest_id(p, "Refund"), "order_id": maps.gid("Order", p.get("order_id")),
            "currency": currency or "USD", "amount": amount, "shipping_amount": shipping, "lines": lines,
            "reason": maps._text(p.get("note")), "created_at": maps.time_text(p.get("created_at"), "created_at")}
    return maps._canonical(model.Refund, data)


def _deleted(kind: str, entity: str) -> Callable[[dict[str, Any]], list[Record]]:
    def read(p: dict[str, Any]) -> list[Record]:
        external_id = maps.gid(kind, p.get("id"))
        return [Record(system=SYSTEM, entity=entity, external_id=external_id, data={"id": external_id,
                                                                                     "deleted": True})]
    return read


def _one(entity: str, convert: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[dict[str, Any]], list[Record]]:
    return lambda p: [record(entity, convert(p))]


def _product(p: dict[str, Any]) -> list[Record]:
    product = product_from_rest(p)
    variants = [record("variant", {**v, "product_id": product["id"], "updated_at": product["updated_at"]})
                for v in product["variants"]]
    return [record("product", product), *variants]


READERS: dict[str, Callable[[dict[str, Any]], list[Record]]] = {
    "orders/delete": _deleted("Order", "order"),
    "customers/delete": _deleted("Customer", "customer"),
    "products/delete": _deleted("Product", "product"),
    "refunds/create": _one("refund", refund_from_rest),
    "inventory_levels/update": _one("stock", level_from_rest),
    "inventory_levels/connect": _one("stock", level_from_rest),
    "products/create": _product,
    "products/update": _product,
}
PREFIXES: dict[str, Callable[[dict[str, Any]], list[Record]]] = {
    "orders/": _one("order", order_from_rest),
    "customers/": _one("customer", customer_from_rest),
    "fulfillments/": _one("fulfilment", fulfilment_from_rest),
}
TOPICS = ("orders/create", "orders/updated", "orders/paid", "orders/cancelled", "orders/fulfilled",
          "orders/partially_fulfilled", "orders/edited", "orders/delete", "refunds/create", "fulfillments/create",
          "fulfillments/update", "inventory_levels/update", "inventory_levels/connect", "customers/create",
          "customers/update", "customers/delete", "products/create", "products/update", "products/delete")


def _reader(topic: str) -> Callable[[dict[str, Any]], list[Record]]:
    if topic in READERS:
        return READERS[topic]
    for prefix, reader in PREFIXES.items():
        if topic.startswith(prefix) and topic in TOPICS:
            return reader
    raise ValueError(f"Shopify webhook topic {topic!r} is not one the connector reads; known: {', '.join(TOPICS)}")


WEBHOOKS = WebhookSpec(verify=verify, parse=parse, signature_header=SIGNATURE_HEADER, secret_name="webhook_secret")
