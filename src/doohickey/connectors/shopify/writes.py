"""The Shopify connector's write actions: one small async step per (entity, action), taking a WriteRequest.

* ``stock.set``: ``inventorySetQuantities`` with name ``available``. When the
  request carries ``compare_available`` (the level the sender last saw) it is
  sent as ``compareQuantity``, so a concurrent change in Shopify makes the write
  fail with ``COMPARE_QUANTITY_STALE`` instead of silently overwriting it; without
  it the owner's absolute value is set (``ignoreCompareQuantity``). The Event's
  idempotency key goes into ``referenceDocumentUri``
  (``gid://doohickey/Event/<key>``), so the merchant's inventory history shows
  which sync made the change. Setting the same absolute value twice is harmless.
* ``fulfilment.create``: ``fulfillmentCreate`` on the order's open fulfillment
  orders, lines matched by SKU (all remaining lines when none are given), with
  tracking company, number and URL.
* ``order.cancel``: ``orderCancel`` (asynchronous in Shopify: the answer is a job).
* ``refund.create``: ``refundCreate`` with lines by SKU, the shipping amount, and
  a refund transaction against the order's successful sale or capture.
* ``customer.create`` / ``customer.update``: ``customerCreate`` / ``customerUpdate``.
* ``order.create``: ``orderCreate`` (test data: custom lines by SKU and price).

Shopify's Admin API takes no idempotency key on these mutations, so a retried
create is made safe by the engine's find-by-key before create.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from doohickey.connectors.shopify import maps, queries
from doohickey.connectors.shopify.webhooks import record
from doohickey.connectors.spec import WriteRequest, WriteResult
from doohickey.errors import DependencyMissing, RejectedError

if TYPE_CHECKING:
    from doohickey.connectors.shopify.client import ShopifyClient

Action = Callable[["ShopifyClient", WriteRequest], Awaitable[WriteResult]]


def _result(entity: str, data: dict[str, Any]) -> WriteResult:
    made = record(entity, data)
    return WriteResult(external_id=made.external_id, version=made.version, data=data)


async def _order_gid(client: ShopifyClient, request: WriteRequest) -> str:
    """The order's gid: the request's external id, ``order_id``, or a search by ``order_number``."""
    for candidate in (request.external_id, request.data.get("order_id"), request.data.get("id")):
        if candidate and str(candidate).startswith(maps.GID + "Order/"):
            return str(candidate)
    number = request.data.get("order_number") or request.data.get("number")
    if number:
        found = await client.find("order", {"number": str(number)})
        if found:
            return found[0].external_id
    raise DependencyMissing(f"{client.system} has no order {number or request.external_id or '(none given)'} "
                            f"for this {request.entity}", system=client.system)


async def set_stock(client: ShopifyClient, request: WriteRequest) -> WriteResult:
    """Set the ``available`` quantity of one SKU at one location."""
    data = request.data
    sku = str(data.get("sku") or "")
    item_id = str(data.get("inventory_item_id") or "")
    if not item_id:
        variants = await client.find("variant", {"sku": sku}) if sku else []
        if not variants:
            raise DependencyMissing(f"{client.system} has no variant with SKU {sku!r} to set stock for",
                                    system=client.system)
        item_id = variants[0].data["inventory_item_id"]
    location_id = await client.location_id(str(data.get("location_id") or data.get("location") or ""))
    quantity: dict[str, Any] = {"inventoryItemId": item_id, "locationId": location_id,
                                "quantity": int(data.get("available", 0))}
    compare = data.get("compare_available")
    if compare is not None:
        quantity["compareQuantity"] = int(compare)
    uri = f"gid://doohickey/Event/{request.idempotency_key}" if request.idempotency_key else None
    variables = {"input": {"name": "available", "reason": str(data.get("reason") or "correction"),
                           "ignoreCompareQuantity": compare is None, "quantities": [quantity],
                           **({"referenceDocumentUri": uri} if uri else {})}}
    answer = (await client.graphql(queries.INVENTORY_SET, variables, what=f"set stock of {sku or item_id}")
              ).get("inventorySetQuantities")
    client._user_errors(answer, f"set the stock of {sku or item_id}")
    level_id = f"{maps.GID}InventoryLevel/{maps.legacy_id(location_id)}?inventory_item_id={maps.legacy_id(item_id)}"
    now = await client.get("stock", level_id)
    if now is None:
        return WriteResult(external_id=level_id, data={"sku": sku, "available": quantity["quantity"]})
    return WriteResult(external_id=now.external_id, version=now.version, data=now.data)


async def create_fulfilment(client: ShopifyClient, request: WriteRequest) -> WriteResult:
    """Fulfil an order's open fulfillment orders (by SKU, or everything left) with tracking."""
    data = request.data
    order_id = await _order_gid(client, request)
    order = (await client.graphql(queries.ORDER_WORK, {"id": order_id}, what="read the order to fulfil")
             ).get("order")
    if not order:
        raise DependencyMissing(f"{client.system} has no order {order_id}", system=client.system)
    groups = _fulfilment_groups(order, data.get("lines") or [], client.system)
    tracking = {k: v for k, v in {"company": data.get("carrier"), "number": data.get("tracking_number"),
                                  "url": data.get("tracking_url")}.items() if v}
    fulfillment: dict[str, Any] = {"lineItemsByFulfillmentOrder": groups, "notifyCustomer": client.notify}
    if tracking:
        fulfillment["trackingInfo"] = tracking
    answer = (await client.graphql(queries.FULFILLMENT_CREATE, {"fulfillment": fulfillment},
                                   what=f"fulfil order {order.get('name')}")).get("fulfillmentCreate")
    client._user_errors(answer, f"fulfil order {order.get('name')}")
    return _result("fulfilment", maps.fulfilment_from_node(answer["fulfillment"]))


