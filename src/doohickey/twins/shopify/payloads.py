"""Webhook payloads of the Shopify twin, in Shopify's REST shapes.

Each builder turns the twin's stored (GraphQL-shaped) documents into the body
Shopify sends for a topic, with the same keys, key order, nesting and value
types as the published samples in ``contracts/shopify/webhooks/``: numeric
ids, ``admin_graphql_api_id`` GIDs, money as strings (``"10.00"``) beside
``*_set`` objects, lower-case enum values, comma-joined tags. Fields the twin
does not model carry the sample's neutral value (``null``, ``[]``, ``false``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from doohickey.twins.shopify.shapes import (
    ZERO,
    bag_amount,
    gid,
    parse_gid,
    rest_amount,
    rest_money_set,
    rest_time,
)
from doohickey.twins.shopify.state import ShopState

FULFILMENT_STATUS = {"FULFILLED": "fulfilled", "PARTIALLY_FULFILLED": "partial", "UNFULFILLED": None}


def build(state: ShopState, topic: str, node: dict[str, Any]) -> dict[str, Any]:
    """The payload for ``topic`` about ``node`` (an order, fulfilment, refund, customer, product or level)."""
    resource = topic.split("/", 1)[0]
    if resource == "orders":
        return order_payload(state, node)
    if resource == "fulfillments":
        return fulfilment_payload(state, node, state.get(node["order"]["__ref"]) or {})
    if resource == "refunds":
        return refund_payload(state, node, node.get("_order") or state.get(node["order"]["__ref"]) or {})
    if resource == "customers":
        return customer_payload(node, currency=state.currency)
    if resource == "products":
        return product_payload(state, node)
    if resource == "inventory_levels":
        return level_payload(node)
    raise ValueError(f"the twin does not send {topic!r} webhooks")


def _num(node_gid: str | None) -> int | None:
    return parse_gid(node_gid) if node_gid else None


def _ref_num(ref: dict[str, Any] | None) -> int | None:
    return _num(ref["__ref"]) if ref else None


def _amount(bag: dict[str, Any] | None, currency: str) -> str:
    return rest_amount(bag_amount(bag), currency)


def _set(bag: dict[str, Any] | None, currency: str) -> dict[str, Any]:
    return rest_money_set(bag_amount(bag), currency)


def address_payload(address: dict[str, Any] | None) -> dict[str, Any] | None:
    """An order's billing or shipping address."""
    if not address:
        return None
    return {
        "first_name": address.get("firstName"), "address1": address.get("address1"), "phone": address.get("phone"),
        "city": address.get("city"), "zip": address.get("zip"), "province": address.get("province"),
        "country": address.get("country"), "last_name": address.get("lastName"), "address2": address.get("address2"),
        "company": address.get("company"), "latitude": address.get("latitude"),
        "longitude": address.get("longitude"), "name": address.get("name"),
        "country_code": address.get("countryCodeV2"), "province_code": address.get("provinceCode"),
    }


def _customer_address(address: dict[str, Any] | None, customer_num: int | None) -> dict[str, Any] | None:
    if not address:
        return None
    return {
        "id": _num(address.get("id")), "customer_id": customer_num, "first_name": address.get("firstName"),
        "last_name": address.get("lastName"), "company": address.get("company"), "address1": address.get("address1"),
        "address2": address.get("address2"), "city": address.get("city"), "province": address.get("province"),
        "country": address.get("country"), "zip": address.get("zip"), "phone": address.get("phone"),
        "name": address.get("name"), "province_code": address.get("provinceCode"),
        "country_code": address.get("countryCodeV2"), "country_name": address.get("country"), "default": True,
    }


def customer_payload(customer: dict[str, Any], *, embedded: bool = False, currency: str = "USD") -> dict[str, Any]:
    """customers/create and customers/update (``embedded``: the shorter form inside an order)."""
    num = _num(customer["id"])
    body: dict[str, Any] = {
        "id": num, "created_at": rest_time(customer.get("createdAt")),
        "updated_at": rest_time(customer.get("updatedAt")),
        "first_name": customer.get("firstName"), "last_name": customer.get("lastName"),
        "state": (customer.get("state") or "DISABLED").lower(), "note": customer.get("note"),
        "verified_email": bool(customer.get("verifiedEmail", True)),
        "multipass_identifier": customer.get("multipassIdentifier"), "tax_exempt": bool(customer.get("taxExempt")),
        "email": customer.get("email"), "phone": customer.get("phone"), "currency": currency,
    }
    if not embedded:
        body["addresses"] = [_customer_address(a, num) for a in customer.get("addresses") or []]
    body["tax_exemptions"] = []
    body["admin_graphql_api_id"] = customer["id"]
    body["default_address"] = _customer_address(customer.get("defaultAddress"), num)
    return body


