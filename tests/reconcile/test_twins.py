"""Reconciliation against the ERP twin over loopback HTTP (the storefront side is an in-memory System).

The cases of the issue: a lost webhook shows up as missing and a repair creates it
once; a hand edit in the ERP shows up as a mismatch with both values; a stock
difference is repaired from the owner only; a duplicate ERP customer is reported;
running twice on clean data reports nothing and changes nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import pytest

from doohickey import model
from doohickey.clock import ManualClock
from doohickey.connectors import load
from doohickey.connectors.spec import ConnectionSettings, ConnectOptions, Secret, WriteRequest
from doohickey.reconcile.diff import DiffSpec, FieldRule, Kind
from doohickey.reconcile.reconciler import ReconcileSpec, Source, reconcile
from doohickey.twins import create_twin
from doohickey.twins.datagen import generate
from doohickey.twins.server import TwinServer

from .memory import DirectRepair, MemoryClient

_GENERATED = generate(21, orders=6)
# The generator plants duplicate customers on purpose; these tests plant their own, so start from unique ones.
DATA = replace(_GENERATED, customers=list({c.email.casefold(): c for c in reversed(_GENERATED.customers)}.values()))
ORDERS = ReconcileSpec("orders", DiffSpec("order", (FieldRule("total", "money"), FieldRule("currency", "casefold")),
                                          key=("number",)), owner="shop", other="erp", repair=True)
CUSTOMERS = ReconcileSpec("customers", DiffSpec(
    "customer", (FieldRule("first_name", "text"), FieldRule("last_name", "text")), key=("email",),
    key_transform="email"), owner="shop", other="erp", repair=True)
STOCK = ReconcileSpec("stock", DiffSpec("stock", (FieldRule("available", "int"),), key=("sku", "location")),
                      owner="erp", other="shop", repair=True)


@dataclass
class Env:
    twin: Any
    erp: Any
    shop: MemoryClient
    clock: ManualClock


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    clock = ManualClock()
    twin = create_twin("erp", seed=2, clock=clock, data=DATA)
    shop = MemoryClient("shop", {
        "order": {o.id or o.number: model.to_dict(o) for o in DATA.orders},
        "customer": {c.id: model.to_dict(c) for c in DATA.customers},
        "stock": {f"{s.sku}@{s.location}": model.to_dict(s) for s in DATA.stock},
    })
    with TwinServer(twin.app) as server:
        erp = load("erp").connect(ConnectionSettings("erp", server.url, {"api_key": Secret("erp-test-key")}),
                                  ConnectOptions(clock=clock))
        yield Env(twin, erp, shop, clock)
        await erp.aclose()


def sides(env: Env, spec: ReconcileSpec) -> tuple[Source, Source]:
    shop, erp = Source("shop", env.shop, page_size=7), Source("erp", env.erp, page_size=7)
    return (shop, erp) if spec.owner == "shop" else (erp, shop)


@pytest.mark.anyio
async def test_lost_order_webhook_is_missing_and_repair_creates_it_once(env: Env) -> None:
    for order in DATA.orders[:-1]:  # the last order's webhook never arrived
        await env.erp.write(WriteRequest("order", "create", model.to_dict(order), idempotency_key=order.number))
    lost = DATA.orders[-1]
    repair = DirectRepair(env.erp)
    run = await reconcile(ORDERS, *sides(env, ORDERS), repair=repair, clock=env.clock)
    assert [(d.kind, d.key) for d in run.found.discrepancies] == [(Kind.MISSING, lost.number)]
    assert run.status == "repaired" and env.twin.state.count("sales_orders") == len(DATA.orders)
    (made,) = await env.erp.find("order", {"number": lost.number})
    assert model.from_dict(model.Order, made.data).total == lost.total

    again = await reconcile(ORDERS, *sides(env, ORDERS), repair=repair, clock=env.clock)
    assert again.found.clean and again.repaired == [] and len(repair.requests) == 1
    assert env.twin.state.count("sales_orders") == len(DATA.orders)


@pytest.mark.anyio
async def test_hand_edit_in_the_erp_is_a_mismatch_with_both_values(env: Env) -> None:
    first = DATA.customers[0]
    (erp_customer,) = await env.erp.find("customer", {"email": first.email})
    env.twin.state.update_customer(erp_customer.external_id, {"last_name": "Edited-By-Hand"})
    run = await reconcile(CUSTOMERS, *sides(env, CUSTOMERS), clock=env.clock)
    (d,) = run.found.discrepancies
    assert (d.kind, d.key, d.other_ids) == (Kind.MISMATCH, first.email.casefold(), (erp_customer.external_id,))
    assert [(f.name, f.owner, f.other) for f in d.fields] == [("last_name", first.last_name, "Edited-By-Hand")]


@pytest.mark.anyio
async def test_duplicate_erp_customer_is_reported(env: Env) -> None:
    first = DATA.customers[3]
    (existing,) = await env.erp.find("customer", {"email": first.email})
    second = await env.erp.write(WriteRequest("customer", "create", {**model.to_dict(first), "id": ""}))
    run = await reconcile(CUSTOMERS, *sides(env, CUSTOMERS), clock=env.clock)
    (d,) = run.found.discrepancies
    assert d.kind == Kind.DUPLICATE and set(d.other_ids) == {existing.external_id, second.external_id}
    assert run.repaired == []  # merging is for a person to decide


@pytest.mark.anyio
async def test_stock_difference_is_repaired_from_the_owner_only(env: Env) -> None:
    level = DATA.stock[5]
    env.twin.state.adjust_stock(level.sku, level.location, on_hand=level.on_hand + 4)  # counted in the warehouse
    before = {(s["item_code"], s["location"]): s["on_hand"] for s in env.twin.state.all("stock")}
    run = await reconcile(STOCK, *sides(env, STOCK), repair=DirectRepair(env.shop), clock=env.clock)
    (d,) = run.found.discrepancies
    assert (d.kind, d.key) == (Kind.MISMATCH, f"{level.sku}/{level.location}")
    assert (d.fields[0].owner, d.fields[0].other) == (level.available + 4, level.available)
    assert run.status == "repaired"
    assert env.shop.data["stock"][f"{level.sku}@{level.location}"]["available"] == level.available + 4
    after = {(s["item_code"], s["location"]): s["on_hand"] for s in env.twin.state.all("stock")}
    assert after == before  # the owner was never written


@pytest.mark.anyio
async def test_clean_systems_report_nothing_twice_and_nothing_is_written(env: Env) -> None:
    for order in DATA.orders:
        await env.erp.write(WriteRequest("order", "create", model.to_dict(order), idempotency_key=order.number))
    stock_now = [r for page in [await env.erp.read("stock", limit=500)] for r in page.records]
    env.shop.data["stock"] = {r.external_id: dict(r.data) for r in stock_now}
    repair_erp, repair_shop = DirectRepair(env.erp), DirectRepair(env.shop)
    for _ in range(2):
        for spec, repair in ((ORDERS, repair_erp), (CUSTOMERS, repair_erp), (STOCK, repair_shop)):
            run = await reconcile(spec, *sides(env, spec), repair=repair, clock=env.clock)
            assert run.found.clean, run.summary()
    assert repair_erp.requests == [] and repair_shop.requests == [] and env.shop.writes == []


@pytest.mark.anyio
async def test_the_engine_finds_the_existing_erp_customer_before_creating_one(env: Env) -> None:
    from doohickey.reconcile.matching import find_existing, parse_rules

    rules = parse_rules(["email", "phone", {"fuzzy": "name+address", "threshold": 0.92}])
    made = await env.erp.write(WriteRequest("customer", "create", {
        "email": "jane.doe@example.com", "first_name": "Jane", "last_name": "Doe", "phone": "4155550100"}))
    by_email = await find_existing(env.erp, {"email": "Jane.Doe@Example.com", "first_name": "Jane"}, rules)
    assert by_email is not None and by_email[1].external_id == made.external_id and by_email[0].rule == "email"
    by_phone = await find_existing(env.erp, {"email": "jd@work.example", "phone": "+1 (415) 555-0100"}, rules)
    assert by_phone is not None and by_phone[1].external_id == made.external_id and by_phone[0].rule == "phone"
    assert await find_existing(env.erp, {"email": "someone@else.example", "first_name": "Jane",
                                         "last_name": "Doe"}, rules) is None
