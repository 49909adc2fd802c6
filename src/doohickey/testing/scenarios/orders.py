"""Order scenarios: happy path, duplicate event, delayed sync, failed webhook, out-of-order updates, cancellation.

Each places orders in the storefront twin, lets the engine carry them to the ERP (and the
warehouse where the plan sends paid orders there), and checks the outcome through the
target's own API: one copy, lines and totals equal to the storefront's, status per the flow's
status table, lag within the flow's SLA.
"""

from __future__ import annotations

import asyncio

from doohickey.testing import storefront as shop
from doohickey.testing.scenarios import Context, scenario
from doohickey.testing.scenarios.common import (
    check_alerted,
    check_no_dead_letters,
    check_order_copied,
    check_sla,
    dead_letter_note,
    lines_for,
    note_fault_log,
    shopper,
    target_orders,
    wait_for_order,
)
from doohickey.twins.faults import Fault


def _wms_flow(ctx: Context) -> tuple[str, object] | None:
    try:
        return ctx.flow("order", "storefront", "wms")
    except Exception:  # the plan has no warehouse: nothing to check there
        return None


@scenario("happy-path", "A multi-line order with a discount code, taxes and a shipping fee reaches the ERP "
                        "exactly: same lines, discounts, taxes, shipping and totals, status per the status table, "
                        "within the SLA; a paid order also reaches the warehouse, and the storefront then shows "
                        "the stock owner's numbers for what was sold.")
async def happy_path(ctx: Context) -> None:
    name, flow = ctx.flow("order", "storefront", "erp")
    state = ctx.storefront()
    lines = lines_for(ctx, 3)
    order = shop.place_order(state, lines, email=shopper(ctx), discount_percent=10, shipping="9.90",
                             tax_rate="0.0825", note="Gift wrap, please")
    number = order["name"]
    ctx.orders.append(number)
    await wait_for_order(ctx, flow, number)
    wms = _wms_flow(ctx)
    if wms is not None:
        await wait_for_order(ctx, wms[1], number)
    await ctx.sandbox.settle()
    await check_order_copied(ctx, name, flow, number)
    if wms is not None:
        found = await target_orders(ctx, wms[1], number)
        ctx.checks.equal(f"{wms[1].target} order {number}: fulfilment requests", 1, len(found),
                         note=dead_letter_note(ctx, number) if not found else "")
    from doohickey.testing.scenarios.trouble import check_stock_agrees

    await check_stock_agrees(ctx, [ln["sku"] for ln in lines])
    check_no_dead_letters(ctx)
    check_sla(ctx, name, {number})


@scenario("duplicate-event", "Every order webhook is delivered twice: the ERP and the warehouse still hold one "
                             "record per order, and the duplicates are recorded as ignored.")
async def duplicate_event(ctx: Context) -> None:
    name, flow = ctx.flow("order", "storefront", "erp")
    ctx.inject(flow.source, Fault(kind="webhook_duplicate", topics=["orders/*"]))
    state = ctx.storefront()
    numbers = [shop.place_order(state, lines_for(ctx, 2), email=shopper(ctx, i), shipping="4.99",
                                tax_rate="0.07")["name"] for i in range(3)]
    ctx.orders += numbers
    for number in numbers:
        await wait_for_order(ctx, flow, number)
    await ctx.sandbox.settle()
    log = note_fault_log(ctx, flow.source)
    ctx.checks.add("webhooks delivered twice by the storefront", any(e["kind"] == "webhook_duplicate" for e in log),
                   "at least 1", sum(1 for e in log if e["kind"] == "webhook_duplicate"))
    for number in numbers:
        await check_order_copied(ctx, name, flow, number)
    wms = _wms_flow(ctx)
    for number in numbers if wms else ():
        found = await target_orders(ctx, wms[1], number)
        ctx.checks.equal(f"{wms[1].target} order {number}: fulfilment requests", 1, len(found))
    # A delivery repeated by the storefront carries the same content: it must be recorded once. (Two
    # different payloads stamped with the same second are two changes, and are two Events.)
    received = [r for r in ctx.sandbox.event_rows(name) if r["received_via"] == "webhook"]
    distinct = {(r["external_id"], r["version"], r["fingerprint"]) for r in received}
    ctx.checks.add(f"{name}: one Event per delivered change", len(distinct) == len(received),
                   "no repeated delivery", f"{len(received)} event(s) for {len(distinct)} change(s)")
    check_no_dead_letters(ctx)
    check_sla(ctx, name, set(numbers))


@scenario("delayed-sync", "The order's creation webhook arrives late, after the webhook of a newer update "
                          "(payment captured): the ERP ends in the newest state, and the late one does not "
                          "overwrite it.")
