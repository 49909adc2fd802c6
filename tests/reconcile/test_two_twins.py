"""Shopify twin and ERP twin, both over loopback, reconciled through their real connectors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from doohickey import model
from doohickey.clock import ManualClock
from doohickey.connectors import load
from doohickey.connectors.spec import ConnectionSettings, ConnectOptions, Secret, WriteRequest
from doohickey.reconcile.diff import DiffSpec, FieldRule, Kind
from doohickey.reconcile.reconciler import ClientRepair, ReconcileSpec, Source, reconcile
from doohickey.twins import create_twin, datagen
from doohickey.twins.server import TwinServer
from doohickey.twins.shopify import seed

DATA = datagen.generate(7, products=4, customers=6, orders=8)
ORDERS = ReconcileSpec("orders", DiffSpec("order", (FieldRule("total", "money"), FieldRule("currency", "casefold")),
                                          key=("number",)), owner="shop", other="erp", repair=True)
STOCK = ReconcileSpec("stock", DiffSpec("stock", (FieldRule("available", "int"),), key=("sku", "location")),
                      owner="erp", other="shop", repair=True)


@dataclass
class Twins:
    shop: Any
    erp: Any
    shop_twin: Any
    erp_twin: Any


@pytest.fixture
async def twins() -> AsyncIterator[Twins]:
    clock = ManualClock()
    shop_twin = create_twin("shopify", clock=clock, maximum_available=100_000, restore_rate=10_000)
    seed.seed_bulk(shop_twin.state, {"customers": DATA.customers, "products": DATA.products, "stock": DATA.stock,
                                     "orders": DATA.orders})
    erp_twin = create_twin("erp", seed=2, clock=clock, data=DATA)
    with TwinServer(shop_twin.app) as s1, TwinServer(erp_twin.app) as s2:
        shop = load("shopify").connect(ConnectionSettings("shop", s1.url, {"token": Secret(shop_twin.info["token"])}),
                                       ConnectOptions(timeout=10))
        erp = load("erp").connect(ConnectionSettings("erp", s2.url, {"api_key": Secret("erp-test-key")}),
                                  ConnectOptions(clock=clock))
        yield Twins(shop, erp, shop_twin, erp_twin)
        await shop.aclose()
        await erp.aclose()


@pytest.mark.anyio
async def test_order_whose_webhook_was_lost_is_found_and_created_once_in_the_erp(twins: Twins) -> None:
    lost = DATA.orders[3]
    for order in DATA.orders:
        if order is not lost:
            await twins.erp.write(WriteRequest("order", "create", model.to_dict(order), idempotency_key=order.number))
    repair = ClientRepair(twins.erp, load("erp").entities["order"].actions)
    run = await reconcile(ORDERS, Source("shop", twins.shop, page_size=3), Source("erp", twins.erp, page_size=3),
                          repair=repair)
    assert [(d.kind, d.key) for d in run.found.discrepancies] == [(Kind.MISSING, lost.number)]
    assert run.status == "repaired", run.summary()
    assert twins.erp_twin.state.count("sales_orders") == len(DATA.orders)
    again = await reconcile(ORDERS, Source("shop", twins.shop), Source("erp", twins.erp), repair=repair)
    assert again.found.clean and len(repair.requests) == 1


@pytest.mark.anyio
async def test_stock_counted_in_the_erp_is_pushed_to_the_shop_and_nowhere_else(twins: Twins) -> None:
    repair = ClientRepair(twins.shop, load("shopify").entities["stock"].actions)
    erp_before = {(s["item_code"], s["location"]): s["on_hand"] for s in twins.erp_twin.state.all("stock")}
    # Independently seeded: the shop's levels already account for its orders, and it stocks a gift card the ERP
    # does not know. The first run aligns the levels from the ERP and leaves the gift card for a person.
    first = await reconcile(STOCK, Source("erp", twins.erp), Source("shop", twins.shop), repair=repair)
    assert first.found.counts["mismatch"] > 0 and len(first.repaired) == first.found.counts["mismatch"]
    assert [(d.kind, d.key) for d in first.recheck.discrepancies] == [(Kind.ORPHAN, "GIFT-50/WH-MAIN")]

    level = DATA.stock[1]
    twins.erp_twin.state.adjust_stock(level.sku, level.location, on_hand=level.on_hand + 6)  # counted
    erp_before[(level.sku, level.location)] = level.on_hand + 6
    run = await reconcile(STOCK, Source("erp", twins.erp), Source("shop", twins.shop), repair=repair)
    (d,) = [d for d in run.found.discrepancies if d.kind == Kind.MISMATCH]
    assert (d.key, d.fields[0].owner - d.fields[0].other) == (f"{level.sku}/{level.location}", 6)
    assert [(x.kind, x.key) for x in run.recheck.discrepancies] == [(Kind.ORPHAN, "GIFT-50/WH-MAIN")]
    assert {(s["item_code"], s["location"]): s["on_hand"] for s in twins.erp_twin.state.all("stock")} == erp_before
