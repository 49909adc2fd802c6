"""``doohickey demo``: the whole integration, on twins, with trouble injected, in well under a minute.

It starts the Shopify, ERP and WMS twins in-process on free loopback ports, loads the bundled
example plan (``examples/shopify-erp-wms``), seeds a catalogue, customers and stock from the data
generator, injects the default faults (duplicate, out-of-order and lost webhooks, a short ERP
outage, a 429 storm), places N orders in the storefront at a steady pace (including the classic
edge cases: multi-currency, discounts, gift cards, cancellations, and one order for a product the
ERP does not have, which the plan dead-letters on purpose), runs the engine until every order is
settled (in the ERP, or dead-lettered with a reason), then compares the ERP with the storefront.
The store lives in a temporary folder. Time is compressed: poll intervals and retry waits are scaled.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import and_, select

from doohickey import model
from doohickey.engine import deadletter
from doohickey.engine.runtime import Runtime, RuntimeOptions
from doohickey.engine.store import events
from doohickey.plan.load import load_plan
from doohickey.twins.faults import Fault

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "shopify-erp-wms" / "integration.yaml"
UNKNOWN_SKU = "DEMO-NOT-IN-ERP"


def default_faults(orders: int) -> dict[str, list[Fault]]:
    """The trouble the demo injects, by System: webhook faults at the shop, an outage and a 429 storm at the ERP."""
    return {
        "shop": [
            Fault(kind="webhook_duplicate", topics=["orders/*"], rate=0.10),
            Fault(kind="webhook_reorder", topics=["orders/*"], rate=0.05),
            Fault(kind="webhook_loss", topics=["orders/create"], count=max(1, orders // 100)),
        ],
        "erp": [
            Fault(kind="outage", start=2.0, end=4.0, seconds=1.0, paths=["/api/v1/sales-orders*"]),
            Fault(kind="rate_limit", start=5.0, end=6.5, seconds=0.5, rate=0.5, paths=["/api/v1/*"]),
        ],
    }


@dataclass
class DemoResult:
    """The demo's numbers (the JSON summary) and the dead letters, for the readable summary."""

    summary: dict[str, Any]
    dead_letters: list[deadletter.DeadLetter] = field(default_factory=list)
    faults_applied: Counter = field(default_factory=Counter)


