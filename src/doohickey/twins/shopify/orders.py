"""Orders in the Shopify twin: creation with totals, fulfilment orders, fulfilments, cancellation, refunds.

Each function takes the :class:`~doohickey.twins.shopify.state.ShopState` and
input shaped like the Admin GraphQL mutation's input (``OrderCreateOrderInput``,
``FulfillmentInput``, ``RefundInput``), checks it as Shopify does (raising
:class:`~doohickey.twins.shopify.shapes.UserErrors`), updates the order, its
fulfilment orders and stock, and emits the webhook topics Shopify would.

Totals follow Shopify's definitions: ``subtotalPriceSet`` is line items after
line discounts, ``totalPriceSet`` adds shipping (after shipping discounts) and
tax (unless taxes are included in prices).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from doohickey.twins.shopify.shapes import (
    ZERO,
    UserErrors,
    bag_amount,
    gid,
    gql_amount,
    mailing_address,
    money_bag,
    parse_gid,
    parse_money,
    quantize,
    user_error,
)
from doohickey.twins.shopify.state import ShopState

FINANCIAL = {"AUTHORIZED", "EXPIRED", "PAID", "PARTIALLY_PAID", "PARTIALLY_REFUNDED", "PENDING", "REFUNDED", "VOIDED"}


def _money_input(value: dict[str, Any] | None, where: str) -> Decimal | None:
    """The shop amount of a ``MoneyBagInput`` (or a plain ``MoneyInput``)."""
    if not value:
        return None
    money = value.get("shopMoney", value)
    return parse_money(money.get("amount"), where)


def _ref(node_gid: str, within: str | None = None) -> dict[str, str]:
    return {"__ref": node_gid, "__in": within} if within else {"__ref": node_gid}


def create_order(state: ShopState, data: dict[str, Any], *, decrement_stock: bool = False,
                 obey_policy: bool = False) -> dict[str, Any]:
    """Create an order from ``OrderCreateOrderInput``-shaped ``data``.

    ``decrement_stock`` commits inventory at the primary location; with ``obey_policy`` a line whose
    variant does not sell when out of stock (``inventoryPolicy: DENY``) and lacks available units is
    refused (``INVENTORY_CLAIM_FAILED``), as a checkout or ``DECREMENT_OBEYING_POLICY`` would.
    """
    with state.transaction():
        lines_in = data.get("lineItems") or []
        if not lines_in:
            raise UserErrors([user_error(["order", "lineItems"], "Line items must have at least one line item",
                                         "INVALID")])
        currency = data.get("currency") or data.get("presentmentCurrency") or state.currency
        num = state.next_id("Order")
        order_gid = gid("Order", num)
        now = state.now()
        lines = [_line(state, order_gid, index, item, currency) for index, item in enumerate(lines_in)]
        _apply_discount_code(lines, data.get("discountCode"), currency)
        for line in lines:
            _tax_after_discount(line, currency)
        shipping = [_shipping_line(state, s, i, currency) for i, s in enumerate(data.get("shippingLines") or [])]
        free_shipping = ((data.get("discountCode") or {}).get("freeShippingDiscountCode") or {}).get("code")
        if free_shipping:
            for line in shipping:
                line["_discount"] = str(bag_amount(line["originalPriceSet"]))
        customer = _customer_for(state, data)
        number = state.next_id("OrderNumber")
        financial = (data.get("financialStatus") or "PENDING").upper()
        email = data.get("email") or (customer or {}).get("email")
        order = {
            "__typename": "Order", "id": order_gid, "legacyResourceId": str(num),
            "name": data.get("name") or f"#{number}", "number": number, "email": email,
            "phone": data.get("phone"), "createdAt": now, "updatedAt": now,
            "processedAt": data.get("processedAt") or now, "closed": False, "closedAt": None, "confirmed": True,
            "cancelledAt": None, "cancelReason": None, "test": bool(data.get("test", False)),
            "note": data.get("note"), "tags": list(data.get("tags") or []), "currencyCode": currency,
            "presentmentCurrencyCode": currency, "taxesIncluded": bool(data.get("taxesIncluded", False)),
            "taxExempt": False, "customerAcceptsMarketing": bool(data.get("buyerAcceptsMarketing", False)),
            "sourceName": data.get("sourceName") or "web", "customerLocale": "en",
            "displayFinancialStatus": financial, "displayFulfillmentStatus": "UNFULFILLED",
            "customer": _ref(customer["id"]) if customer else None,
            "shippingAddress": mailing_address(data.get("shippingAddress"), state.next_id("MailingAddress")),
            "billingAddress": mailing_address(data.get("billingAddress"), state.next_id("MailingAddress")),
            "lineItems": [_ref(line["id"], order_gid) for line in lines], "_lines": lines,
            "shippingLines": shipping, "shippingLine": shipping[0] if shipping else None,
            "_orderTaxLines": [_tax_line(t, ZERO, currency, f"order.taxLines.{i}")
                               for i, t in enumerate(data.get("taxLines") or [])],
            "discountCodes": _codes(data.get("discountCode")), "fulfillments": [], "refunds": [],
            "transactions": [], "fulfillmentOrders": [], "paymentGatewayNames": ["manual"],
        }
        order["discountCode"] = order["discountCodes"][0] if order["discountCodes"] else None
        _recompute(order)
        if financial in {"PAID", "PARTIALLY_PAID", "AUTHORIZED"}:
            kind = "AUTHORIZATION" if financial == "AUTHORIZED" else "SALE"
            order["transactions"].append(_transaction(state, order, kind, bag_amount(order["totalPriceSet"])))
            _recompute(order)
        location = state.location()
        _open_fulfillment_order(state, order, location)
        order["_committed"] = decrement_stock
        if decrement_stock and obey_policy:
            _claim(state, lines, location)
        if decrement_stock:
            _commit_stock(state, order, location, sign=+1)
        _save(state, order)
        state.emit("orders/create", order)
        if financial == "PAID":
            state.emit("orders/paid", order)
        return order


def _line(state: ShopState, order_gid: str, index: int, item: dict[str, Any], currency: str) -> dict[str, Any]:
    where = ["order", "lineItems", str(index)]
    quantity = item.get("quantity") or 0
    if quantity <= 0:
        raise UserErrors([user_error([*where, "quantity"], "Quantity must be greater than or equal to 1", "INVALID")])
    variant = None
    if item.get("variantId"):
        variant = state.get(item["variantId"], "ProductVariant")
        if variant is None:
            raise UserErrors([user_error([*where, "variantId"], "Variant does not exist", "INVALID")])
    elif item.get("sku"):
        variant = state.variant_by_sku(item["sku"])
    product = state.get(variant["product"]["__ref"]) if variant else None
    price = _money_input(item.get("priceSet"), ".".join([*where, "priceSet"]))
    if price is None:
        if variant is None:
            raise UserErrors([user_error([*where, "priceSet"], "Price must be set for a custom line item", "INVALID")])
        price = Decimal(variant["price"])
    title = item.get("title") or (product or {}).get("title") or (variant or {}).get("title") or "Custom item"
    variant_title = item.get("variantTitle") or (variant or {}).get("title")
    line = {
        "__typename": "LineItem", "id": gid("LineItem", state.next_id("LineItem")),
        "title": title, "name": title if not variant_title or variant_title == "Default Title"
        else f"{title} - {variant_title}", "variantTitle": variant_title,
        "sku": item.get("sku") or (variant or {}).get("sku"), "vendor": item.get("vendor") or (product or {}).get(
            "vendor"), "quantity": quantity, "currentQuantity": quantity, "unfulfilledQuantity": quantity,
        "refundableQuantity": quantity, "fulfillableQuantity": quantity, "nonFulfillableQuantity": 0,
        "isGiftCard": bool(item.get("giftCard", False)), "requiresShipping": item.get("requiresShipping", True),
        "taxable": item.get("taxable", True), "restockable": True, "merchantEditable": True,
        "variant": _ref(variant["id"]) if variant else None, "product": _ref(product["id"]) if product else None,
        "_unit": str(price), "_discount": str(item.get("_discount") or "0"), "_order": order_gid,
    }
    line["_taxes"] = [_tax_line(t, price * quantity, currency, ".".join([*where, "taxLines", str(i)]))
                      for i, t in enumerate(item.get("taxLines") or [])]
    return line


def _tax_after_discount(line: dict[str, Any], currency: str) -> None:
    """Compute the amounts of tax lines given only a rate, on the line total after its discount."""
    base = Decimal(line["_unit"]) * line["quantity"] - Decimal(line["_discount"])
    for tax in line["_taxes"]:
        if tax.pop("_auto", False):
            tax["priceSet"] = money_bag(quantize(base * Decimal(str(tax["rate"])), currency), currency)


def _tax_line(data: dict[str, Any], base: Decimal, currency: str, where: str) -> dict[str, Any]:
    rate = parse_money(data.get("rate", "0"), where + ".rate")
    amount = _money_input(data.get("priceSet"), where + ".priceSet")
    auto = amount is None
    if amount is None:
        amount = quantize(base * rate, currency)
    return {"_auto": auto, "title": data.get("title") or "Tax", "rate": float(rate),
            "ratePercentage": float(rate * 100),
            "priceSet": money_bag(amount, currency), "channelLiable": bool(data.get("channelLiable", False)),
            "source": "twin"}


def _shipping_line(state: ShopState, data: dict[str, Any], index: int, currency: str) -> dict[str, Any]:
    where = f"order.shippingLines.{index}"
    price = _money_input(data.get("priceSet"), where + ".priceSet") or ZERO
    return {"__typename": "ShippingLine", "id": gid("ShippingLine", state.next_id("ShippingLine")),
            "title": data.get("title") or "Shipping", "code": data.get("code"), "source": data.get("source"),
            "carrierIdentifier": None, "phone": None, "deliveryCategory": None, "custom": True, "isRemoved": False,
            "originalPriceSet": money_bag(price, currency), "_discount": "0",
            "_taxes": [_tax_line(t, price, currency, f"{where}.taxLines.{i}")
                       for i, t in enumerate(data.get("taxLines") or [])]}


def _codes(discount: dict[str, Any] | None) -> list[str]:
    return [v["code"] for v in (discount or {}).values() if isinstance(v, dict) and v.get("code")]


def _apply_discount_code(lines: list[dict[str, Any]], discount: dict[str, Any] | None, currency: str) -> None:
    """Allocate an item discount code over the lines in proportion to their totals (Shopify's ACROSS method)."""
    discount = discount or {}
    totals = [Decimal(line["_unit"]) * line["quantity"] for line in lines]
    whole = sum(totals, ZERO)
    if whole <= 0:
        return
    if fixed := discount.get("itemFixedDiscountCode"):
        amount = min(_money_input(fixed.get("amountSet"), "order.discountCode.itemFixedDiscountCode") or ZERO, whole)
        shares = [quantize(amount * t / whole, currency) for t in totals]
        shares[-1] += amount - sum(shares, ZERO)
    elif pct := discount.get("itemPercentageDiscountCode"):
        rate = parse_money(pct.get("percentage", 0), "order.discountCode.itemPercentageDiscountCode.percentage")
        shares = [quantize(t * rate / 100, currency) for t in totals]
    else:
        return
    for line, share in zip(lines, shares, strict=True):
        line["_discount"] = str(Decimal(line["_discount"]) + share)


def _customer_for(state: ShopState, data: dict[str, Any]) -> dict[str, Any] | None:
    spec = data.get("customer") or {}
    if assoc := spec.get("toAssociate"):
        found = (state.get(assoc.get("id") or "", "Customer")
                 or (assoc.get("email") and state.find_one("Customer", "email", assoc["email"])))
        if not found:
            raise UserErrors([user_error(["order", "customer", "toAssociate"], "Customer does not exist", "INVALID")])
        return found
    if upsert := spec.get("toUpsert"):
        existing = upsert.get("email") and state.find_one("Customer", "email", upsert["email"])
        if existing:
            return state.update_customer(existing["id"], upsert)
        return state.create_customer(upsert)
    return None


def _recompute(order: dict[str, Any]) -> None:
    """Derive every per-line and order-level money field from the stored line facts."""
    currency = order["currencyCode"]
    lines_total = line_discounts = tax = ZERO
    tax_groups: dict[tuple[str, float], Decimal] = {}
    for line in order["_lines"]:
        unit, qty, discount = Decimal(line["_unit"]), line["quantity"], Decimal(line["_discount"])
        original = unit * qty
        lines_total += original
        line_discounts += discount
        line["originalUnitPriceSet"] = money_bag(unit, currency)
        line["originalTotalSet"] = money_bag(original, currency)
        line["totalDiscountSet"] = money_bag(discount, currency)
        line["discountedTotalSet"] = money_bag(original - discount, currency)
        unit_after = quantize((original - discount) / qty, currency) if qty else unit
        line["discountedUnitPriceSet"] = money_bag(unit_after, currency)
        line["discountedUnitPriceAfterAllDiscountsSet"] = money_bag(unit_after, currency)
        line["unfulfilledOriginalTotalSet"] = money_bag(unit * line["unfulfilledQuantity"], currency)
        line["unfulfilledDiscountedTotalSet"] = money_bag(unit_after * line["unfulfilledQuantity"], currency)
        line["discountAllocations"] = [{"allocatedAmountSet": money_bag(discount, currency)}] if discount else []
        line["taxLines"] = line["_taxes"]
        for tax_line in line["_taxes"]:
            _group(tax_groups, tax_line)
    shipping_total = shipping_discounts = ZERO
    for ship in order["shippingLines"]:
        price, discount = bag_amount(ship["originalPriceSet"]), Decimal(ship["_discount"])
        shipping_total += price - discount
        shipping_discounts += discount
        ship["discountedPriceSet"] = money_bag(price - discount, currency)
        ship["currentDiscountedPriceSet"] = money_bag(price - discount, currency)
        ship["discountAllocations"] = [{"allocatedAmountSet": money_bag(discount, currency)}] if discount else []
        ship["taxLines"] = ship["_taxes"]
        for tax_line in ship["_taxes"]:
            _group(tax_groups, tax_line)
    for tax_line in order["_orderTaxLines"]:
        _group(tax_groups, tax_line)
    tax = sum(tax_groups.values(), ZERO)
    subtotal = lines_total - line_discounts
    total = subtotal + shipping_total + (ZERO if order["taxesIncluded"] else tax)
    refunded = sum((bag_amount(t["amountSet"]) for t in order["transactions"] if t["kind"] == "REFUND"), ZERO)
    received = sum((bag_amount(t["amountSet"]) for t in order["transactions"] if t["kind"] in {"SALE", "CAPTURE"}),
                   ZERO)
    order["taxLines"] = [{"title": title, "rate": rate, "ratePercentage": rate * 100,
                          "priceSet": money_bag(amount, currency), "channelLiable": False, "source": "twin"}
                         for (title, rate), amount in tax_groups.items()]
    order["currentTaxLines"] = order["taxLines"]
    bags = {
        "subtotalPriceSet": subtotal, "currentSubtotalPriceSet": subtotal, "totalDiscountsSet": line_discounts
        + shipping_discounts, "currentTotalDiscountsSet": line_discounts + shipping_discounts,
        "totalTaxSet": tax, "currentTotalTaxSet": tax, "totalShippingPriceSet": shipping_total,
        "currentShippingPriceSet": shipping_total, "totalPriceSet": total, "originalTotalPriceSet": total,
        "currentTotalPriceSet": total - refunded, "totalRefundedSet": refunded, "totalReceivedSet": received,
        "netPaymentSet": received - refunded, "totalOutstandingSet": max(total - received, ZERO)
        if order["displayFinancialStatus"] not in {"VOIDED", "REFUNDED"} else ZERO,
        "totalTipReceivedSet": ZERO, "totalCapturableSet": ZERO, "totalRefundedShippingSet": ZERO,
        "cartDiscountAmountSet": ZERO, "currentCartDiscountAmountSet": ZERO, "refundDiscrepancySet": ZERO,
        "_lineItemsTotal": lines_total,
    }
    for key, amount in bags.items():
        order[key] = money_bag(amount, currency)
    order["subtotalLineItemsQuantity"] = sum(line["quantity"] for line in order["_lines"])
    order["currentSubtotalLineItemsQuantity"] = sum(line["currentQuantity"] for line in order["_lines"])
    order["fullyPaid"] = order["displayFinancialStatus"] == "PAID"
    order["unpaid"] = order["displayFinancialStatus"] in {"PENDING", "AUTHORIZED", "EXPIRED"}
    order["refundable"] = received - refunded > 0
    order["requiresShipping"] = any(line["requiresShipping"] for line in order["_lines"])
    order["fulfillable"] = any(line["unfulfilledQuantity"] for line in order["_lines"]) and not order["cancelledAt"]


def _group(groups: dict[tuple[str, float], Decimal], tax_line: dict[str, Any]) -> None:
    key = (tax_line["title"], tax_line["rate"])
    groups[key] = groups.get(key, ZERO) + bag_amount(tax_line["priceSet"])


def _transaction(state: ShopState, order: dict[str, Any], kind: str, amount: Decimal) -> dict[str, Any]:
    num = state.next_id("OrderTransaction")
    return {"__typename": "OrderTransaction", "id": gid("OrderTransaction", num), "kind": kind, "status": "SUCCESS",
            "gateway": "manual", "formattedGateway": "Manual", "test": order["test"], "createdAt": state.now(),
            "processedAt": state.now(), "amountSet": money_bag(amount, order["currencyCode"]),
            "manuallyCapturable": False, "multiCapturable": False, "manualPaymentGateway": True,
            "order": {"__ref": order["id"]}, "parentTransaction": None, "errorCode": None}


def _open_fulfillment_order(state: ShopState, order: dict[str, Any], location: dict[str, Any]) -> None:
    num = state.next_id("FulfillmentOrder")
    fo_gid = gid("FulfillmentOrder", num)
    items = []
    # Shopify opens fulfilment orders for every line, shipped or not (digital goods are fulfilled too).
    for line in order["_lines"]:
        variant = state.get(line["variant"]["__ref"]) if line["variant"] else None
        items.append({"__typename": "FulfillmentOrderLineItem",
                      "id": gid("FulfillmentOrderLineItem", state.next_id("FulfillmentOrderLineItem")),
                      "lineItem": _ref(line["id"], order["id"]), "totalQuantity": line["quantity"],
                      "remainingQuantity": line["quantity"], "sku": line["sku"], "productTitle": line["title"],
                      "variantTitle": line["variantTitle"], "vendor": line["vendor"],
                      "requiresShipping": line["requiresShipping"], "variant": line["variant"],
                      "inventoryItemId": variant["inventoryItem"]["__ref"] if variant else None})
    address = location.get("address") or {}
    fulfillment_order = {
        "__typename": "FulfillmentOrder", "id": fo_gid, "status": "OPEN" if items else "CLOSED",
        "requestStatus": "UNSUBMITTED", "createdAt": order["createdAt"], "updatedAt": order["createdAt"],
        "orderId": order["id"], "orderName": order["name"], "orderProcessedAt": order["processedAt"],
        "order": {"__ref": order["id"]}, "lineItems": items, "fulfillAt": None, "fulfillBy": None,
        "channelId": None, "fulfillmentOrdersForMerge": [],
        "assignedLocation": {"name": location["name"], "location": {"__ref": location["id"]},
                             "address1": address.get("address1"), "address2": None, "city": address.get("city"),
                             "countryCode": address.get("countryCode") or "US", "province": None, "zip": None,
                             "phone": None},
    }
    state.put(fulfillment_order, parent=order["id"], status=fulfillment_order["status"])
    order["fulfillmentOrders"].append({"__ref": fo_gid})


def _claim(state: ShopState, lines: list[dict[str, Any]], location: dict[str, Any]) -> None:
    location_num = parse_gid(location["id"])
    wanted: dict[str, int] = {}
    for line in lines:
        if line["variant"]:
            wanted[line["variant"]["__ref"]] = wanted.get(line["variant"]["__ref"], 0) + line["quantity"]
    for index, line in enumerate(lines):
        variant = state.get(line["variant"]["__ref"]) if line["variant"] else None
        if not variant or variant.get("inventoryPolicy") != "DENY":
            continue
        item_num = parse_gid(variant["inventoryItem"]["__ref"])
        level = state.level(item_num, location_num) if item_num and location_num else None
        if (level or {"available": 0})["available"] < wanted[variant["id"]]:
            raise UserErrors([user_error(["order", "lineItems", str(index)],
                                         f"Unable to reserve inventory for {line['sku'] or line['title']}: "
                                         f"{(level or {'available': 0})['available']} available at {location['name']}",
                                         "INVENTORY_CLAIM_FAILED")])


def _commit_stock(state: ShopState, order: dict[str, Any], location: dict[str, Any], sign: int) -> None:
    """Reserve (sign +1) or release (-1) stock of the order's unfulfilled lines at ``location``."""
    location_num = parse_gid(location["id"])
    for line in order["_lines"]:
        if not line["variant"] or not line["unfulfilledQuantity"]:
            continue
        variant = state.get(line["variant"]["__ref"])
        item_num = parse_gid(variant["inventoryItem"]["__ref"]) if variant else None
        if item_num is not None and location_num is not None:
            state.change_level(item_num, location_num, committed=sign * line["unfulfilledQuantity"])


def _save(state: ShopState, order: dict[str, Any]) -> None:
    status = "cancelled" if order["cancelledAt"] else ("closed" if order["closed"] else "open")
    skus = " ".join(line["sku"] or "" for line in order["_lines"])
    state.put(order, email=order["email"], name=order["name"], status=status, sku=f" {skus} ",
              parent=(order["customer"] or {}).get("__ref"))


def _load(state: ShopState, order_gid: str, where: list[str]) -> dict[str, Any]:
    order = state.get(order_gid or "", "Order")
    if order is None:
        raise UserErrors([user_error(where, "Order does not exist", "NOT_FOUND")])
    return order


def _status_after_fulfilment(state: ShopState, order: dict[str, Any]) -> None:
    fulfilled = sum(line["quantity"] - line["unfulfilledQuantity"] for line in order["_lines"])
    remaining = sum(line["unfulfilledQuantity"] for line in order["_lines"])
    if remaining == 0 and fulfilled > 0:
        order["displayFulfillmentStatus"] = "FULFILLED"
    elif fulfilled > 0:
        order["displayFulfillmentStatus"] = "PARTIALLY_FULFILLED"


def fulfil(state: ShopState, data: dict[str, Any]) -> dict[str, Any]:
    """``fulfillmentCreate``: fulfil all or some lines of one order's fulfilment orders, with tracking."""
    with state.transaction():
        groups = data.get("lineItemsByFulfillmentOrder") or []
        if not groups:
            raise UserErrors([user_error(["fulfillment", "lineItemsByFulfillmentOrder"],
                                         "Line items by fulfillment order must contain at least one entry")])
        order = None
        picked: list[tuple[dict[str, Any], dict[str, Any], int]] = []
        for gi, group in enumerate(groups):
            where = ["fulfillment", "lineItemsByFulfillmentOrder", str(gi)]
            fo = state.get(group.get("fulfillmentOrderId") or "", "FulfillmentOrder")
            if fo is None:
                raise UserErrors([user_error([*where, "fulfillmentOrderId"], "Fulfillment order does not exist.")])
            if fo["status"] in {"CLOSED", "CANCELLED"}:
                raise UserErrors([user_error([*where, "fulfillmentOrderId"],
                                             f"Fulfillment order {fo['id']} has an unfulfillable status= "
                                             f"{fo['status'].lower()}.")])
            if order is not None and fo["orderId"] != order["id"]:
                raise UserErrors([user_error(where, "All fulfillment orders must belong to the same order.")])
            order = order or state.get(fo["orderId"], "Order")
            wanted = group.get("fulfillmentOrderLineItems")
            by_id = {item["id"]: item for item in fo["lineItems"]}
            requests = ([(w.get("id"), w.get("quantity")) for w in wanted] if wanted
                        else [(item["id"], item["remainingQuantity"]) for item in fo["lineItems"]
                              if item["remainingQuantity"]])
            for li, (item_id, qty) in enumerate(requests):
                item = by_id.get(item_id)
                iwhere = [*where, "fulfillmentOrderLineItems", str(li)]
                if item is None:
                    raise UserErrors([user_error([*iwhere, "id"], "Fulfillment order line item does not exist.")])
                if qty is None or qty <= 0 or qty > item["remainingQuantity"]:
                    raise UserErrors([user_error([*iwhere, "quantity"],
                                                 f"Invalid fulfillment order line item quantity requested: {qty} "
                                                 f"(remaining {item['remainingQuantity']}).")])
                picked.append((fo, item, qty))
        assert order is not None
        return _record_fulfilment(state, order, picked, data.get("trackingInfo") or {})


def _record_fulfilment(state: ShopState, order: dict[str, Any], picked: list[tuple[dict, dict, int]],
                       tracking: dict[str, Any]) -> dict[str, Any]:
    now = state.now()
    lines = {line["id"]: line for line in order["_lines"]}
    fulfilment_lines, fos = [], {}
    location_gid = picked[0][0]["assignedLocation"]["location"]["__ref"]
    location_num = parse_gid(location_gid)
    for fo, item, qty in picked:
        item["remainingQuantity"] -= qty
        fos[fo["id"]] = fo
        line = lines[item["lineItem"]["__ref"]]
        line["unfulfilledQuantity"] -= qty
        line["fulfillableQuantity"] = line["unfulfilledQuantity"]
        unit = Decimal(line["discountedUnitPriceSet"]["shopMoney"]["amount"])
        fulfilment_lines.append({
            "__typename": "FulfillmentLineItem",
            "id": gid("FulfillmentLineItem", state.next_id("FulfillmentLineItem")),
            "lineItem": _ref(line["id"], order["id"]), "quantity": qty,
            "originalTotalSet": money_bag(Decimal(line["_unit"]) * qty, order["currencyCode"]),
            "discountedTotalSet": money_bag(unit * qty, order["currencyCode"])})
        variant = state.get(line["variant"]["__ref"]) if line["variant"] else None
        item_num = parse_gid(variant["inventoryItem"]["__ref"]) if variant else None
        if item_num is not None and location_num is not None and state.level(item_num, location_num):
            level = state.level(item_num, location_num) or {}
            release = min(qty, level.get("committed", 0)) if order.get("_committed") else 0
            state.change_level(item_num, location_num, on_hand=-qty, committed=-release)
    for fo in fos.values():
        fo["status"] = "CLOSED" if all(i["remainingQuantity"] == 0 for i in fo["lineItems"]) else "IN_PROGRESS"
        fo["updatedAt"] = now
        state.put(fo, parent=order["id"], status=fo["status"])
    numbers = tracking.get("numbers") or ([tracking["number"]] if tracking.get("number") else [])
    urls = tracking.get("urls") or ([tracking["url"]] if tracking.get("url") else [])
    num = state.next_id("Fulfillment")
    fulfilment = {
        "__typename": "Fulfillment", "id": gid("Fulfillment", num), "legacyResourceId": str(num),
        "name": f"{order['name']}.{len(order['fulfillments']) + 1}", "status": "SUCCESS",
        "displayStatus": "FULFILLED", "createdAt": now, "updatedAt": now, "deliveredAt": None, "inTransitAt": None,
        "estimatedDeliveryAt": None, "requiresShipping": True, "order": {"__ref": order["id"]},
        "location": {"__ref": location_gid},
        "trackingInfo": [{"company": tracking.get("company"), "number": n,
                          "url": urls[i] if i < len(urls) else None} for i, n in enumerate(numbers)]
        or ([{"company": tracking["company"], "number": None, "url": None}] if tracking.get("company") else []),
        "fulfillmentLineItems": fulfilment_lines, "totalQuantity": sum(q for _, _, q in picked),
        "fulfillmentOrders": [{"__ref": g} for g in fos],
    }
    state.put(fulfilment, parent=order["id"])
    order["fulfillments"].append({"__ref": fulfilment["id"]})
    _status_after_fulfilment(state, order)
    order["updatedAt"] = now
    _recompute(order)
    _save(state, order)
    state.emit("fulfillments/create", fulfilment)
    state.emit("orders/updated", order)
    if order["displayFulfillmentStatus"] == "FULFILLED":
        state.emit("orders/fulfilled", order)
    return fulfilment


def cancel(state: ShopState, order_gid: str, *, reason: str, restock: bool, refund: bool = False,
           staff_note: str | None = None) -> dict[str, Any]:
    """``orderCancel``: cancel an order, optionally restocking its unfulfilled lines and refunding its payment."""
    with state.transaction():
        order = _load(state, order_gid, ["orderId"])
        if order["cancelledAt"]:
            raise UserErrors([user_error(["orderId"], "Order has already been cancelled.", "INVALID")])
        if order["displayFulfillmentStatus"] == "FULFILLED":
            raise UserErrors([user_error(["orderId"], "Cannot cancel a fulfilled order.", "INVALID")])
        now = state.now()
        if restock and order.get("_committed"):
            for fo_ref in order["fulfillmentOrders"]:
                fo = state.get(fo_ref["__ref"])
                if fo:
                    location = state.get(fo["assignedLocation"]["location"]["__ref"])
                    if location:
                        _commit_stock(state, order, location, sign=-1)
        for fo_ref in order["fulfillmentOrders"]:
            fo = state.get(fo_ref["__ref"])
            if fo and fo["status"] != "CLOSED":
                fo["status"] = "CANCELLED"
                fo["updatedAt"] = now
                state.put(fo, parent=order["id"], status="CANCELLED")
        order.update({"cancelledAt": now, "cancelReason": reason, "closed": True, "closedAt": now, "updatedAt": now,
                      "note": order["note"] if not staff_note else f"{order['note'] or ''}\n{staff_note}".strip()})
        paid = sum((bag_amount(t["amountSet"]) for t in order["transactions"] if t["kind"] in {"SALE", "CAPTURE"}),
                   ZERO)
        refunded_before = bag_amount(order.get("totalRefundedSet"))
        if refund and paid - refunded_before > 0:
            _add_refund(state, order, [], paid - refunded_before, ZERO, "Order cancelled", now)
        elif order["displayFinancialStatus"] in {"PENDING", "AUTHORIZED"}:
            order["displayFinancialStatus"] = "VOIDED"
        _recompute(order)
        _save(state, order)
        state.emit("orders/cancelled", order)
        state.emit("orders/updated", order)
        return order


def refund(state: ShopState, data: dict[str, Any]) -> dict[str, Any]:
    """``refundCreate``: refund lines (with restock) and shipping; money from ``transactions`` when given."""
    with state.transaction():
        order = _load(state, data.get("orderId") or "", ["orderId"])
        currency = order["currencyCode"]
        lines = {line["id"]: line for line in order["_lines"]}
        picked, amount = [], ZERO
        for index, spec in enumerate(data.get("refundLineItems") or []):
            where = ["refundLineItems", str(index)]
            line = lines.get(spec.get("lineItemId"))
            if line is None:
                raise UserErrors([user_error([*where, "lineItemId"], "Line item does not exist on this order.")])
            qty = spec.get("quantity") or 0
            if qty <= 0 or qty > line["refundableQuantity"]:
                raise UserErrors([user_error([*where, "quantity"],
                                             f"Quantity cannot refund more items than were purchased "
                                             f"(refundable {line['refundableQuantity']}, requested {qty}).")])
            unit = Decimal(line["discountedUnitPriceSet"]["shopMoney"]["amount"])
            tax = sum((bag_amount(t["priceSet"]) for t in line["taxLines"]), ZERO)
            line_tax = quantize(tax * qty / line["quantity"], currency)
            picked.append((line, qty, (spec.get("restockType") or "NO_RESTOCK").upper(), spec.get("locationId"),
                           unit * qty, line_tax))
            amount += unit * qty + (ZERO if order["taxesIncluded"] else line_tax)
        shipping = data.get("shipping") or {}
        shipping_amount = (bag_amount(order["totalShippingPriceSet"]) if shipping.get("fullRefund")
                           else parse_money(shipping.get("amount") or "0", "shipping.amount"))
        amount += shipping_amount
        transactions = data.get("transactions")
        if transactions:
            amount = sum((parse_money(t.get("amount"), f"transactions.{i}.amount") for i, t in enumerate(transactions)
                          if (t.get("kind") or "REFUND") == "REFUND"), ZERO)
        paid = bag_amount(order["totalReceivedSet"])
        already = bag_amount(order["totalRefundedSet"])
        if amount > paid - already and not data.get("allowOverRefunding"):
            raise UserErrors([user_error(["transactions"] if transactions else ["refundLineItems"],
                                         f"Refund amount {amount} is greater than the refundable amount "
                                         f"{paid - already} ({currency}).")])
        if not picked and amount <= 0:
            raise UserErrors([user_error(None, "Refund must refund at least one line item or an amount.")])
        result = _add_refund(state, order, picked, amount, shipping_amount, data.get("note"), state.now())
        _recompute(order)
        _save(state, order)
        state.emit("orders/updated", order)
        return result


def _add_refund(state: ShopState, order: dict[str, Any], picked: list[tuple], amount: Decimal,
                shipping_amount: Decimal, note: str | None, now: str) -> dict[str, Any]:
    currency = order["currencyCode"]
    refund_lines = []
    for line, qty, restock_type, location_gid, subtotal, tax in picked:
        line["refundableQuantity"] -= qty
        line["currentQuantity"] -= qty
        restocked = restock_type in {"RETURN", "CANCEL", "LEGACY_RESTOCK"}
        location = state.location(location_gid) if restocked else None
        if restocked and line["variant"] and location:
            variant = state.get(line["variant"]["__ref"])
            item_num = parse_gid(variant["inventoryItem"]["__ref"]) if variant else None
            location_num = parse_gid(location["id"])
            if item_num is not None and location_num is not None:
                if restock_type == "CANCEL":
                    take = min(qty, line["unfulfilledQuantity"])
                    line["unfulfilledQuantity"] -= take
                    level = state.level(item_num, location_num) or {"committed": 0}
                    if order.get("_committed"):
                        state.change_level(item_num, location_num, committed=-min(take, level["committed"]))
                    _shrink_fulfillment_orders(state, order, line["id"], take)
                else:
                    state.change_level(item_num, location_num, on_hand=qty)
        refund_lines.append({
            "__typename": "RefundLineItem", "id": gid("RefundLineItem", state.next_id("RefundLineItem")),
            "lineItem": _ref(line["id"], order["id"]), "quantity": qty, "restockType": restock_type,
            "restocked": restocked, "location": {"__ref": location["id"]} if location else None,
            "priceSet": money_bag(subtotal / qty, currency), "subtotalSet": money_bag(subtotal, currency),
            "totalTaxSet": money_bag(tax, currency)})
    transaction = _transaction(state, order, "REFUND", amount) if amount > 0 else None
    if transaction:
        order["transactions"].append(transaction)
    num = state.next_id("Refund")
    result = {"__typename": "Refund", "id": gid("Refund", num), "legacyResourceId": str(num), "note": note,
              "createdAt": now, "updatedAt": now, "order": {"__ref": order["id"]},
              "totalRefundedSet": money_bag(amount, currency), "refundLineItems": refund_lines,
              "transactions": [transaction] if transaction else [],
              "_shipping": str(shipping_amount)}
    state.put(result, parent=order["id"])
    order["refunds"].append({"__ref": result["id"]})
    order["updatedAt"] = now
    refunded = bag_amount(order.get("totalRefundedSet")) + amount
    paid = sum((bag_amount(t["amountSet"]) for t in order["transactions"] if t["kind"] in {"SALE", "CAPTURE"}), ZERO)
    if amount > 0:
        order["displayFinancialStatus"] = "REFUNDED" if refunded >= paid else "PARTIALLY_REFUNDED"
    _status_after_fulfilment(state, order)
    state.emit("refunds/create", {**result, "_order": order})
    return result


def _shrink_fulfillment_orders(state: ShopState, order: dict[str, Any], line_gid: str, qty: int) -> None:
    for fo_ref in order["fulfillmentOrders"]:
        fo = state.get(fo_ref["__ref"])
        if not fo:
            continue
        for item in fo["lineItems"]:
            if item["lineItem"]["__ref"] == line_gid and qty:
                take = min(qty, item["remainingQuantity"])
                item["remainingQuantity"] -= take
                item["totalQuantity"] -= take
                qty -= take
        if all(i["remainingQuantity"] == 0 for i in fo["lineItems"]) and fo["status"] in {"OPEN", "IN_PROGRESS"}:
            fo["status"] = "CLOSED"
        state.put(fo, parent=order["id"], status=fo["status"])


def mark_paid(state: ShopState, order_gid: str) -> dict[str, Any]:
    """Record payment of the outstanding amount (a twin helper; Shopify's orderMarkAsPaid)."""
    with state.transaction():
        order = _load(state, order_gid, ["id"])
        outstanding = bag_amount(order["totalOutstandingSet"])
        if outstanding > 0:
            order["transactions"].append(_transaction(state, order, "SALE", outstanding))
        order["displayFinancialStatus"] = "PAID"
        order["updatedAt"] = state.now()
        _recompute(order)
        _save(state, order)
        state.emit("orders/paid", order)
        state.emit("orders/updated", order)
        return order


def line_items(order: dict[str, Any]) -> list[dict[str, Any]]:
    """The order's line item documents."""
    return order["_lines"]


__all__ = ["FINANCIAL", "cancel", "create_order", "fulfil", "gql_amount", "line_items", "mark_paid", "refund"]
