"""After-sale scenarios: refunds (partial and full), a partial shipment in two parcels, manual reconciliation."""

from __future__ import annotations

from decimal import Decimal

from doohickey.testing import storefront as shop
from doohickey.testing.harness import find_one, money
from doohickey.testing.scenarios import Context, NotApplicable, scenario
from doohickey.testing.scenarios.common import (
    check_no_dead_letters,
    check_sla,
    dead_letter_note,
    expected_status,
    lines_for,
    shopper,
    wait_for_order,
)
from doohickey.testing.scenarios.orders import next_version


def _amounts(records: list) -> list[Decimal]:
    return sorted(money(r.data.get("amount")) or Decimal(0) for r in records)


@scenario("refund", "A partial refund (one unit) and then a full refund of the rest with shipping each become "
                    "one credit note in the ERP for exactly the refunded amount; the ERP order ends in the status "
                    "the status table gives a refunded order.", entity="refund")
async def refund(ctx: Context) -> None:
    name, flow = ctx.flow("refund", "storefront", "erp")
    orders_flow = ctx.flow("order", "storefront", "erp")[1]
    spec = ctx.sandbox.runtime.connectors[flow.target].entities.get("refund")
    if spec is None or not spec.read:
        raise NotApplicable(f"the {ctx.plan.systems[flow.target].connector} connector cannot read refunds back, "
                            "so the credit notes cannot be checked")
    state = ctx.storefront()
    lines = lines_for(ctx, 2)
    number = shop.place_order(state, lines, email=shopper(ctx), shipping="9.90", tax_rate="0.0825")["name"]
    ctx.orders.append(number)
    await wait_for_order(ctx, orders_flow, number)
    await next_version()
    shop.refund(state, number, [{"sku": lines[0]["sku"], "quantity": 1}], note="one damaged")
    erp, source = ctx.sandbox.client(flow.target), ctx.sandbox.client(flow.source)

    async def credited(n: int):
        found = await erp.find("refund", {"order_number": number})
        return found if len(found) >= n else None

    first = await ctx.sandbox.wait_for(lambda: credited(1), timeout=6)
    await next_version()
    shop.refund(state, number, None, shipping=True, note="customer returned the rest")
    if first:
        await ctx.sandbox.wait_for(lambda: credited(2), timeout=10)
    await ctx.sandbox.settle(timeout=3)
    shop_refunds = await source.find("refund", {"order_number": number})
    erp_refunds = await erp.find("refund", {"order_number": number})
    label = f"{flow.target} order {number}"
    ctx.checks.equal(f"{label}: credit notes", len(shop_refunds), len(erp_refunds),
                     note=dead_letter_note(ctx, number) if len(erp_refunds) < len(shop_refunds) else "")
    for i, (want, have) in enumerate(zip(_amounts(shop_refunds), _amounts(erp_refunds), strict=False)):
        ctx.checks.equal(f"{label}: credit note {i + 1} amount", want, have)
    order = await find_one(source, "order", {"number": number})
    ctx.checks.equal(f"{label}: credited in all (what the storefront refunded)", sum(_amounts(shop_refunds),
                     Decimal(0)), sum(_amounts(erp_refunds), Decimal(0)))
    if order is not None:
        want = expected_status(ctx, orders_flow, order.data)
        if want:
            target = await ctx.sandbox.wait_for(_status_is(ctx, orders_flow, number, want), timeout=10)
            ctx.checks.equal(f"{label}: status after the refunds", want, target or await _status(
                ctx, orders_flow, number), note=f"financial status {order.data.get('financial_status')}")
    check_no_dead_letters(ctx, [name])
    check_sla(ctx, name)


def _status_is(ctx: Context, flow, number: str, want: str):
    async def check() -> str | None:
        status = await _status(ctx, flow, number)
        return status if status == want else None
    return check


async def _status(ctx: Context, flow, number: str) -> str:
    found = await ctx.sandbox.client(flow.target).find("order", {"number": number})
    return str(found[0].data.get("status")) if found else "missing"


@scenario("partial-shipment", "The warehouse ships an order in two parcels: each parcel's carrier and tracking "
                              "number reach the storefront as their own fulfilment, and the order ends fulfilled.",
          entity="fulfilment", twin_options={"wms": {"partial_share": 1.0, "pick_seconds": 0.4}})