def _tax_lines(lines: list[dict[str, Any]], currency: str) -> list[dict[str, Any]]:
    return [{"channel_liable": bool(t.get("channelLiable")), "price": _amount(t["priceSet"], currency),
             "price_set": _set(t["priceSet"], currency), "rate": t.get("rate") or 0.0, "title": t["title"]}
            for t in lines]


def _allocations(allocs: list[dict[str, Any]], currency: str) -> list[dict[str, Any]]:
    return [{"amount": _amount(a["allocatedAmountSet"], currency), "discount_application_index": 0,
             "amount_set": _set(a["allocatedAmountSet"], currency)} for a in allocs]


def line_payload(state: ShopState, line: dict[str, Any], currency: str, *, in_order: bool = True,
                 quantity: int | None = None) -> dict[str, Any]:
    """A line item as orders/* (``in_order``) or fulfillments/create and refunds/create show it."""
    variant = state.get(line["variant"]["__ref"]) if line.get("variant") else None
    body: dict[str, Any] = {"id": _num(line["id"]), "admin_graphql_api_id": line["id"]}
    if in_order:
        body["attributed_staffs"] = []
        body["current_quantity"] = line["currentQuantity"]
    unit = Decimal(line["_unit"])
    fulfilled = line["quantity"] - line["unfulfilledQuantity"]
    body.update({
        "fulfillable_quantity": line["unfulfilledQuantity"], "fulfillment_service": "manual",
        "fulfillment_status": "fulfilled" if line["unfulfilledQuantity"] == 0 else ("partial" if fulfilled else None),
        "gift_card": line["isGiftCard"], "grams": (variant or {}).get("weight") or 0, "name": line["name"],
        "price": rest_amount(unit, currency), "price_set": rest_money_set(unit, currency),
        "product_exists": line.get("product") is not None, "product_id": _ref_num(line.get("product")),
        "properties": [], "quantity": quantity if quantity is not None else line["quantity"],
        "requires_shipping": line["requiresShipping"],
    })
    if in_order:
        body["sales_line_item_group_id"] = None
    body.update({
        "sku": line["sku"], "taxable": line["taxable"], "title": line["title"],
        "total_discount": _amount(line["totalDiscountSet"], currency),
        "total_discount_set": _set(line["totalDiscountSet"], currency), "variant_id": _ref_num(line.get("variant")),
        "variant_inventory_management": "shopify" if variant else None, "variant_title": line.get("variantTitle"),
        "vendor": line.get("vendor"), "tax_lines": _tax_lines(line["taxLines"], currency), "duties": [],
        "discount_allocations": _allocations(line["discountAllocations"], currency),
    })
    if not in_order:
        # fulfillments/create and refunds/create list these keys in Shopify's order.
        order_keys = ["id", "variant_id", "title", "quantity", "sku", "variant_title", "vendor", "fulfillment_service",
                      "product_id", "requires_shipping", "taxable", "gift_card", "name",
                      "variant_inventory_management", "properties", "product_exists", "fulfillable_quantity",
                      "grams", "price", "total_discount", "fulfillment_status", "price_set", "total_discount_set",
                      "discount_allocations", "duties", "admin_graphql_api_id", "tax_lines"]
        body = {key: body[key] for key in order_keys}
    return body


def _shipping_payload(ship: dict[str, Any], currency: str) -> dict[str, Any]:
    return {
        "id": _num(ship["id"]), "carrier_identifier": ship.get("carrierIdentifier"), "code": ship.get("code"),
        "current_discounted_price_set": _set(ship["currentDiscountedPriceSet"], currency),
        "discounted_price": _amount(ship["discountedPriceSet"], currency),
        "discounted_price_set": _set(ship["discountedPriceSet"], currency), "is_removed": False,
        "phone": ship.get("phone"), "price": _amount(ship["originalPriceSet"], currency),
        "price_set": _set(ship["originalPriceSet"], currency), "requested_fulfillment_service_id": None,
        "source": ship.get("source") or "shopify", "title": ship["title"],
        "tax_lines": _tax_lines(ship["taxLines"], currency),
        "discount_allocations": _allocations(ship["discountAllocations"], currency),
    }


