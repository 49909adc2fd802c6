"""The erp connector against the ERP twin over loopback HTTP: canonical records round-trip, errors are classified."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal

import httpx
import pytest

from doohickey import model
from doohickey.clock import ManualClock
from doohickey.connectors import load
from doohickey.connectors.spec import ConnectionSettings, ConnectOptions, Secret, WriteRequest
from doohickey.errors import AuthError, DependencyMissing, RateLimited, RejectedError, TransientError, Unavailable
from doohickey.twins import create_twin
from doohickey.twins.datagen import generate
from doohickey.twins.faults import Fault
from doohickey.twins.server import TwinServer

DATA = generate(21, orders=30)


@dataclass
class Env:
    twin: object
    client: object
    clock: ManualClock
    url: str


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    clock = ManualClock()
    twin = create_twin("erp", seed=2, clock=clock, data=DATA)
    with TwinServer(twin.app) as server:
        client = load("erp").connect(
            ConnectionSettings("erp", server.url, {"api_key": Secret("erp-test-key")}), ConnectOptions(clock=clock))
        yield Env(twin, client, clock, server.url)
        await client.aclose()


def _order(index: int = 0) -> dict:
    return model.to_dict(DATA.orders[index])


@pytest.mark.anyio
async def test_order_round_trips_with_exact_totals_and_one_effect(env: Env) -> None:
    source = DATA.orders[0]
    first = await env.client.write(WriteRequest("order", "create", _order(), idempotency_key="evt-1"))
    again = await env.client.write(WriteRequest("order", "create", _order(), idempotency_key="evt-1"))
    assert first.external_id == again.external_id
    found = await env.client.find("order", {"number": source.number})
    assert [r.external_id for r in found] == [first.external_id]
    back = model.from_dict(model.Order, found[0].data)
    assert (back.number, back.currency, back.total, back.tax_total, back.subtotal) == (
        source.number, source.currency, source.total, source.tax_total, source.subtotal)
    assert [(ln.sku, ln.quantity, ln.unit_price, ln.discount) for ln in back.lines] == [
        (ln.sku, ln.quantity, ln.unit_price, ln.discount) for ln in source.lines]
    assert back.status == "confirmed" and back.customer and back.customer.id.startswith("CUS-")
    assert env.twin.state.count("sales_orders") == 1


@pytest.mark.anyio
async def test_partial_fulfilment_then_refund_through_the_connector(env: Env) -> None:
    source = DATA.orders[1]
    made = await env.client.write(WriteRequest("order", "create", _order(1)))
    line = source.lines[0]
    fulfilment = model.Fulfilment(order_number=source.number, carrier="DHL", tracking_number="JD0001",
                                  lines=[model.FulfilmentLine(line.sku, 1)])
    written = await env.client.write(WriteRequest("fulfilment", "create", model.to_dict(fulfilment),
                                                  idempotency_key="ship-1"))
    assert written.data["tracking_number"] == "JD0001" and written.data["order_number"] == source.number
    order = await env.client.get("order", made.external_id)
    expected = "processing" if len(source.lines) > 1 or line.quantity > 1 else "shipped"
    assert order.data["status"] == expected
    shipped = await env.client.find("fulfilment", {"order_number": source.number})
    assert [(r.data["carrier"], r.data["lines"]) for r in shipped] == [("DHL", [{"sku": line.sku, "quantity": 1}])]
    refund = model.Refund(id="R-1", order_number=source.number, currency=source.currency, reason="damaged",
                          lines=[model.RefundLine(line.sku, 1, line.unit_price)])
    memo = await env.client.write(WriteRequest("refund", "create", model.to_dict(refund), idempotency_key="r-1"))
    assert Decimal(memo.data["amount"]) == line.unit_price and memo.data["order_number"] == source.number
    too_much = model.Refund(order_number=source.number, amount=source.total * 2)
    with pytest.raises(RejectedError, match="exceeds the refundable balance"):
        await env.client.write(WriteRequest("refund", "create", model.to_dict(too_much)))
    with pytest.raises(DependencyMissing, match="#nope is not in the ERP"):
        await env.client.write(WriteRequest("fulfilment", "create", {"order_number": "#nope", "lines": []}))


@pytest.mark.anyio
async def test_cancel_and_customer_create_update_find(env: Env) -> None:
    made = await env.client.write(WriteRequest("order", "create", _order(2)))
    cancelled = await env.client.write(WriteRequest("order", "cancel", {}, external_id=made.external_id))
    assert cancelled.data["status"] == "cancelled" and cancelled.data["cancelled_at"]
    person = model.Customer(id="shop-9", email="Ana.Garcia@Example.com", first_name="Ana-María",
                            last_name="García Márquez", phone="+34 600 000 001",
                            addresses=[model.Address(first_name="Ana-María", last_name="García Márquez",
                                                     line1="Calle de Alcalá 1", city="Madrid", country="ES")])
    created = await env.client.write(WriteRequest("customer", "create", model.to_dict(person)))
    await env.client.write(WriteRequest("customer", "update", {"phone": "+34 600 000 002"},
                                        external_id=created.external_id))
    found = await env.client.find("customer", {"email": "ana.garcia@example.com"})
    assert len(found) == 1
    back = model.from_dict(model.Customer, found[0].data)
    assert (back.first_name, back.last_name, back.phone) == ("Ana-María", "García Márquez", "+34 600 000 002")
    assert back.addresses[0].last_name == "García Márquez" and back.addresses[0].city == "Madrid"


@pytest.mark.anyio
async def test_reads_paginate_to_the_end_and_poll_incrementally(env: Env) -> None:
    skus, cursor = [], None
    while True:
        page = await env.client.read("variant", cursor=cursor, limit=10)
        skus += [r.data["sku"] for r in page.records]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sorted(skus) == sorted(v.sku for v in DATA.variants)
    variant = await env.client.find("variant", {"sku": DATA.variants[0].sku})
    assert variant[0].data["price"] == str(DATA.variants[0].price)
    env.clock.advance(300)
    mark = env.clock.now()
    await env.client.write(WriteRequest("stock", "set", {"sku": DATA.variants[0].sku, "location": "WH-MAIN",
                                                         "on_hand": 7}))
    changed = await env.client.read("stock", since=mark)
    assert [(r.data["sku"], r.data["on_hand"], r.data["available"]) for r in changed.records] == [
        (DATA.variants[0].sku, 7, 7)]
    assert changed.records[0].version >= mark.strftime("%Y-%m-%dT%H:%M:%S")


@pytest.mark.anyio
async def test_errors_become_the_right_kinds(env: Env) -> None:
    bad = {**_order(3), "lines": [{"sku": "SKU-123", "quantity": 1, "unit_price": "1.00"}], "total": "1.00"}
    with pytest.raises(RejectedError, match="product code SKU-123 does not exist"):
        await env.client.write(WriteRequest("order", "create", bad))
    env.twin.faults.add(Fault(kind="rate_limit", seconds=3, count=1))
    await env.client.check()  # one 429 is waited out inside the call
    env.twin.faults.add(Fault(kind="rate_limit", seconds=3, count=10))
    with pytest.raises(RateLimited) as limited:
        await env.client.check()
    assert limited.value.retry_after == 3
    env.twin.faults.clear()
    env.twin.faults.add(Fault(kind="maintenance", end=3600, count=1))
    with pytest.raises(Unavailable) as down:
        await env.client.check()
    assert down.value.retry_after and down.value.retry_after > 3000
    env.twin.faults.add(Fault(kind="error_rate", count=10))
    with pytest.raises(TransientError):
        await env.client.check()
    env.twin.faults.clear()
    env.twin.faults.add(Fault(kind="error_rate", paths=["/api/v1/sales-orders"], methods=["POST"], count=1))
    with pytest.raises(TransientError):  # a write that may have happened is not repeated blindly
        await env.client.write(WriteRequest("order", "create", _order(4), idempotency_key="evt-4"))
    retried = await env.client.write(WriteRequest("order", "create", _order(4), idempotency_key="evt-4"))
    assert retried.data["number"] == DATA.orders[4].number and env.twin.state.count("sales_orders") == 1
    env.twin.faults.add(Fault(kind="malformed", count=10))
    with pytest.raises(TransientError, match="not valid JSON"):
        await env.client.read("order")
    env.twin.faults.clear()
    wrong = load("erp").connect(ConnectionSettings("erp", env.url, {"api_key": Secret("nope")}), ConnectOptions())
    with pytest.raises(AuthError, match="Invalid login attempt"):
        await wrong.check()
    await wrong.aclose()
    applied = [entry["kind"] for entry in env.twin.faults.log]
    assert applied.count("rate_limit") >= 4 and "maintenance" in applied and "malformed" in applied


class CountingPacer:
    """A pacer that records how it was used."""

    def __init__(self) -> None:
        self.acquired = self.released = 0
        self.observed: list[float | None] = []

    async def acquire(self, cost: float = 1.0) -> None:
        self.acquired += 1

    def observe(self, *, available=None, limit=None, restore_rate=None, retry_after=None) -> None:
        self.observed.append(retry_after)

    def release(self) -> None:
        self.released += 1


@pytest.mark.anyio
async def test_pacer_is_honoured(env: Env) -> None:
    pacer = CountingPacer()
    client = load("erp").connect(ConnectionSettings("erp", env.url, {"api_key": Secret("erp-test-key")}),
                                 ConnectOptions(pacer=pacer, clock=env.clock))
    await client.check()
    env.twin.faults.add(Fault(kind="rate_limit", seconds=2, count=1))
    await client.read("order")
    await client.aclose()
    assert pacer.acquired == pacer.released == 3 and pacer.observed == [2.0]


@pytest.mark.anyio
async def test_concurrency_limit_is_waited_out_then_surfaces_as_rate_limited() -> None:
    twin = create_twin("erp", concurrency_limit=1, service_seconds=0.3)
    with TwinServer(twin.app) as server:
        settings = ConnectionSettings("erp", server.url, {"api_key": Secret("erp-test-key")})
        client = load("erp").connect(settings, ConnectOptions())
        await asyncio.gather(client.check(), client.check())  # the loser retries briefly and gets through
        slow = create_twin("erp", concurrency_limit=1, service_seconds=1.5)
        with TwinServer(slow.app) as busy:
            hog = load("erp").connect(ConnectionSettings("erp", busy.url, settings.secrets), ConnectOptions())
            blocked = load("erp").connect(ConnectionSettings("erp", busy.url, settings.secrets), ConnectOptions())
            holding = asyncio.create_task(hog.check())
            await asyncio.sleep(0.2)
            with pytest.raises(RateLimited, match=r"Concurrent request limit exceeded\. Request blocked\."):
                await blocked.check()
            await holding
            await hog.aclose()
            await blocked.aclose()
        await client.aclose()
        rejected = httpx.get(f"{server.url}/_twin/state").json()["concurrency"]["rejected"]
    assert rejected >= 1


@pytest.mark.anyio
async def test_outage_timeout_and_latency_faults() -> None:
    twin = create_twin("erp", faults=[Fault(kind="timeout", seconds=5, count=1),
                                      Fault(kind="latency", seconds=0.2, count=1)])
    with TwinServer(twin.app) as server:
        client = load("erp").connect(ConnectionSettings("erp", server.url, {"api_key": Secret("erp-test-key")}),
                                     ConnectOptions(timeout=0.5))
        await client.check()  # the hung request times out on our side and the retry gets through
        twin.faults.add(Fault(kind="outage", seconds=1, count=10))
        with pytest.raises(Unavailable) as down:
            await client.check()
        await client.aclose()
    assert down.value.retry_after == 1
    applied = [entry["kind"] for entry in twin.faults.log]
    assert applied[:2] == ["timeout", "latency"] and applied.count("outage") == 3


@pytest.mark.anyio
async def test_items_upsert_and_draft_orders_confirm(env: Env) -> None:
    product = model.Product(id="P-NEW", code="P-NEW", title="Søren's sauna hat", variants=[
        model.Variant(sku="HAT-1", title="Wool", price=Decimal("19.90")),
        model.Variant(sku="HAT-2", title="Linen", price=Decimal("0.00"))])
    await env.client.write(WriteRequest("product", "upsert", model.to_dict(product)))
    (hat,) = await env.client.find("product", {"sku": "HAT-2"})
    assert hat.data["title"] == "Søren's sauna hat - Linen" and hat.data["code"] == "P-NEW"
    assert hat.data["variants"][0]["price"] == "0.00"
    draft = httpx.post(f"{env.url}/api/v1/sales-orders", headers={"X-Api-Key": "erp-test-key"}, json={
        "external_ref": "#draft", "status": "draft", "lines": [{"item_code": "HAT-1", "quantity": 2}]})
    assert draft.json()["status"] == "draft" and draft.json()["total"] == "39.80"
    confirmed = await env.client.write(WriteRequest("order", "confirm", {"number": "#draft"}))
    assert confirmed.external_id == draft.json()["id"] and confirmed.data["status"] == "confirmed"
    with pytest.raises(RejectedError, match="no action 'explode'"):
        await env.client.write(WriteRequest("order", "explode", {}))