def _fulfilment_groups(order: dict[str, Any], lines: list[dict[str, Any]], system: str) -> list[dict[str, Any]]:
    """``lineItemsByFulfillmentOrder`` for the wanted SKU quantities, taken from open fulfillment orders."""
    open_orders = [fo for fo in (order.get("fulfillmentOrders") or {}).get("nodes") or []
                   if fo.get("status") in ("OPEN", "IN_PROGRESS", "SCHEDULED")]
    if not open_orders:
        raise RejectedError(f"{system}: order {order.get('name')} has nothing left to fulfil", system=system)
    if not lines:
        return [{"fulfillmentOrderId": fo["id"]} for fo in open_orders]
    wanted = {}
    for line in lines:
        wanted[line.get("sku", "")] = wanted.get(line.get("sku", ""), 0) + int(line.get("quantity") or 0)
    groups = []
    for fo in open_orders:
        items = []
        for item in (fo.get("lineItems") or {}).get("nodes") or []:
            take = min(wanted.get(item.get("sku") or "", 0), int(item.get("remainingQuantity") or 0))
            if take > 0:
                items.append({"id": item["id"], "quantity": take})
                wanted[item["sku"]] -= take
        if items:
            groups.append({"fulfillmentOrderId": fo["id"], "fulfillmentOrderLineItems": items})
    missing = {sku: qty for sku, qty in wanted.items() if qty > 0}
    if missing:
        said = ", ".join(f"{qty} x {sku or '(no SKU)'}" for sku, qty in missing.items())
        raise RejectedError(f"{system}: order {order.get('name')} has no open quantity left for {said}",
                            system=system)
    return groups


async def cancel_order(client: ShopifyClient, request: WriteRequest) -> WriteResult:
    """Cancel an order (restocking by default, no refund unless ``refund`` is true)."""
    data = request.data
    order_id = await _order_gid(client, request)
    variables = {"orderId": order_id, "reason": maps.cancel_reason(data.get("cancel_reason")),
                 "restock": bool(data.get("restock", True)),
                 "refundMethod": {"originalPaymentMethodsRefund": True} if data.get("refund") else None,
                 "notifyCustomer": client.notify, "staffNote": data.get("note") or None}
    answer = (await client.graphql(queries.ORDER_CANCEL, variables, what=f"cancel order {order_id}")
              ).get("orderCancel")
    client._user_errors(answer, f"cancel order {data.get('number') or order_id}", "orderCancelUserErrors")
    job = (answer or {}).get("job") or {}
    return WriteResult(external_id=order_id, data={"id": order_id, "status": "cancelled", "job_id": job.get("id", ""),
                                                   "job_done": bool(job.get("done"))})