def _orders(n: int, seed: int) -> tuple[Any, list[model.Order]]:
    from doohickey.twins.datagen import generate

    data = generate(seed, products=12, customers=40, orders=n)
    orders = data.orders
    for i, order in enumerate(orders):
        order.number = f"{1001 + i}"
        order.created_at = None  # placed now, so lag is measured from the moment of placing
    if orders:  # one order for a product the shop sells but the ERP does not know: dead-lettered on purpose
        odd = copy.deepcopy(orders[len(orders) // 2])
        odd.lines = odd.lines[:1]
        odd.lines[0].sku = UNKNOWN_SKU
        odd.lines[0].gift_card = False
        orders[len(orders) // 2] = odd
    return data, orders


async def run_demo(orders: int = 200, *, faults: str = "default", seed: int = 7, pace: float = 400.0,
                   timeout: float = 120.0, progress: Any = None, store_url: str | None = None,
                   workers: int = 1) -> DemoResult:
    """Run the demo and return its numbers (see the module docstring).

    With ``store_url`` (PostgreSQL) the demo runs in a fresh schema of that database, dropped at the
    end, with ``workers`` engine processes sharing it (this one and ``workers - 1`` more).
    """
    from doohickey.twins.shopify.seed import seed_customer, seed_order, seed_product, seed_stock

    started = time.monotonic()
    plan = load_plan(EXAMPLE)
    data, to_place = _orders(orders, seed)
    with tempfile.TemporaryDirectory(prefix="doohickey-demo-") as folder, \
            _demo_store(store_url, f"sqlite:///{folder}/state.sqlite") as url:
        options = RuntimeOptions(
            env="sandbox", store_url=url, listen="127.0.0.1:0", seed=seed, workers=workers,
            retry_scale=0.05, poll_scale=0.02, pace_scale=4.0,
            twin_faults=default_faults(orders) if faults == "default" else {},
            # Time runs 50x faster than in production (polls every 2.4 s instead of 2 min), so the shop's
            # API budget refills 50x faster too; its bucket is a Shopify Plus one (2,000 points).
            twin_options={"shop": {"webhook_retry_scale": 0.0005, "maximum_available": 2000.0,
                                   "restore_rate": 2500.0},
                          "wms": {"pick_seconds": 0.5, "tick_interval": 0.05}})
        runtime = await Runtime(plan, options).start()
        twins = runtime.twins
        assert twins is not None
        shop, erp = twins.twins["shop"].state, twins.twins["erp"].state
        odd_product = model.Product(id="DEMO", title="Sample kit (shop only)", code="DEMO",
                                    variants=[model.Variant(sku=UNKNOWN_SKU, title="Kit", price=Decimal("5.00"))])
        for product in [*data.products, odd_product]:
            seed_product(shop, product)
        erp.seed(products=data.products, stock=list(data.stock))
        twins.twins["wms"].state.seed(products=data.products, stock=list(data.stock))
        for level in data.stock:  # the shop's stock at go-live; from now on the ERP's numbers are pushed to it
            seed_stock(shop, level)
        for customer in data.customers[:10]:  # some customers already in the shop; the rest arrive with orders
            # the shop refuses some generated customers (a repeated email), as a real shop would
            with contextlib.suppress(Exception):
                seed_customer(shop, customer)
        run_task = asyncio.create_task(runtime.run())
        placed: dict[str, dt.datetime] = {}
        created_numbers: list[str] = []
        for order in to_place:
            try:
                await asyncio.to_thread(seed_order, shop, order)
            except Exception:
                continue
            number = f"#{order.number}"
            placed[number] = runtime.options.clock.now()
            created_numbers.append(number)
            if progress:
                progress("placed", len(created_numbers))
            await asyncio.sleep(1.0 / pace)
        deadline = time.monotonic() + timeout
        settled = False
        while time.monotonic() < deadline:
            state = _settlement(runtime, erp, created_numbers)
            if progress:
                progress("settled", state["settled"])
            if state["settled"] >= len(created_numbers) and state["pending"] == 0:
                settled = True
                break
            await asyncio.sleep(0.25)
        if settled:
            settled = await _stock_settled(runtime, deadline)
        summary = _summary(runtime, erp, created_numbers, placed, settled)
        summary["stock_mismatches"] = await _stock_mismatches(runtime)
        result = DemoResult(summary, deadletter.list_open(runtime.store),
                            Counter(e["kind"] for t in twins.twins.values() for e in t.faults.log))
        runtime.request_stop()
        await asyncio.gather(run_task, return_exceptions=True)
        await runtime.close()
    result.summary["duration_s"] = round(time.monotonic() - started, 2)
    return result


@contextlib.contextmanager
def _demo_store(url: str | None, default: str) -> Iterator[str]:
    """The demo's store: a temporary SQLite file, or a scratch schema in the given PostgreSQL database."""
    if not url or not url.startswith("postgresql"):
        yield url or default
        return
    from doohickey.engine.workers import scratch_schema

    with scratch_schema(url, "doohickey_demo") as scoped:
        yield scoped


def _erp_orders(erp: Any) -> list[dict[str, Any]]:
    return erp.all("sales_orders")


def _settlement(runtime: Runtime, erp: Any, numbers: list[str]) -> dict[str, int]:
    in_erp = {o.get("external_ref") for o in _erp_orders(erp)}
    dead = {d.record.get("number") for d in deadletter.list_open(runtime.store, flow="orders-to-erp", limit=10_000)}
    with runtime.store.begin() as conn:
        pending = conn.execute(select(events.c.id).where(and_(
            events.c.flow == "orders-to-erp", events.c.status.in_(("pending", "running"))))).all()
    return {"settled": sum(1 for n in numbers if n in in_erp or n in dead), "pending": len(pending)}


def _summary(runtime: Runtime, erp: Any, numbers: list[str], placed: dict[str, dt.datetime],
             settled: bool) -> dict[str, Any]:
    erp_refs = Counter(o.get("external_ref") for o in _erp_orders(erp))
    letters = deadletter.list_open(runtime.store, limit=10_000)
    dead_numbers = {d.record.get("number") for d in letters if d.flow == "orders-to-erp"}
    lags = _lags(runtime, placed)
    in_erp = [n for n in numbers if n in erp_refs]
    return {
        "orders_created": len(numbers),
        "orders_in_erp": len(in_erp),
        "duplicate_orders_in_erp": sum(c - 1 for ref, c in erp_refs.items() if ref in placed and c > 1),
        "lost_orders": sum(1 for n in numbers if n not in erp_refs and n not in dead_numbers),
        "dead_letters": len(letters),
        "dead_lettered_orders": len(dead_numbers),
        "p50_lag_s": round(statistics.median(lags), 3) if lags else None,
        "p95_lag_s": round(sorted(lags)[int(len(lags) * 0.95) - 1 if len(lags) > 1 else 0], 3) if lags else None,
        "settled": settled,
        "events": _event_counts(runtime),
    }


def _lags(runtime: Runtime, placed: dict[str, dt.datetime]) -> list[float]:
    """Seconds from placing each order in the shop to its sale written in the ERP."""
    with runtime.store.begin() as conn:
        rows = conn.execute(select(events.c.data, events.c.finished_at).where(and_(
            events.c.flow == "orders-to-erp", events.c.status == "done"))).all()
    first: dict[str, dt.datetime] = {}
    for data, finished in rows:
        number = data.get("number")
        if number in placed and (number not in first or finished < first[number]):
            first[number] = finished
    return [max(0.0, (f - placed[n]).total_seconds()) for n, f in first.items()]


async def _stock_settled(runtime: Runtime, deadline: float) -> bool:
    """Wait for one more stock poll after the orders settled and for its Events to be written."""
    assert runtime.scheduler is not None
    await runtime.scheduler.poll_once("stock-to-shop")
    while time.monotonic() < deadline:
        with runtime.store.begin() as conn:
            waiting = conn.execute(select(events.c.id).where(and_(
                events.c.flow == "stock-to-shop", events.c.status.in_(("pending", "running"))))).first()
        if waiting is None:
            return True
        await asyncio.sleep(0.25)
    return False


async def _read_all(client: Any, entity: str) -> list[Any]:
    records, cursor = [], None
    while True:
        page = await client.read(entity, cursor=cursor, limit=250)
        records += page.records
        if not page.next_cursor:
            return records
        cursor = page.next_cursor


async def _stock_mismatches(runtime: Runtime) -> int:
    """(SKU, location) pairs whose sellable stock in the shop differs from the ERP's (the ERP owns it)."""
    erp = {(r.data["sku"], r.data["location"]): int(r.data["available"])
           for r in await _read_all(runtime.clients["erp"], "stock")}
    shop = {(r.data["sku"], r.data["location"]): int(r.data["available"])
            for r in await _read_all(runtime.clients["shop"], "stock")}
    return sum(1 for key, available in erp.items() if shop.get(key) != available)


def _event_counts(runtime: Runtime) -> dict[str, int]:
    with runtime.store.begin() as conn:
        rows = conn.execute(select(events.c.status)).scalars().all()
    return dict(Counter(rows))
