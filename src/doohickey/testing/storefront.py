"""Acting in the storefront twin as shoppers and merchants do: place, pay, cancel, refund, edit stock.

Each function takes the Shopify twin's state and plain inputs (SKUs, quantities, amounts as text)
and calls the twin's own order functions, so the twin emits the webhooks Shopify would and the
engine hears about the change exactly as it would in production. Orders are named by their
number (``#1001``), the key people and the other Systems use.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from doohickey.twins.shopify import orders


def _bag(amount: Any, currency: str = "USD") -> dict[str, Any]:
    return {"shopMoney": {"amount": str(amount), "currencyCode": currency}}


def order_input(lines: list[dict[str, Any]], *, email: str, financial_status: str = "paid",
                discount_percent: Any = None, discount_amount: Any = None, shipping: Any = None,
                tax_rate: Any = None, currency: str = "USD", note: str = "", first_name: str = "Test",
                last_name: str = "Shopper", number: str | None = None) -> dict[str, Any]:
    """``OrderCreateOrderInput`` for a shopper's order.

    ``lines``: ``{sku, quantity, price}`` (price as text); ``discount_percent``/``discount_amount``:
    one discount code spread over the lines; ``shipping``: the shipping fee; ``tax_rate`` (``0.0825``)
    taxes every line after its discount, and the shipping fee.
    """
    taxes = [{"title": "Sales tax", "rate": str(tax_rate)}] if tax_rate not in (None, "", 0) else []
    data: dict[str, Any] = {
        "email": email, "currency": currency, "financialStatus": financial_status.upper(), "note": note or None,
        "lineItems": [{"sku": ln["sku"], "quantity": int(ln.get("quantity", 1)),
                       "priceSet": _bag(ln["price"], currency) if ln.get("price") is not None else None,
                       "taxLines": list(taxes)} for ln in lines],
        "customer": {"toUpsert": {"email": email, "firstName": first_name, "lastName": last_name}},
        "shippingAddress": {"firstName": first_name, "lastName": last_name, "address1": "1 Main St",
                            "city": "Austin", "provinceCode": "TX", "countryCode": "US", "zip": "78701"},
    }
    if number:
        data["name"] = number if number.startswith("#") else f"#{number}"
    if shipping not in (None, "", 0):
        shipping_tax = [{"title": "Sales tax", "rate": str(tax_rate),
                         "priceSet": _bag(_round(Decimal(str(shipping)) * Decimal(str(tax_rate))), currency)}] \
            if taxes else []
        data["shippingLines"] = [{"title": "Standard", "code": "STD", "priceSet": _bag(shipping, currency),
                                  "taxLines": shipping_tax}]
    if discount_percent not in (None, "", 0):
        data["discountCode"] = {"itemPercentageDiscountCode": {"code": "SAVE", "percentage": float(discount_percent)}}
    elif discount_amount not in (None, "", 0):
        data["discountCode"] = {"itemFixedDiscountCode": {"code": "SAVE", "amountSet": _bag(discount_amount,
                                                                                            currency)}}
    return data


def _round(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")


def place_order(state: Any, lines: list[dict[str, Any]], **options: Any) -> dict[str, Any]:
    """A shopper places an order (see :func:`order_input`); returns the twin's order document."""
    return orders.create_order(state, order_input(lines, **options), decrement_stock=True)


def place_canonical(state: Any, order: Any) -> dict[str, Any]:
    """Place a generated canonical Order (from the data generator) as a shopper would."""
    from doohickey.twins.shopify.seed import order_input as canonical_input

    return orders.create_order(state, canonical_input(order), decrement_stock=True)


def by_number(state: Any, number: str) -> dict[str, Any]:
    """The twin's order document named ``number`` (``#1001``)."""
    found = state.find_one("Order", "name", number if number.startswith("#") else f"#{number}")
    if found is None:
        raise KeyError(f"the storefront has no order {number}")
    return found


def mark_paid(state: Any, number: str) -> dict[str, Any]:
    """The payment of an order is captured."""
    return orders.mark_paid(state, by_number(state, number)["id"])


def cancel(state: Any, number: str, *, refund: bool = False) -> dict[str, Any]:
    """The merchant cancels an order (restocking what was not shipped)."""
    return orders.cancel(state, by_number(state, number)["id"], reason="CUSTOMER", restock=True, refund=refund)


def refund(state: Any, number: str, lines: list[dict[str, Any]] | None = None, *,
           shipping: bool = False, note: str = "") -> dict[str, Any]:
    """The merchant refunds ``lines`` (``{sku, quantity}``; all that is left when None) and the shipping fee."""
    order = by_number(state, number)
    items = orders.line_items(order)
    wanted = lines if lines is not None else [{"sku": ln["sku"], "quantity": ln["refundableQuantity"]}
                                              for ln in items if ln["refundableQuantity"] > 0]
    refund_lines = []
    for want in wanted:
        line = next((ln for ln in items if ln["sku"] == want["sku"]), None)
        if line is None:
            raise KeyError(f"order {number} has no line with SKU {want['sku']}")
        refund_lines.append({"lineItemId": line["id"], "quantity": int(want.get("quantity", 1)),
                             "restockType": "NO_RESTOCK"})
    return orders.refund(state, {"orderId": order["id"], "refundLineItems": refund_lines,
                                 "shipping": {"fullRefund": True} if shipping else {}, "note": note or None})


def set_available(state: Any, sku: str, available: int, location: str | None = None) -> None:
    """Someone edits a SKU's available stock by hand in the storefront admin."""
    state.set_stock(sku, location, available=available)


def fulfilments(state: Any, number: str) -> list[dict[str, Any]]:
    """The fulfilments (parcels, with tracking) the storefront shows on an order."""
    order = by_number(state, number)
    out = []
    for ref in order.get("fulfillments") or []:
        doc = state.get(ref["__ref"] if isinstance(ref, dict) else ref)
        if doc:
            out.append(doc)
    return out