async def create_refund(client: ShopifyClient, request: WriteRequest) -> WriteResult:
    """Refund lines (by SKU), shipping and money against the order's successful payment."""
    data = request.data
    order_id = await _order_gid(client, request)
    order = (await client.graphql(queries.ORDER_WORK, {"id": order_id}, what="read the order to refund")
             ).get("order")
    if not order:
        raise DependencyMissing(f"{client.system} has no order {order_id}", system=client.system)
    currency = data.get("currency") or order.get("currencyCode") or "USD"
    refund: dict[str, Any] = {"orderId": order_id, "note": data.get("reason") or None, "notify": client.notify,
                              "refundLineItems": _refund_lines(order, data.get("lines") or [], client.system)}
    shipping = Decimal(maps.decimal_text(data.get("shipping_amount"), "shipping_amount"))
    if shipping > 0:
        refund["shipping"] = {"amount": str(shipping)}
    total = Decimal(maps.decimal_text(data.get("amount"), "amount"))
    paid = [t for t in order.get("transactions") or [] if t.get("kind") in ("SALE", "CAPTURE")
            and t.get("status") == "SUCCESS"]
    if total > 0 and paid:
        refund["transactions"] = [{"orderId": order_id, "parentId": paid[0]["id"], "kind": "REFUND",
                                   "gateway": paid[0].get("gateway") or "manual", "amount": str(total)}]
    refund = {k: v for k, v in refund.items() if v not in (None, [])}
    answer = (await client.graphql(queries.REFUND_CREATE, {"input": refund}, what=f"refund order {order.get('name')}")
              ).get("refundCreate")
    client._user_errors(answer, f"refund order {order.get('name')}")
    return _result("refund", maps.refund_from_node(answer["refund"], currency))


def _refund_lines(order: dict[str, Any], lines: list[dict[str, Any]], system: str) -> list[dict[str, Any]]:
    by_sku: dict[str, list[dict[str, Any]]] = {}
    for item in (order.get("lineItems") or {}).get("nodes") or []:
        by_sku.setdefault(item.get("sku") or "", []).append(item)
    out = []
    for line in lines:
        items = by_sku.get(line.get("sku") or "")
        if not items:
            raise RejectedError(f"{system}: order {order.get('name')} has no line with SKU {line.get('sku')!r} "
                                "to refund", system=system)
        out.append({"lineItemId": items[0]["id"], "quantity": int(line.get("quantity") or 0),
                    "restockType": "RETURN" if line.get("restock") else "NO_RESTOCK"})
    return out


async def create_customer(client: ShopifyClient, request: WriteRequest) -> WriteResult:
    """Create a customer."""
    answer = (await client.graphql(queries.CUSTOMER_CREATE, {"input": maps.customer_input(request.data)},
                                   what="create a customer")).get("customerCreate")
    client._user_errors(answer, f"create customer {request.data.get('email') or ''}".rstrip())
    return _result("customer", maps.customer_from_node(answer["customer"]))


async def update_customer(client: ShopifyClient, request: WriteRequest) -> WriteResult:
    """Update a customer's fields (addresses and consent are left as they are)."""
    if not request.external_id:
        raise RejectedError(f"{client.system}: updating a customer needs its id", system=client.system)
    answer = (await client.graphql(queries.CUSTOMER_UPDATE,
                                   {"input": maps.customer_input(request.data, request.external_id)},
                                   what="update a customer")).get("customerUpdate")
    client._user_errors(answer, f"update customer {request.external_id}")
    return _result("customer", maps.customer_from_node(answer["customer"]))


async def create_order(client: ShopifyClient, request: WriteRequest) -> WriteResult:
    """Create an order (test data), without touching stock."""
    answer = (await client.graphql(queries.ORDER_CREATE, {"order": maps.order_input(request.data),
                                                          "options": {"inventoryBehaviour": "BYPASS"}},
                                   what="create an order")).get("orderCreate")
    client._user_errors(answer, f"create order {request.data.get('number') or ''}".rstrip())
    return _result("order", maps.order_from_node(answer["order"]))


ACTIONS: dict[tuple[str, str], Action] = {
    ("stock", "set"): set_stock,
    ("fulfilment", "create"): create_fulfilment,
    ("order", "cancel"): cancel_order,
    ("order", "create"): create_order,
    ("refund", "create"): create_refund,
    ("customer", "create"): create_customer,
    ("customer", "update"): update_customer,
}
