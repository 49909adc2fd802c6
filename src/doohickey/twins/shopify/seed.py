"""Seeding the Shopify twin from canonical Entities (``doohickey.model``), one by one or in bulk.

The data generator and tests hand the twin Customers, Products with Variants,
StockLevels and Orders; these functions turn each into what a merchant or a
storefront would have done in Shopify (create the customer, the product, set
stock, place the order, then cancel or fulfil it when the entity says so).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from doohickey import model
from doohickey.twins.shopify import orders
from doohickey.twins.shopify.shapes import UserErrors, gql_amount
from doohickey.twins.shopify.state import ShopState


def _address(address: model.Address | None) -> dict[str, Any] | None:
    if address is None:
        return None
    return {"firstName": address.first_name, "lastName": address.last_name, "company": address.company,
            "address1": address.line1, "address2": address.line2, "city": address.city,
            "provinceCode": address.province, "zip": address.postal_code, "countryCode": address.country,
            "phone": address.phone}


def customer_input(customer: model.Customer) -> dict[str, Any]:
    """``CustomerInput`` for a canonical Customer."""
    return {"email": customer.email or None, "firstName": customer.first_name or None,
            "lastName": customer.last_name or None, "phone": customer.phone or None, "tags": list(customer.tags),
            "addresses": [_address(a) for a in customer.addresses],
            "emailMarketingConsent": {"marketingState": "SUBSCRIBED" if customer.accepts_marketing
                                      else "NOT_SUBSCRIBED"}}


def seed_customer(state: ShopState, customer: model.Customer) -> dict[str, Any]:
    """Create a customer; raises UserErrors as Shopify would (taken email, bad email)."""
    return state.create_customer(customer_input(customer))


def seed_product(state: ShopState, product: model.Product) -> dict[str, Any]:
    """Create a product with its variants."""
    variants = [{"sku": v.sku, "title": v.title or "Default Title", "price": str(v.price), "barcode": v.barcode,
                 "weight_grams": v.weight_grams} for v in product.variants]
    return state.add_product(product.title, variants, vendor=product.vendor, product_type=product.product_type,
                             status=product.status)


def seed_stock(state: ShopState, level: model.StockLevel) -> dict[str, int]:
    """Set the available stock of a SKU at a location (by name; the primary location when empty)."""
    return state.set_stock(level.sku, level.location or None, available=level.available)


def order_input(order: model.Order) -> dict[str, Any]:
    """``OrderCreateOrderInput`` (plus the twin's per-line discounts) for a canonical Order."""
    def bag(amount: Any) -> dict[str, Any]:
        return {"shopMoney": {"amount": gql_amount(amount), "currencyCode": order.currency}}

    def taxes(lines: list[model.TaxLine]) -> list[dict[str, Any]]:
        return [{"title": t.title, "rate": str(t.rate), "priceSet": bag(t.amount)} for t in lines]

    customer = order.customer
    data: dict[str, Any] = {
        "email": order.email or (customer.email if customer else None), "currency": order.currency,
        "lineItems": [{"sku": line.sku or None, "title": line.title or None, "quantity": line.quantity,
                       "priceSet": bag(line.unit_price), "taxLines": taxes(line.taxes), "giftCard": line.gift_card,
                       "requiresShipping": line.requires_shipping, "_discount": str(line.discount)}
                      for line in order.lines],
        "shippingLines": [{"title": s.title or "Shipping", "code": s.code or None, "priceSet": bag(s.price),
                           "taxLines": taxes(s.taxes)} for s in order.shipping_lines],
        "shippingAddress": _address(order.shipping_address), "billingAddress": _address(order.billing_address),
        "financialStatus": (order.financial_status or "pending").upper(), "note": order.note or None,
        "tags": list(order.tags), "name": f"#{order.number}" if order.number and not order.number.startswith("#")
        else (order.number or None),
    }
    if order.created_at:
        data["processedAt"] = order.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    if order.discount_codes:
        data["discountCode"] = {"itemFixedDiscountCode": {"code": order.discount_codes[0],
                                                          "amountSet": bag(Decimal(0))}}
    if customer and (customer.email or customer.phone):
        data["customer"] = {"toUpsert": {"email": customer.email or None, "firstName": customer.first_name or None,
                                         "lastName": customer.last_name or None}}
    return data


def seed_order(state: ShopState, order: model.Order, *, decrement_stock: bool = True) -> dict[str, Any]:
    """Place a canonical Order as a storefront would, then cancel or fulfil it when its state says so."""
    created = orders.create_order(state, order_input(order), decrement_stock=decrement_stock)
    if order.cancelled_at or order.status == "cancelled":
        return orders.cancel(state, created["id"], reason=(order.cancel_reason or "other").upper()
                             if (order.cancel_reason or "other").upper() in
                             {"CUSTOMER", "DECLINED", "FRAUD", "INVENTORY", "OTHER", "STAFF"} else "OTHER",
                             restock=True)
    if order.fulfillment_status == "fulfilled" and created["fulfillmentOrders"]:
        fo_gids = [ref["__ref"] for ref in created["fulfillmentOrders"]]
        open_fos = [g for g in fo_gids if (state.get(g) or {}).get("status") == "OPEN"]
        if open_fos:
            orders.fulfil(state, {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": g} for g in open_fos]})
    return state.get(created["id"]) or created


def seed_bulk(state: ShopState, data: dict[str, list[Any]]) -> dict[str, Any]:
    """Seed ``{"customers", "products", "stock", "orders"}`` (entities or their dicts); returns ids and refusals."""
    created: dict[str, list[str]] = {"customers": [], "products": [], "stock": [], "orders": []}
    refused: list[dict[str, Any]] = []
    steps = (("customers", model.Customer, seed_customer), ("products", model.Product, seed_product),
             ("stock", model.StockLevel, seed_stock), ("orders", model.Order, seed_order))
    for key, cls, fn in steps:
        for index, item in enumerate(data.get(key) or []):
            entity = item if isinstance(item, cls) else model.from_dict(cls, item)
            try:
                result = fn(state, entity)
            except UserErrors as exc:
                refused.append({"entity": key, "index": index, "errors": exc.errors})
                continue
            except KeyError as exc:
                refused.append({"entity": key, "index": index, "errors": [{"message": str(exc.args[0])}]})
                continue
            created[key].append(result.get("id") if isinstance(result, dict) and "id" in result
                                else f"{entity.sku}@{entity.location or 'primary'}")
    return {"created": created, "refused": refused}