def order_payload(state: ShopState, order: dict[str, Any]) -> dict[str, Any]:
    """orders/create, orders/updated, orders/paid, orders/cancelled, orders/fulfilled."""
    cur = order["currencyCode"]
    num = _num(order["id"])
    customer = state.get(order["customer"]["__ref"]) if order.get("customer") else None
    discount_total = bag_amount(order["totalDiscountsSet"])
    codes = [{"code": code, "amount": rest_amount(discount_total, cur), "type": "fixed_amount"}
             for code in order.get("discountCodes") or []]
    fulfilments = [state.get(ref["__ref"]) for ref in order.get("fulfillments") or []]
    refunds = [state.get(ref["__ref"]) for ref in order.get("refunds") or []]
    token = f"{num:x}"
    return {
        "id": num, "admin_graphql_api_id": order["id"], "app_id": None, "browser_ip": None,
        "buyer_accepts_marketing": order["customerAcceptsMarketing"],
        "cancel_reason": order["cancelReason"].lower() if order.get("cancelReason") else None,
        "cancelled_at": rest_time(order.get("cancelledAt")), "cart_token": None, "checkout_token": None,
        "client_details": None, "closed_at": rest_time(order.get("closedAt")), "confirmation_number": None,
        "confirmed": True, "contact_email": order.get("email"), "created_at": rest_time(order["createdAt"]),
        "currency": cur, "current_shipping_price_set": _set(order["currentShippingPriceSet"], cur),
        "current_subtotal_price": _amount(order["currentSubtotalPriceSet"], cur),
        "current_subtotal_price_set": _set(order["currentSubtotalPriceSet"], cur),
        "current_total_additional_fees_set": None,
        "current_total_discounts": _amount(order["currentTotalDiscountsSet"], cur),
        "current_total_discounts_set": _set(order["currentTotalDiscountsSet"], cur),
        "current_total_duties_set": None, "current_total_price": _amount(order["currentTotalPriceSet"], cur),
        "current_total_price_set": _set(order["currentTotalPriceSet"], cur),
        "current_total_tax": _amount(order["currentTotalTaxSet"], cur),
        "current_total_tax_set": _set(order["currentTotalTaxSet"], cur), "customer_locale": "en",
        "device_id": None, "discount_codes": codes, "duties_included": False, "email": order.get("email") or "",
        "estimated_taxes": False, "financial_status": order["displayFinancialStatus"].lower(),
        "fulfillment_status": FULFILMENT_STATUS.get(order["displayFulfillmentStatus"]), "landing_site": None,
        "landing_site_ref": None, "location_id": None, "merchant_business_entity_id": "MTAwMDAwMDAwMQ",
        "merchant_of_record_app_id": None, "name": order["name"], "note": order.get("note"), "note_attributes": [],
        "number": order["number"] - 1000, "order_number": order["number"],
        "order_status_url": f"https://{state.shop_domain}/{num}/orders/{token}/authenticate?key={token}",
        "original_total_additional_fees_set": None, "original_total_duties_set": None,
        "payment_gateway_names": list(order.get("paymentGatewayNames") or []), "phone": order.get("phone"),
        "po_number": None, "presentment_currency": cur, "processed_at": rest_time(order["processedAt"]),
        "reference": None, "referring_site": None, "source_identifier": None,
        "source_name": order.get("sourceName") or "web", "source_url": None,
        "subtotal_price": _amount(order["subtotalPriceSet"], cur), "subtotal_price_set": _set(order["subtotalPriceSet"],
                                                                                               cur),
        "tags": ", ".join(order.get("tags") or []), "tax_exempt": False,
        "tax_lines": _tax_lines(order["taxLines"], cur), "taxes_included": order["taxesIncluded"],
        "test": order["test"], "token": token,
        "total_cash_rounding_payment_adjustment_set": rest_money_set(ZERO, cur),
        "total_cash_rounding_refund_adjustment_set": rest_money_set(ZERO, cur),
        "total_discounts": _amount(order["totalDiscountsSet"], cur),
        "total_discounts_set": _set(order["totalDiscountsSet"], cur),
        "total_line_items_price": _amount(order["_lineItemsTotal"], cur),
        "total_line_items_price_set": _set(order["_lineItemsTotal"], cur),
        "total_outstanding": _amount(order["totalOutstandingSet"], cur),
        "total_price": _amount(order["totalPriceSet"], cur), "total_price_set": _set(order["totalPriceSet"], cur),
        "total_shipping_price_set": _set(order["totalShippingPriceSet"], cur),
        "total_tax": _amount(order["totalTaxSet"], cur), "total_tax_set": _set(order["totalTaxSet"], cur),
        "total_tip_received": "0.00", "total_weight": sum(
            line["quantity"] * ((state.get(line["variant"]["__ref"]) or {}).get("weight") or 0)
            for line in order["_lines"] if line.get("variant")),
        "updated_at": rest_time(order["updatedAt"]), "user_id": None,
        "billing_address": address_payload(order.get("billingAddress")),
        "customer": customer_payload(customer, embedded=True, currency=state.currency) if customer else None,
        "discount_applications": [{"target_type": "line_item", "type": "discount_code", "value":
                                   rest_amount(discount_total, cur), "value_type": "fixed_amount",
                                   "allocation_method": "across", "target_selection": "all", "code": code}
                                  for code in order.get("discountCodes") or []],
        "fulfillments": [fulfilment_payload(state, f, order) for f in fulfilments if f],
        "line_items": [line_payload(state, line, cur) for line in order["_lines"]], "payment_terms": None,
        "refunds": [refund_payload(state, r, order) for r in refunds if r],
        "shipping_address": address_payload(order.get("shippingAddress")),
        "shipping_lines": [_shipping_payload(s, cur) for s in order.get("shippingLines") or []],
        "returns": [], "line_item_groups": [],
    }


