"""Black Friday: N orders per minute for M minutes of generated orders, measured end to end.

Orders come from the data generator (multi-line, several currencies, discounts, gift cards,
taxes and shipping), placed at Poisson arrival times of a steady rate in real time. The
outcome: orders per minute the ERP actually received, lag percentiles against the SLA, and
zero lost or doubled orders, each ERP total equal to the storefront's. The defaults (240 per
minute for 12 seconds) run in CI in well under a minute; raise them with the test
case's ``data: {orders_per_minute: 1200, minutes: 2}``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import Counter

from doohickey.testing import storefront as shop
from doohickey.testing.harness import money, read_all
from doohickey.testing.scenarios import Context, scenario
from doohickey.testing.scenarios.common import check_no_dead_letters, check_sla, percentile


@scenario("black-friday", "N orders per minute for M minutes of generated orders: reports the orders per minute "
                          "achieved and lag percentiles against the SLA; no order is lost or doubled and every "
                          "ERP total equals the storefront's.")
async def black_friday(ctx: Context) -> None:
    from doohickey.twins.datagen import steady_profile

    name, flow = ctx.flow("order", "storefront", "erp")
    per_minute, minutes = ctx.option("orders_per_minute", 240.0), ctx.option("minutes", 0.2)
    schedule = steady_profile(ctx.sandbox.dataset, per_minute=per_minute, minutes=minutes,
                              seed=ctx.option("seed", 7))
    state = ctx.storefront()
    begun, started_at = time.monotonic(), dt.datetime.now(dt.UTC)
    placed: list[dict] = []
    refused = 0
    for planned in schedule:
        wait = planned.offset - (time.monotonic() - begun)
        if wait > 0:
            await asyncio.sleep(wait)
        try:
            placed.append(await asyncio.to_thread(shop.place_canonical, state, planned.order))
        except Exception:  # the storefront refused the generated order (e.g. an unknown variant): not our load
            refused += 1
    numbers = [o["name"] for o in placed]
    placed_in = time.monotonic() - begun
    ctx.orders += numbers
    target = ctx.sandbox.client(flow.target)

    async def all_arrived():
        have = {r.data.get("number") for r in await read_all(target, "order")}
        return set(numbers) <= have or None

    await ctx.sandbox.wait_for(all_arrived, timeout=max(30.0, placed_in * 2), every=0.5)
    settled = await ctx.sandbox.settle(timeout=30, flow=name)
    last = ctx.sandbox.last_written(name)
    finished_in = (last - started_at).total_seconds() if last else time.monotonic() - begun
    erp_orders = await read_all(target, "order")
    shop_totals = {o["name"]: o["totalPriceSet"]["shopMoney"]["amount"] for o in placed}
    copies = Counter(r.data.get("number") for r in erp_orders)
    lost = [n for n in numbers if copies[n] == 0]
    doubled = [n for n in numbers if copies[n] > 1]
    wrong_total = [n for n in numbers if copies[n] == 1 and money(next(
        r.data.get("total") for r in erp_orders if r.data.get("number") == n)) != money(
        shop_totals.get(n))]
    lags = ctx.sandbox.lags(name, set(numbers))
    ctx.metrics["black_friday"] = {
        "offered_per_minute": per_minute, "minutes": minutes, "orders_placed": len(numbers),
        "refused_by_storefront": refused, "placed_in_s": round(placed_in, 2),
        "placed_per_minute": round(len(numbers) / placed_in * 60, 1) if placed_in else 0.0,
        "finished_in_s": round(finished_in, 2),
        "achieved_per_minute": round((len(numbers) - len(lost)) / finished_in * 60, 1) if finished_in else 0.0,
        "lost": len(lost), "doubled": len(doubled), "wrong_total": len(wrong_total), "settled": settled,
        "lag_p50_s": percentile(lags, 0.5), "lag_p95_s": percentile(lags, 0.95), "lag_p99_s": percentile(lags, 0.99),
        "lag_max_s": lags[-1] if lags else None}
    ctx.checks.add("orders placed in the storefront", bool(numbers), f"about {per_minute * minutes:g}", len(numbers))
    ctx.checks.add(f"{flow.target}: orders lost", not lost, 0, len(lost), note=", ".join(lost[:5]))
    ctx.checks.add(f"{flow.target}: orders doubled", not doubled, 0, len(doubled), note=", ".join(doubled[:5]))
    ctx.checks.add(f"{flow.target}: orders whose total differs from the storefront's", not wrong_total, 0,
                   len(wrong_total), note=", ".join(wrong_total[:5]))
    check_no_dead_letters(ctx, [name])
    check_sla(ctx, name, set(numbers))
