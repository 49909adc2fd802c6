"""The engine against the Shopify, ERP and WMS twins over real loopback HTTP: one named test per promise.

Tests taking the ``store`` fixture run on SQLite and on PostgreSQL (there with the leased multi-worker loop).
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import and_, select
from tests.engine.twinrig import Rig, order_for, running

from doohickey.engine import audit, deadletter
from doohickey.engine.store import events
from doohickey.plan.model import Flow
from doohickey.twins.faults import Fault

pytestmark = pytest.mark.anyio


def idle(rig: Rig) -> bool:
    """No Event waiting or running."""
    with rig.runtime.store.begin() as conn:
        return conn.execute(select(events.c.id).where(events.c.status.in_(("pending", "running")))).first() is None


def shop_order_id(rig: Rig, number: str) -> str:
    """The shop's id of an order, from the engine's own events."""
    with rig.runtime.store.begin() as conn:
        rows = conn.execute(select(events.c.external_id, events.c.data).where(events.c.entity == "order")).all()
    return next(r.external_id for r in rows if r.data.get("number") == number)


def actions(rig: Rig, system: str, entity: str, external_id: str) -> list[tuple[str, str]]:
    return [(e.action, e.detail) for e in audit.trace(rig.runtime.store, system, entity, external_id)]


async def test_duplicate_webhook_makes_one_erp_sale(tmp_path, store) -> None:
    faults = {"shop": [Fault(kind="webhook_duplicate", topics=["orders/create"], rate=1.0)]}
    async with running(tmp_path, faults=faults, scheduler=False, store_url=store.url) as rig:
        await rig.place(order_for(rig.data, 2001))
        await rig.wait_for(lambda: rig.erp_orders("#2001") and idle(rig), what="order #2001 in the ERP")
        await asyncio.sleep(0.5)  # let any late copy arrive
        assert len(rig.erp_orders("#2001")) == 1
        assert any(e["kind"] == "webhook_duplicate" for e in rig.twin("shop").faults.log)
        trail = actions(rig, "shop", "order", shop_order_id(rig, "#2001"))
        assert [a for a, _ in trail].count("written") == 1
        assert any(a == "duplicate" for a, _ in trail)


async def test_out_of_order_updates_end_in_newest_state(tmp_path) -> None:
    faults = {"shop": [Fault(kind="webhook_reorder", topics=["customers/update"], count=1)]}
    async with running(tmp_path, faults=faults, scheduler=False) as rig:
        customer = rig.data.customers[1]
        node = rig.shop.find_one("Customer", "email", customer.email)
        await rig.wait_for(lambda: rig.runtime.engine.idmap.get("shop", "customer", node["id"], "erp") and idle(rig),
                           what="the customer bound")
        await asyncio.to_thread(rig.shop.update_customer, node["id"], {"firstName": "Alpha"})
        await asyncio.sleep(1.1)  # Shopify stamps updated_at to the second
        await asyncio.to_thread(rig.shop.update_customer, node["id"], {"firstName": "Omega"})
        binding = rig.runtime.engine.idmap.get("shop", "customer", node["id"], "erp")

        def erp_name() -> str:
            return rig.erp.get("customers", binding.target_id)["first_name"]

        await rig.wait_for(lambda: any(e["kind"] == "webhook_reorder" for e in rig.twin("shop").faults.log)
                           and idle(rig) and len([a for a, _ in actions(rig, "shop", "customer", node["id"])
                                                   if a == "received"]) >= 3, what="both updates processed")
        assert erp_name() == "Omega"
        # The older update arrived last: it was either skipped as stale (Omega already written) or, when both
        # waited together, applied before Omega in version order. Either way the last write is Omega's version.
        trail = actions(rig, "shop", "customer", node["id"])
        written = [d for a, d in trail if a == "written"]
        newest = max(d.split("version ")[1].split(",")[0] for d in written)
        assert f"version {newest}," in written[-1]


async def test_lost_webhook_is_caught_by_polling(tmp_path) -> None:
    faults = {"shop": [Fault(kind="webhook_loss", topics=["orders/create"], count=1)]}
    async with running(tmp_path, faults=faults) as rig:
        await rig.place(order_for(rig.data, 2002))
        await rig.wait_for(lambda: rig.erp_orders("#2002"), what="order #2002 in the ERP via polling")
        assert any(e["kind"] == "webhook_loss" for e in rig.twin("shop").faults.log)
        received = [d for a, d in actions(rig, "shop", "order", shop_order_id(rig, "#2002")) if a == "received"]
        assert received and "by poll" in received[0]
        assert len(rig.erp_orders("#2002")) == 1


def from_now(seconds: float) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)).isoformat()


async def test_erp_outage_is_ridden_out_and_nothing_is_lost(tmp_path, store) -> None:
    async with running(tmp_path, scheduler=False, store_url=store.url) as rig:
        rig.twin("erp").faults.add(Fault(kind="outage", start=from_now(0), end=from_now(4), seconds=1.0,
                                         paths=["/api/v1/sales-orders*"]))
        numbers = [f"#{n}" for n in range(2010, 2016)]
        for n in range(2010, 2016):
            await rig.place(order_for(rig.data, n, customer=n % 5))
        await rig.wait_for(lambda: all(rig.erp_orders(n) for n in numbers) and idle(rig), timeout=30,
                           what="all orders in the ERP after the outage")
        assert all(len(rig.erp_orders(n)) == 1 for n in numbers)
        assert any(e["kind"] == "outage" for e in rig.twin("erp").faults.log)
        trail = [d for n in numbers for a, d in actions(rig, "shop", "order", shop_order_id(rig, n)) if a == "retry"]
        assert any("Unavailable" in d or "TransientError" in d for d in trail), (trail, rig.twin("erp").faults.log[:3])
        assert deadletter.list_open(rig.runtime.store) == []


async def test_429_storm_is_waited_out(tmp_path) -> None:
    async with running(tmp_path, scheduler=False) as rig:
        rig.twin("erp").faults.add(Fault(kind="rate_limit", start=from_now(0), end=from_now(2), rate=1.0,
                                         seconds=0.4, paths=["/api/v1/*"]))
        numbers = [f"#{n}" for n in range(2020, 2025)]
        for n in range(2020, 2025):
            await rig.place(order_for(rig.data, n, customer=n % 5))
        await rig.wait_for(lambda: all(rig.erp_orders(n) for n in numbers) and idle(rig), timeout=30,
                           what="all orders in the ERP after the 429 storm")
        assert all(len(rig.erp_orders(n)) == 1 for n in numbers)
        assert any(e["kind"] == "rate_limit" for e in rig.twin("erp").faults.log)
        # the Connection was held for the Retry-After the ERP asked for, instead of hammering it
        assert rig.runtime.engine.pacers.budgets["erp"].waited > 0
        assert deadletter.list_open(rig.runtime.store) == []


async def test_unmappable_order_is_dead_lettered_in_words_and_replays_once(tmp_path, store) -> None:
    async with running(tmp_path, scheduler=False, store_url=store.url) as rig:
        # the map as first written does not know Shopify's "expired" payment status
        rig.runtime.plan.flows["orders-to-erp"].status.values.pop("expired", None)
        await rig.place(order_for(rig.data, 2030, financial_status="expired"))
        letters = await rig.wait_for(lambda: deadletter.list_open(rig.runtime.store), what="a dead letter")
        assert len(letters) == 1
        reason = letters[0].reason
        assert reason.startswith("could not map order #2030 for erp") and "expired" in reason
        assert letters[0].record["number"] == "#2030" and letters[0].owner == "Order desk (Sam Rivera)"
        assert rig.erp_orders("#2030") == []
        # the fix: the status table learns "expired"; then the dead letter is replayed
        rig.runtime.plan.flows["orders-to-erp"].status.values["expired"] = "cancelled"
        deadletter.replay(rig.runtime.store, letters[0].id, rig.runtime.options.clock.now())
        rig.runtime.engine.wake.set()
        await rig.wait_for(lambda: rig.erp_orders("#2030") and idle(rig), what="the replayed order in the ERP")
        with pytest.raises(ValueError):
            deadletter.replay(rig.runtime.store, letters[0].id, rig.runtime.options.clock.now())
        await asyncio.sleep(0.3)
        assert len(rig.erp_orders("#2030")) == 1
        assert deadletter.list_open(rig.runtime.store) == []


async def test_our_own_writes_do_not_echo_back(tmp_path) -> None:
    async with running(tmp_path, customers_in_erp=False, scheduler=False) as rig:
        back = Flow.model_validate({"entity": "customer", "from": "erp", "to": "shop", "trigger": {"poll": "1m"}})
        rig.runtime.plan.flows["customers-back-to-shop"] = back
        rig.runtime.engine.policies["customers-back-to-shop"] = rig.runtime.engine.policies["customers-to-erp"]
        customer = rig.data.customers[2]
        node = rig.shop.find_one("Customer", "email", customer.email)
        binding = await rig.wait_for(lambda: idle(rig) and rig.runtime.engine.idmap.get(
            "shop", "customer", node["id"], "erp"), what="the customer written to the ERP")
        writes_before = len(rig.shop.all("Customer"))
        await rig.runtime.scheduler.poll_once("customers-back-to-shop")
        await rig.wait_for(lambda: idle(rig), what="the poll processed")
        trail = actions(rig, "erp", "customer", binding.target_id)
        echoes = [d for a, d in trail if a == "skipped" and d.startswith("echo")]
        assert echoes, trail
        assert not [a for a, d in trail if a == "written" and "in shop" in d]
        assert len(rig.shop.all("Customer")) == writes_before


async def test_fields_the_source_does_not_own_are_never_written(tmp_path) -> None:
    async with running(tmp_path, scheduler=False) as rig:
        rig.runtime.plan.ownership["customer.phone"] = "erp"  # the ERP keeps the verified phone number
        customer = rig.data.customers[3]
        node = rig.shop.find_one("Customer", "email", customer.email)
        binding = await rig.wait_for(lambda: idle(rig) and rig.runtime.engine.idmap.get(
            "shop", "customer", node["id"], "erp"), what="the customer bound")
        erp_phone = rig.erp.get("customers", binding.target_id)["phone"]
        await asyncio.sleep(1.1)  # a new updated_at second
        await asyncio.to_thread(rig.shop.update_customer, node["id"], {"firstName": "Renamed", "phone": "+14155550199"})
        await rig.wait_for(lambda: idle(rig) and rig.erp.get("customers", binding.target_id)["first_name"] == "Renamed",
                           what="the new name in the ERP")
        assert rig.erp.get("customers", binding.target_id)["phone"] == erp_phone != "+14155550199"
        written = [d for a, d in actions(rig, "shop", "customer", node["id"]) if a == "written"]
        assert "phone (owned by erp)" in written[-1]
        # and on orders, the ERP's order.status and the warehouse's fulfillment_status are never sent
        await rig.place(order_for(rig.data, 2040, financial_status="paid"))
        await rig.wait_for(lambda: rig.erp_orders("#2040") and idle(rig), what="order #2040 in the ERP")
        written = [d for a, d in actions(rig, "shop", "order", shop_order_id(rig, "#2040")) if a == "written"]
        assert "status (owned by erp)" in written[0] and "fulfillment_status (owned by wms)" in written[0]


async def test_order_whose_customer_is_not_bound_waits_then_succeeds(tmp_path) -> None:
    async with running(tmp_path, customers_in_erp=False, scheduler=False,
                       flows=("orders-to-erp", "customers-to-erp")) as rig:
        customer = rig.data.customers[4]
        rig.runtime.plan.flows["customers-to-erp"].trigger.webhook.clear()  # the customer arrives only with the order
        await rig.place(order_for(rig.data, 2050, customer=4))
        await rig.wait_for(lambda: rig.erp_orders("#2050") and idle(rig), what="order #2050 in the ERP")
        sale = rig.erp_orders("#2050")[0]
        erp_customers = rig.erp.find_customers(email=customer.email)
        assert len(erp_customers) == 1 and sale["customer_id"] == erp_customers[0]["id"]
        trail = actions(rig, "shop", "order", shop_order_id(rig, "#2050"))
        assert any(a == "retry" and "waits for" in d for a, d in trail)
        assert [a for a, _ in trail].count("written") == 1
        with rig.runtime.store.begin() as conn:
            brought = conn.execute(select(events.c.received_via).where(and_(
                events.c.flow == "customers-to-erp", events.c.received_via == "dependency"))).all()
        assert brought


async def test_backfill_twice_writes_each_record_once(tmp_path) -> None:
    async with running(tmp_path, customers_in_erp=False, scheduler=False, flows=("customers-to-erp",)) as rig:
        rig.runtime.plan.flows["customers-to-erp"].trigger.webhook.clear()  # only the backfill brings them
        shop_customers = {c["email"] for c in rig.shop.all("Customer")}
        for _ in range(2):
            await rig.runtime.intake.poll("customers-to-erp", rig.runtime.clients["shop"], use_cursor=False,
                                          via="backfill")
            rig.runtime.engine.wake.set()
            await rig.wait_for(lambda: idle(rig), what="the backfill written")
        erp_emails = [c["email"] for c in rig.erp.all("customers")]
        assert sorted(erp_emails) == sorted(shop_customers) and len(erp_emails) == len(set(erp_emails))
        assert rig.runtime.intake.cursor("poll:customers-to-erp") is None  # the poller's cursor is untouched