def fulfilment_payload(state: ShopState, fulfilment: dict[str, Any], order: dict[str, Any]) -> dict[str, Any]:
    """fulfillments/create (and the entries of an order's ``fulfillments``)."""
    cur = order.get("currencyCode", state.currency)
    lines = {line["id"]: line for line in order.get("_lines", [])}
    tracking = fulfilment.get("trackingInfo") or []
    return {
        "id": _num(fulfilment["id"]), "order_id": _num(order.get("id")), "status": "success",
        "created_at": rest_time(fulfilment["createdAt"]), "service": "manual",
        "updated_at": rest_time(fulfilment["updatedAt"]),
        "tracking_company": tracking[0]["company"] if tracking else None, "shipment_status": None,
        "location_id": _ref_num(fulfilment.get("location")), "origin_address": None, "email": order.get("email"),
        "destination": address_payload(order.get("shippingAddress")),
        "line_items": [line_payload(state, lines[f["lineItem"]["__ref"]], cur, in_order=False, quantity=f["quantity"])
                       for f in fulfilment["fulfillmentLineItems"] if f["lineItem"]["__ref"] in lines],
        "tracking_number": tracking[0]["number"] if tracking else None,
        "tracking_numbers": [t["number"] for t in tracking if t.get("number")],
        "tracking_url": tracking[0]["url"] if tracking else None,
        "tracking_urls": [t["url"] for t in tracking if t.get("url")], "receipt": {}, "name": fulfilment["name"],
        "admin_graphql_api_id": fulfilment["id"],
    }


def refund_payload(state: ShopState, refund: dict[str, Any], order: dict[str, Any]) -> dict[str, Any]:
    """refunds/create (and the entries of an order's ``refunds``)."""
    cur = order.get("currencyCode", state.currency)
    lines = {line["id"]: line for line in order.get("_lines", [])}
    order_num = _num(order.get("id"))
    return {
        "id": _num(refund["id"]), "order_id": order_num, "created_at": rest_time(refund["createdAt"]),
        "note": refund.get("note"), "user_id": None, "processed_at": rest_time(refund["createdAt"]), "duties": [],
        "total_duties_set": rest_money_set(ZERO, cur), "return": None,
        "refund_shipping_lines": [], "restock": any(r["restocked"] for r in refund["refundLineItems"]),
        "admin_graphql_api_id": refund["id"], "order_adjustments": [],
        "refund_line_items": [{
            "id": _num(r["id"]), "quantity": r["quantity"], "line_item_id": _num(r["lineItem"]["__ref"]),
            "location_id": _ref_num(r.get("location")), "restock_type": r["restockType"].lower(),
            "subtotal": float(bag_amount(r["subtotalSet"])), "total_tax": float(bag_amount(r["totalTaxSet"])),
            "subtotal_set": _set(r["subtotalSet"], cur), "total_tax_set": _set(r["totalTaxSet"], cur),
            "line_item": line_payload(state, lines[r["lineItem"]["__ref"]], cur, in_order=False),
        } for r in refund["refundLineItems"] if r["lineItem"]["__ref"] in lines],
        "transactions": [_transaction_payload(t, order_num, cur, order.get("name", ""))
                         for t in refund["transactions"]],
    }