async def delayed_sync(ctx: Context) -> None:
    name, flow = ctx.flow("order", "storefront", "erp")
    delay = ctx.option("delay_seconds", 2.5)
    ctx.inject(flow.source, Fault(kind="webhook_delay", topics=["orders/create"], seconds=delay, count=1))
    state = ctx.storefront()
    number = shop.place_order(state, lines_for(ctx, 2), email=shopper(ctx), financial_status="pending",
                              shipping="9.90", tax_rate="0.0825")["name"]
    ctx.orders.append(number)
    await next_version()
    shop.mark_paid(state, number)
    await wait_for_order(ctx, flow, number)
    await ctx.sandbox.wait_for(_delivered(ctx, flow.source, "orders/create"), timeout=delay + 10)
    await ctx.sandbox.settle()
    log = note_fault_log(ctx, flow.source)
    ctx.checks.add("creation webhook delivered late", any(e["kind"] == "webhook_delay" for e in log),
                   f"{delay:g} s late", "on time")
    target = await check_order_copied(ctx, name, flow, number)
    rows = [r for r in ctx.sandbox.event_rows(name) if str(r["data"].get("number")) == number]
    late = [r for r in rows if r["data"].get("financial_status") == "pending"]
    newer = [r["finished_at"] for r in rows if r["status"] == "done" and r["finished_at"]
             and r["data"].get("financial_status") != "pending"]
    first_newer = min(newer) if newer else None
    # The older version may be applied before the newer one arrived (the poll saw it first); what must never
    # happen is the older one being written after the newer one.
    over = [r for r in late if r["status"] == "done" and first_newer and r["finished_at"] > first_newer]
    ctx.checks.add(f"{name}: the late, older version was not applied over the newer one", not over,
                   "skipped as stale (or applied before the newer one)",
                   ", ".join(f"{r['status']} ({r['outcome']})" for r in over) or "not recorded")
    if target is not None:
        source = await shop_order(ctx, flow, number)
        ctx.checks.equal(f"{flow.target} order {number}: financial status applied", "paid",
                         (source or {}).get("financial_status"))
    check_no_dead_letters(ctx)
    check_sla(ctx, name, {number})


async def next_version() -> None:
    """Let the clock pass a whole second: Shopify versions (``updated_at``) are whole seconds, and two changes
    within one second would carry the same version (see docs/testing.md, "Known limits")."""
    await asyncio.sleep(1.05)


def _delivered(ctx: Context, system: str, topic: str):
    async def done() -> bool:
        deliverer = getattr(ctx.sandbox.twin(system).state, "webhooks", None)
        return deliverer is not None and any(d["topic"] == topic and d["outcome"] == "delivered"
                                             for d in deliverer.log())
    return done


async def shop_order(ctx: Context, flow, number: str) -> dict | None:
    """The storefront's canonical order ``number``."""
    found = await ctx.sandbox.client(flow.source).find("order", {"number": number})
    return found[0].data if found else None


@scenario("failed-webhook", "The order webhooks are never delivered: polling, the safety net, still brings "
                            "the order to the ERP within the SLA.")
async def failed_webhook(ctx: Context) -> None:
    name, flow = ctx.flow("order", "storefront", "erp")
    ctx.inject(flow.source, Fault(kind="webhook_loss", topics=["orders/*"]))
    state = ctx.storefront()
    number = shop.place_order(state, lines_for(ctx, 2), email=shopper(ctx), shipping="9.90",
                              tax_rate="0.0825")["name"]
    ctx.orders.append(number)
    poll = flow.trigger.poll.total_seconds() if flow.trigger.poll else 0
    ctx.checks.add(f"{name} polls its source (the safety net)", bool(poll), "a poll interval", poll or "none")
    await wait_for_order(ctx, flow, number, timeout=max(10.0, ctx.sandbox.scaled(poll) * 4) if poll else 5.0)
    await ctx.sandbox.settle()
    log = note_fault_log(ctx, flow.source)
    ctx.checks.add("webhooks lost by the storefront", any(e["kind"] == "webhook_loss" for e in log), "at least 1",
                   sum(1 for e in log if e["kind"] == "webhook_loss"))
    await check_order_copied(ctx, name, flow, number)
    via = {r["received_via"] for r in ctx.sandbox.event_rows(name) if str(r["data"].get("number")) == number}
    ctx.checks.equal(f"{name}: order {number} received by", "poll", ", ".join(sorted(via)) or "nothing")
    check_no_dead_letters(ctx)
    check_sla(ctx, name, {number})


@scenario("out-of-order", "Updates to an order arrive in the wrong order (the creation webhook is held back "
                          "until the payment webhook has gone): the ERP applies versions in order and ends in "
                          "the newest state.")
