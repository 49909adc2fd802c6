"""Mutation resolvers of the Shopify twin's Admin GraphQL API.

Each resolver turns the mutation's arguments into a call on the state, and a
refusal (:class:`~doohickey.twins.shopify.shapes.UserErrors`) into the payload's
``userErrors`` (or the typed list the payload declares, such as
``orderCancelUserErrors``) with the result object null, as Shopify does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from doohickey.twins.shopify import orders, webhooks
from doohickey.twins.shopify.shapes import UserErrors, gid, parse_gid, user_error
from doohickey.twins.shopify.state import ShopState

INVENTORY_REASONS = {
    "correction", "cycle_count_available", "damaged", "movement_canceled", "movement_created", "movement_received",
    "movement_updated", "other", "promotion", "quality_control", "received", "reservation_created",
    "reservation_deleted", "reservation_updated", "restock", "safety_stock", "shrinkage",
}


def _payload(fn: Callable[..., dict[str, Any]], errors_key: str = "userErrors", *also: str,
             with_context: bool = False):
    """Wrap ``fn`` (returning the payload's result fields) so UserErrors become the payload's error list."""

    def resolve(_root: Any, info: Any, **args: Any) -> dict[str, Any]:
        state: ShopState = info.context["state"]
        if with_context:
            args["context"] = info.context
        try:
            result = fn(state, **args)
            errors: list[dict[str, Any]] = []
        except UserErrors as refused:
            result, errors = {}, refused.errors
        body = {errors_key: errors, **result}
        for key in also:
            body.setdefault(key, errors)
        return body

    return resolve


def _order_create(state: ShopState, order: dict[str, Any], options: dict[str, Any] | None = None) -> dict[str, Any]:
    behaviour = (options or {}).get("inventoryBehaviour") or "BYPASS"
    created = orders.create_order(state, order, decrement_stock=behaviour != "BYPASS",
                                  obey_policy=behaviour == "DECREMENT_OBEYING_POLICY")
    return {"order": created}


def _order_cancel(state: ShopState, orderId: str, reason: str, restock: bool, refund: bool | None = None,
                  staffNote: str | None = None, **_: Any) -> dict[str, Any]:
    orders.cancel(state, orderId, reason=reason, restock=restock, refund=bool(refund), staff_note=staffNote)
    return {"job": {"__typename": "Job", "id": gid("Job", state.next_id("Job")), "done": True}}


def _refund_create(state: ShopState, input: dict[str, Any]) -> dict[str, Any]:
    result = orders.refund(state, input)
    return {"refund": result, "order": {"__ref": result["order"]["__ref"]}}


def _fulfillment_create(state: ShopState, fulfillment: dict[str, Any], message: str | None = None
                        ) -> dict[str, Any]:
    return {"fulfillment": orders.fulfil(state, fulfillment)}


def _customer_create(state: ShopState, input: dict[str, Any]) -> dict[str, Any]:
    if input.get("id"):
        raise UserErrors([user_error(["id"], "Id must not be set when creating a customer")])
    return {"customer": state.create_customer(input)}


def _customer_update(state: ShopState, input: dict[str, Any]) -> dict[str, Any]:
    if not input.get("id"):
        raise UserErrors([user_error(["id"], "Id is required to update a customer")])
    return {"customer": state.update_customer(input["id"], input)}


def _inventory_target(state: ShopState, item_gid: str, location_gid: str, where: list[str]) -> tuple[int, int]:
    item, location = parse_gid(item_gid, "InventoryItem"), parse_gid(location_gid, "Location")
    if item is None or state.get(item_gid, "InventoryItem") is None:
        raise UserErrors([user_error([*where, "inventoryItemId"], "The specified inventory item could not be found.",
                                     "INVALID_INVENTORY_ITEM")])
    if location is None or state.get(location_gid, "Location") is None:
        raise UserErrors([user_error([*where, "locationId"], "The specified location could not be found.",
                                     "INVALID_LOCATION")])
    return item, location


def _check_name_reason(name: str, reason: str, names: set[str]) -> None:
    if name not in names:
        allowed = ", ".join(sorted(names))
        raise UserErrors([user_error(["input", "name"], f"The quantity name must be one of: {allowed}.",
                                     "INVALID_NAME")])
    if reason not in INVENTORY_REASONS:
        raise UserErrors([user_error(["input", "reason"], "The specified reason is invalid.", "INVALID_REASON")])


def _inventory_set(state: ShopState, input: dict[str, Any]) -> dict[str, Any]:
    name, reason = input.get("name") or "", input.get("reason") or ""
    _check_name_reason(name, reason, {"available", "on_hand"})
    changes = []
    with state.transaction():
        seen = set()
        for index, qty in enumerate(input.get("quantities") or []):
            where = ["input", "quantities", str(index)]
            item, location = _inventory_target(state, qty["inventoryItemId"], qty["locationId"], where)
            if (item, location) in seen:
                raise UserErrors([user_error(where, "The combination of inventoryItemId and locationId must be "
                                                    "unique.", "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR")])
            seen.add((item, location))
            level = state.level(item, location)
            if level is None:
                raise UserErrors([user_error([*where, "locationId"], "The specified inventory item is not stocked at "
                                                                     "the location.", "ITEM_NOT_STOCKED_AT_LOCATION")])
            quantity = qty["quantity"]
            if quantity > 1_000_000_000:
                raise UserErrors([user_error([*where, "quantity"], "The quantity can't be higher than 1,000,000,000.",
                                             "INVALID_QUANTITY_TOO_HIGH")])
            if quantity < -1_000_000_000:
                raise UserErrors([user_error([*where, "quantity"], "The quantity can't be lower than -1,000,000,000.",
                                             "INVALID_QUANTITY_TOO_LOW")])
            compare = qty.get("compareQuantity")
            if not input.get("ignoreCompareQuantity"):
                if compare is None:
                    raise UserErrors([user_error([*where, "compareQuantity"], "The compareQuantity argument must be "
                                                 "given to each quantity or ignored using ignoreCompareQuantity.",
                                                 "COMPARE_QUANTITY_REQUIRED")])
                if compare != level[name]:
                    raise UserErrors([user_error([*where, "compareQuantity"], "The compareQuantity value does not "
                                                 "match the latest state of the inventory.", "COMPARE_QUANTITY_STALE")])
            delta = quantity - level[name]
            state.change_level(item, location, on_hand=delta)
            changes.append(_change(name, delta, quantity, item, location))
        group = _group(state, reason, input.get("referenceDocumentUri"), changes)
    return {"inventoryAdjustmentGroup": group}


def _inventory_adjust(state: ShopState, input: dict[str, Any]) -> dict[str, Any]:
    name, reason = input.get("name") or "", input.get("reason") or ""
    _check_name_reason(name, reason, {"available", "on_hand"})
    changes = []
    with state.transaction():
        for index, change in enumerate(input.get("changes") or []):
            where = ["input", "changes", str(index)]
            item, location = _inventory_target(state, change["inventoryItemId"], change["locationId"], where)
            after = state.change_level(item, location, on_hand=change["delta"])
            changes.append(_change(name, change["delta"], after[name], item, location))
        group = _group(state, reason, input.get("referenceDocumentUri"), changes)
    return {"inventoryAdjustmentGroup": group}


def _change(name: str, delta: int, after: int, item: int, location: int) -> dict[str, Any]:
    return {"name": name, "delta": delta, "quantityAfterChange": after, "ledgerDocumentUri": None,
            "item": {"__ref": gid("InventoryItem", item)}, "location": {"__ref": gid("Location", location)}}


def _group(state: ShopState, reason: str, uri: str | None, changes: list[dict[str, Any]]) -> dict[str, Any]:
    return {"__typename": "InventoryAdjustmentGroup", "id": gid("InventoryAdjustmentGroup",
                                                                state.next_id("InventoryAdjustmentGroup")),
            "createdAt": state.now(), "reason": reason, "referenceDocumentUri": uri, "changes": changes}


def _webhook_create(state: ShopState, topic: str, webhookSubscription: dict[str, Any],
                    context: dict[str, Any]) -> dict[str, Any]:
    # Shopify serialises a subscription's payloads in the API version it was created with.
    version = context.get("api_version") or "2025-10"
    return {"webhookSubscription": webhooks.subscribe(state, topic, webhookSubscription, version)}


def _webhook_delete(state: ShopState, id: str) -> dict[str, Any]:
    webhooks.unsubscribe(state, id)
    return {"deletedWebhookSubscriptionId": id}


RESOLVERS = {
    "orderCreate": _payload(_order_create),
    "orderCancel": _payload(_order_cancel, "orderCancelUserErrors", "userErrors"),
    "refundCreate": _payload(_refund_create),
    "fulfillmentCreate": _payload(_fulfillment_create),
    "customerCreate": _payload(_customer_create),
    "customerUpdate": _payload(_customer_update),
    "inventorySetQuantities": _payload(_inventory_set),
    "inventoryAdjustQuantities": _payload(_inventory_adjust),
    "webhookSubscriptionCreate": _payload(_webhook_create, with_context=True),
    "webhookSubscriptionDelete": _payload(_webhook_delete),
}