def _transaction_payload(t: dict[str, Any], order_num: int | None, currency: str, name: str) -> dict[str, Any]:
    return {
        "id": _num(t["id"]), "order_id": order_num, "kind": t["kind"].lower(), "gateway": t["gateway"],
        "status": t["status"].lower(), "message": None, "created_at": rest_time(t["createdAt"]), "test": t["test"],
        "authorization": None, "location_id": None, "user_id": None, "parent_id": None,
        "processed_at": rest_time(t.get("processedAt")), "device_id": None, "error_code": None, "source_name": "web",
        "receipt": {}, "amount": _amount(t["amountSet"], currency), "currency": currency,
        "payment_id": f"{name}.{_num(t['id'])}",
        "total_unsettled_set": {"presentment_money": {"amount": "0.0", "currency": currency},
                                "shop_money": {"amount": "0.0", "currency": currency}},
        "manual_payment_gateway": True, "amount_rounding": None, "admin_graphql_api_id": t["id"],
    }


def product_payload(state: ShopState, product: dict[str, Any]) -> dict[str, Any]:
    """products/update."""
    num = _num(product["id"])
    variants = [state.get(ref["__ref"]) for ref in product.get("variants") or []]
    body_variants = []
    for variant in variants:
        if not variant:
            continue
        item_num = _ref_num(variant.get("inventoryItem"))
        quantity = sum(level["available"] for level in state.levels(item_num=item_num)) if item_num else 0
        body_variants.append({
            "admin_graphql_api_id": variant["id"], "barcode": variant.get("barcode"),
            "compare_at_price": variant.get("compareAtPrice"), "created_at": rest_time(variant["createdAt"]),
            "id": _num(variant["id"]), "inventory_policy": (variant.get("inventoryPolicy") or "DENY").lower(),
            "position": variant.get("position", 1), "price": rest_amount(Decimal(variant["price"]), state.currency),
            "product_id": num, "sku": variant.get("sku"), "taxable": variant.get("taxable", True),
            "title": variant["title"], "updated_at": rest_time(variant["updatedAt"]), "option1": variant["title"],
            "option2": None, "option3": None, "image_id": None, "inventory_item_id": item_num,
            "inventory_quantity": quantity, "old_inventory_quantity": quantity,
        })
    return {
        "admin_graphql_api_id": product["id"], "body_html": product.get("descriptionHtml") or "",
        "created_at": rest_time(product["createdAt"]), "handle": product["handle"], "id": num,
        "product_type": product.get("productType") or "", "published_at": rest_time(product.get("publishedAt")),
        "template_suffix": None, "title": product["title"], "updated_at": rest_time(product["updatedAt"]),
        "vendor": product.get("vendor") or "", "status": product["status"].lower(), "published_scope": "web",
        "tags": ", ".join(product.get("tags") or []), "variants": body_variants, "options": [], "images": [],
        "image": None, "media": [],
        "variant_gids": [{"admin_graphql_api_id": v["id"], "updated_at": rest_time(v["updatedAt"])}
                         for v in variants if v],
        "has_variants_that_requires_components": False, "category": None,
    }


def level_payload(event: dict[str, Any]) -> dict[str, Any]:
    """inventory_levels/update (``event`` is what the state emitted: item, location, available, updatedAt)."""
    return {
        "inventory_item_id": event["item"], "location_id": event["location"], "available": event["available"],
        "updated_at": rest_time(event["updatedAt"]),
        "admin_graphql_api_id": f"{gid('InventoryLevel', event['location'])}?inventory_item_id={event['item']}",
    }