async def out_of_order(ctx: Context) -> None:
    name, flow = ctx.flow("order", "storefront", "erp")
    ctx.inject(flow.source, Fault(kind="webhook_reorder", topics=["orders/create"], count=2))
    state = ctx.storefront()
    numbers = []
    for i in range(2):
        numbers.append(shop.place_order(state, lines_for(ctx, 2), email=shopper(ctx, i), financial_status="pending",
                                        shipping="4.99", tax_rate="0.0825")["name"])
    await next_version()
    for number in numbers:
        shop.mark_paid(state, number)
    ctx.orders += numbers
    for number in numbers:
        await wait_for_order(ctx, flow, number)
    await ctx.sandbox.wait_for(_released(ctx, flow.source, 2), timeout=10)
    await ctx.sandbox.settle()
    log = note_fault_log(ctx, flow.source)
    ctx.checks.add("webhooks delivered out of order", any(e["kind"] == "webhook_reorder" for e in log),
                   "at least 1", sum(1 for e in log if e["kind"] == "webhook_reorder"))
    for number in numbers:
        await check_order_copied(ctx, name, flow, number)
        source = await shop_order(ctx, flow, number)
        ctx.checks.equal(f"{flow.source} order {number}: newest state is paid", "paid",
                         (source or {}).get("financial_status"))
    stale = [r for r in ctx.sandbox.event_rows(name) if r["status"] == "skipped" and "stale" in (r["outcome"] or "")]
    ctx.metrics["stale_skipped"] = len(stale)
    check_no_dead_letters(ctx)
    check_sla(ctx, name, set(numbers))


def _released(ctx: Context, system: str, n: int):
    async def done() -> bool:
        deliverer = ctx.sandbox.twin(system).state.webhooks
        return sum(1 for d in deliverer.log() if d["topic"] == "orders/create" and d["outcome"] == "delivered") >= n
    return done


@scenario("cancellation", "An order cancelled before fulfilment started is cancelled in the ERP (and its "
                          "warehouse request too); one cancelled after the ERP booked a first shipment cannot be "
                          "cancelled there: it is dead-lettered with the ERP's reason and the flow's owner is "
                          "alerted.", twin_options={"wms": {"pick_seconds": 60.0}})
async def cancellation(ctx: Context) -> None:
    name, flow = ctx.flow("order", "storefront", "erp")
    state = ctx.storefront()
    lines = lines_for(ctx, 2)
    early = shop.place_order(state, lines, email=shopper(ctx, 0), shipping="9.90", tax_rate="0.0825")["name"]
    late = shop.place_order(state, lines, email=shopper(ctx, 1), shipping="9.90", tax_rate="0.0825")["name"]
    ctx.orders += [early, late]
    for number in (early, late):
        await wait_for_order(ctx, flow, number)
    wms = _wms_flow(ctx)
    if wms is not None:
        await wait_for_order(ctx, wms[1], early)
    started = await _start_fulfilment(ctx, flow.target, late, lines[0]["sku"])
    await next_version()
    shop.cancel(state, early)
    shop.cancel(state, late)
    cancelled = await wait_for_order(ctx, flow, early, when=lambda d: d.get("status") == "cancelled")
    ctx.checks.add(f"{flow.target} order {early} (cancelled before fulfilment): status",
                   cancelled is not None, "cancelled", await _status(ctx, flow, early))
    if wms is not None:
        request = await wait_for_order(ctx, wms[1], early, when=lambda d: d.get("status") == "cancelled")
        ctx.checks.add(f"{wms[1].target} order {early}: fulfilment request", request is not None, "cancelled",
                       await _status(ctx, wms[1], early))
    if started:
        await ctx.sandbox.wait_for(_dead(ctx, name, late), timeout=20)
        await ctx.sandbox.settle()
        ctx.checks.add(f"{flow.target} order {late} (cancelled after fulfilment started): status",
                       await _status(ctx, flow, late) != "cancelled", "not cancelled (goods already left)",
                       await _status(ctx, flow, late))
        letters = [d for d in ctx.sandbox.dead_letters(name) if str(d.record.get("number")) == late]
        ctx.checks.add(f"{name}: order {late} dead-lettered with the ERP's reason", bool(letters), "a dead letter",
                       letters[0].reason if letters else "none")
        await check_alerted(ctx, name, [late])
    else:
        await ctx.sandbox.settle()
    numbers = {early} if not started else {early, late}
    check_sla(ctx, name, numbers)


async def _status(ctx: Context, flow, number: str) -> str:
    found = await target_orders(ctx, flow, number)
    return str(found[0].data.get("status")) if found else "missing"


def _dead(ctx: Context, flow_name: str, number: str):
    async def done() -> bool:
        return any(str(d.record.get("number")) == number for d in ctx.sandbox.dead_letters(flow_name))
    return done


async def _start_fulfilment(ctx: Context, system: str, number: str, sku: str) -> bool:
    """The warehouse staff book a first shipment of one unit in the ERP twin (False for a real ERP)."""
    twin = ctx.sandbox.twin(system)
    if twin is None or twin.name != "erp":
        return False
    order = next((o for o in twin.state.all("sales_orders") if o.get("external_ref") == number), None)
    if order is None:
        return False
    twin.state.fulfil(order["id"], {"lines": [{"item_code": sku, "quantity": 1}], "carrier": "UPS",
                                    "tracking_number": "1Z999", "memo": "first parcel"})
    return True
