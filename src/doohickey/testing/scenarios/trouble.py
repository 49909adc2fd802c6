"""Trouble scenarios: an outage and a maintenance window of each System, and a rate-limit storm.

Each System with a twin is taken down in turn (its API answers 503) while shoppers keep
ordering; when it is back, every order is in the ERP and the warehouse exactly once, stock
agrees between the stock owner and the storefront, nothing was given up on, and the SLA held.
"""

from __future__ import annotations

import asyncio

from doohickey.testing import storefront as shop
from doohickey.testing.scenarios import Context, scenario
from doohickey.testing.scenarios.common import (
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


async def _orders_survive(ctx: Context, kind: str, window: float, per_system: int) -> None:
    """Take each twin System down in turn for ``window`` seconds while orders come in, then check everything."""
    name, flow = ctx.flow("order", "storefront", "erp")
    state = ctx.storefront()
    systems = [s for s in ctx.case.data.get("systems", list(ctx.plan.systems)) if ctx.sandbox.twin(s) is not None]
    numbers: list[str] = []
    for system in systems:
        ctx.inject(system, Fault(kind=kind, start=0, end=window, seconds=0.5,
                                 message=f"{system} is down for the {ctx.case.name} scenario"))
        for _ in range(per_system):
            numbers.append(shop.place_order(state, lines_for(ctx, 2), email=shopper(ctx, len(numbers)),
                                            shipping="9.90", tax_rate="0.0825")["name"])
        await asyncio.sleep(window)
    ctx.orders += numbers
    for number in numbers:
        await wait_for_order(ctx, flow, number, timeout=30)
    await ctx.sandbox.settle(timeout=30)
    for system in systems:
        log = note_fault_log(ctx, system)
        ctx.checks.add(f"{system}: {kind} answered", any(e["kind"] == kind for e in log), "at least one 503",
                       sum(1 for e in log if e["kind"] == kind))
    for number in numbers:
        await check_order_copied(ctx, name, flow, number)
    wms = _optional_flow(ctx, "storefront", "wms")
    for number in numbers if wms else ():
        found = await target_orders(ctx, wms[1], number)
        ctx.checks.equal(f"{wms[1].target} order {number}: fulfilment requests", 1, len(found),
                         note=dead_letter_note(ctx, number) if not found else "")
    await check_stock_agrees(ctx, [ln["sku"] for ln in lines_for(ctx, 2)])
    check_no_dead_letters(ctx)
    check_sla(ctx, name, set(numbers))


def _optional_flow(ctx: Context, source: str, target: str):
    try:
        return ctx.flow("order", source, target)
    except Exception:  # no such flow in this plan: nothing to check there
        return None


async def check_stock_agrees(ctx: Context, skus: list[str]) -> None:
    """The storefront shows the stock owner's available quantity for every SKU and shared location."""
    try:
        flow = ctx.flow("stock", None, "storefront")[1]
    except Exception:  # the plan does not sync stock
        return
    owner, shown = ctx.sandbox.client(flow.source), ctx.sandbox.client(flow.target)

    async def pairs() -> list[tuple[str, object, object]]:
        out = []
        for sku in skus:
            truth = {r.data.get("location"): r.data.get("available") for r in await owner.find("stock", {"sku": sku})}
            for record in await shown.find("stock", {"sku": sku}):
                location = record.data.get("location")
                if location in truth:
                    out.append((f"{sku}@{location}", truth[location], record.data.get("available")))
        return out

    async def agreed():
        found = await pairs()
        return found if found and all(str(a) == str(b) for _, a, b in found) else None

    await ctx.sandbox.wait_for(agreed, timeout=max(10.0, ctx.sandbox.scaled(300)))
    for key, truth, value in await pairs():
        ctx.checks.equal(f"{flow.target} stock {key}: available (as {flow.source} says)", truth, value)


@scenario("outage", "Each System is down in turn (HTTP 503) while orders come in: afterwards every order is in "
                    "the ERP and the warehouse exactly once, stock agrees, no dead letters, the SLA held.")
async def outage(ctx: Context) -> None:
    await _orders_survive(ctx, "outage", ctx.option("window_seconds", 1.5), ctx.option("orders_per_system", 2))


@scenario("maintenance-window", "Each System announces a maintenance window in turn (503 with Retry-After until "
                                "it ends): the engine waits it out; every order arrives once, no dead letters, "
                                "the SLA held.")
async def maintenance_window(ctx: Context) -> None:
    await _orders_survive(ctx, "maintenance", ctx.option("window_seconds", 1.5), ctx.option("orders_per_system", 2))


@scenario("rate-limit-storm", "Half of all calls to the ERP and the storefront are refused as rate-limited "
                              "(429 / THROTTLED) for a while: every order still arrives exactly once, nothing is "
                              "dead-lettered, and the SLA held.")
async def rate_limit_storm(ctx: Context) -> None:
    name, flow = ctx.flow("order", "storefront", "erp")
    window = ctx.option("window_seconds", 3.0)
    for system in (flow.target, flow.source):
        ctx.inject(system, Fault(kind="rate_limit", start=0, end=window, rate=ctx.option("rate", 0.5), seconds=0.5))
    state = ctx.storefront()
    numbers = [shop.place_order(state, lines_for(ctx, 2), email=shopper(ctx, i), shipping="4.99",
                                tax_rate="0.0825")["name"] for i in range(ctx.option("orders", 8))]
    ctx.orders += numbers
    for number in numbers:
        await wait_for_order(ctx, flow, number, timeout=30)
    await ctx.sandbox.settle(timeout=30)
    limited = 0
    for system in (flow.target, flow.source):
        limited += sum(1 for e in note_fault_log(ctx, system) if e["kind"] == "rate_limit")
    ctx.checks.add("calls refused as rate-limited", limited > 0, "at least 1", limited)
    for number in numbers:
        await check_order_copied(ctx, name, flow, number)
    check_no_dead_letters(ctx)
    check_sla(ctx, name, set(numbers))