async def partial_shipment(ctx: Context) -> None:
    name, flow = ctx.flow("fulfilment", "wms", "storefront")
    wms_flow = ctx.flow("order", "storefront", "wms")[1]
    state = ctx.storefront()
    number = shop.place_order(state, lines_for(ctx, 2), email=shopper(ctx), shipping="9.90",
                              tax_rate="0.0825")["name"]
    ctx.orders.append(number)
    await wait_for_order(ctx, wms_flow, number)
    warehouse = ctx.sandbox.twin(flow.source)
    if warehouse is None:
        raise NotApplicable("partial-shipment reads the parcels from the warehouse twin")

    def parcels() -> list[dict]:
        return [s for s in warehouse.state.all("shipments") if s.get("order_ref") == number]

    async def both_shown():
        return len(shop.fulfilments(state, number)) >= 2 or None

    poll = flow.trigger.poll.total_seconds() if flow.trigger.poll else 0
    await ctx.sandbox.wait_for(both_shown, timeout=min(15.0, max(8.0, ctx.sandbox.scaled(poll) * 2)))
    await ctx.sandbox.settle()
    sent = parcels()
    shown = shop.fulfilments(state, number)
    label = f"{flow.target} order {number}"
    ctx.checks.equal(f"{flow.source} order {number}: parcels shipped", 2, len(sent))
    ctx.checks.equal(f"{label}: fulfilments shown", len(sent), len(shown), note=dead_letter_note(ctx, number))
    tracking_shown = {t.get("number"): t for f in shown for t in f.get("trackingInfo") or []}
    for parcel in sent:
        tracking = parcel["tracking_number"]
        info = tracking_shown.get(tracking)
        ctx.checks.add(f"{label}: parcel {parcel['parcel']} tracking number", info is not None, tracking,
                       ", ".join(str(t) for t in tracking_shown if t) or "none")
        if info is not None:
            ctx.checks.equal(f"{label}: parcel {parcel['parcel']} carrier", parcel["carrier"], info.get("company"))
            ctx.checks.equal(f"{label}: parcel {parcel['parcel']} tracking link", parcel["tracking_url"],
                             info.get("url"))
    order = await find_one(ctx.sandbox.client(flow.target), "order", {"number": number})
    ctx.checks.equal(f"{label}: fulfilment status", "fulfilled", (order.data if order else {}).get(
        "fulfillment_status"))
    check_no_dead_letters(ctx, [name])
    check_sla(ctx, name)


@scenario("manual-reconciliation", "Someone edits a record by hand in the System that does not own it; "
                                   "reconciliation reports the mismatch with both values, and repair from the "
                                   "owner puts the owner's value back.", entity="stock")
async def manual_reconciliation(ctx: Context) -> None:
    from doohickey.reconcile.reconciler import ClientRepair, Source, reconcile, spec_from_plan

    entry = ctx.case.data.get("reconcile") or next(
        (n for n, r in ctx.plan.reconcile.items() if ctx.plan.reconcile_entity(n) == "stock"), None)
    if entry is None or entry not in ctx.plan.reconcile:
        raise NotApplicable("manual-reconciliation needs a stock entry in the plan's reconcile:")
    spec = spec_from_plan(ctx.plan, entry)
    owner, other = ctx.sandbox.client(spec.owner), ctx.sandbox.client(spec.other)
    sku = ctx.sandbox.products(1)[0].sku
    stock_flow = next((n for n, f in ctx.plan.flows.items() if f.entity == "stock" and f.target == spec.other), None)

    async def synced():
        have = {r.data.get("location"): r.data.get("available") for r in await other.find("stock", {"sku": sku})}
        return all(have.get(r.data.get("location"), r.data.get("available")) == r.data.get("available")
                   for r in await owner.find("stock", {"sku": sku})) or None

    # The hand edit must come after the engine has copied the owner's stock, or the copy would undo it.
    await ctx.sandbox.wait_for(synced, timeout=15)
    await ctx.sandbox.settle(flow=stock_flow, timeout=15)
    owned = await owner.find("stock", {"sku": sku})
    shown = await other.find("stock", {"sku": sku})
    location = next((r.data.get("location") for r in owned
                     if any(s.data.get("location") == r.data.get("location") for s in shown)), None)
    truth = next((r.data for r in owned if r.data.get("location") == location), None)
    if truth is None:
        ctx.checks.add(f"{spec.other} stock {sku}", False, f"synced from {spec.owner} before the hand edit",
                       "no common location")
        return
    edited = int(truth["available"]) + 7
    storefront = ctx.sandbox.twin(spec.other)
    if storefront is None or storefront.name != "shopify":
        raise NotApplicable("manual-reconciliation edits stock by hand in the storefront twin")
    shop.set_available(storefront.state, sku, edited, location)
    key_words = f"{spec.other} stock {sku}@{location}"
    repair = ClientRepair(other, ctx.sandbox.runtime.connectors[spec.other].entities["stock"].actions)
    run = await reconcile(spec, Source(spec.owner, owner), Source(spec.other, other), repair=repair)
    found = [d for d in run.found.discrepancies if sku in d.key and (location or "") in d.key]
    diff = next((f for d in found for f in d.fields if f.name == "available"), None)
    ctx.checks.add(f"reconcile {entry}: {key_words} reported", bool(found), "a mismatch",
                   ", ".join(str(d.kind) for d in found) or "not reported")
    if diff is not None:
        ctx.checks.equal(f"reconcile {entry}: {key_words} available in {spec.owner} (owner)", truth["available"],
                         diff.owner)
        ctx.checks.equal(f"reconcile {entry}: {key_words} available in {spec.other}", edited, diff.other)
    ctx.metrics["reconcile"] = {"entry": entry, "found": run.found.counts, "repaired": len(run.repaired),
                                "status": run.status}
    after = await other.find("stock", {"sku": sku})
    value = next((r.data.get("available") for r in after if r.data.get("location") == location), None)
    ctx.checks.equal(f"{key_words}: available after repair from {spec.owner}", truth["available"], value)
    if run.recheck is None:
        ctx.checks.add(f"reconcile {entry}: repair from {spec.owner}", False, "repaired and re-checked",
                       "not repaired" + ("" if spec.repair else f" (reconcile.{entry}.repair is not push-owner)"))
    else:
        left = [d for d in run.recheck.discrepancies if sku in d.key and (location or "") in d.key]
        ctx.checks.add(f"reconcile {entry}: re-check of {key_words} after repair", not left, "no difference left",
                       ", ".join(str(d.kind) for d in left) or "no difference left")
