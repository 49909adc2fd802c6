"""The Shopify connector against the Shopify twin over real loopback HTTP: reads, finds, writes, pacing, webhooks."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from doohickey import model
from doohickey.clock import ManualClock
from doohickey.connectors.http import TokenBucketPacer
from doohickey.connectors.shopify import CONNECTOR
from doohickey.connectors.shopify.webhooks import parse, verify
from doohickey.connectors.spec import ConnectionSettings, ConnectOptions, Secret, WriteRequest
from doohickey.errors import RejectedError
from doohickey.twins import create_twin, datagen
from doohickey.twins.server import TwinServer
from doohickey.twins.shopify import seed

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def dataset():
    return datagen.generate(7, products=4, customers=6, orders=8)


@pytest.fixture(scope="module")
def shop(dataset):
    """A seeded twin on a manual clock (so updated_at moves only when the test says), served on loopback."""
    clock = ManualClock(dt.datetime(2026, 3, 1, tzinfo=dt.UTC))
    twin = create_twin("shopify", clock=clock, maximum_available=100_000, restore_rate=10_000)
    result = seed.seed_bulk(twin.state, {"customers": dataset.customers, "products": dataset.products,
                                         "stock": dataset.stock, "orders": dataset.orders})
    assert not [r for r in result["refused"] if r["entity"] != "customers"], result["refused"]
    with TwinServer(twin.app) as server:
        yield twin, server.url, clock


def connect(shop, **options):
    twin, url, _ = shop
    settings = ConnectionSettings("shop", url, {"token": Secret(twin.info["token"])}, options)
    return CONNECTOR.connect(settings, ConnectOptions(timeout=10))


async def read_all(client, entity, **kw):
    records, cursor = [], None
    while True:
        page = await client.read(entity, cursor=cursor, **kw)
        records += page.records
        cursor = page.next_cursor
        if cursor is None:
            return records


async def test_orders_read_back_with_the_seeded_money_exactly(shop, dataset):
    client = connect(shop)
    orders = {r.data["number"]: r for r in await read_all(client, "order", limit=3)}
    await client.aclose()
    assert len(orders) == len(dataset.orders)
    for source in dataset.orders:
        got = model.from_dict(model.Order, orders[source.number].data)
        assert got.currency == source.currency
        assert got.total == source.total, source.number
        assert got.subtotal == source.subtotal
        assert got.tax_total == source.tax_total
        assert got.shipping_total == source.shipping_total
        assert [(ln.sku, ln.quantity, ln.unit_price) for ln in got.lines] == \
               [(ln.sku, ln.quantity, ln.unit_price) for ln in source.lines]
        assert sum((ln.discount for ln in got.lines), Decimal(0)) == source.discount_total
        assert orders[source.number].external_id.startswith("gid://shopify/Order/")


async def test_incremental_read_returns_only_what_changed_since(shop):
    _, _, clock = shop
    client = connect(shop)
    before = await read_all(client, "customer", limit=50)
    clock.advance(3600)
    mark = clock.now()
    made = await client.write(WriteRequest("customer", "create", {"email": "late@example.com", "first_name": "Late"}))
    changed = await read_all(client, "customer", since=mark, limit=50)
    await client.aclose()
    assert [r.external_id for r in changed] == [made.external_id]
    assert made.external_id not in {r.external_id for r in before}
    assert changed[0].updated_at >= mark


async def test_finds_use_natural_keys_exactly(shop, dataset):
    client = connect(shop)
    order = dataset.orders[0]
    customer = next(c for c in dataset.customers if c.email)
    sku = dataset.products[0].variants[0].sku
    orders = await client.find("order", {"number": order.number})
    customers = await client.find("customer", {"email": customer.email.upper()})
    variants = await client.find("variant", {"sku": sku})
    products = await client.find("product", {"sku": sku})
    stock = await client.find("stock", {"sku": sku, "location": "WH-MAIN"})
    assert await client.find("variant", {"sku": sku[:-1]}) == []  # a prefix is not the SKU
    got = await client.get("order", orders[0].external_id)
    missing = await client.get("order", "gid://shopify/Order/1")
    await client.aclose()
    assert [r.data["number"] for r in orders] == [order.number]
    assert [r.data["email"].lower() for r in customers] == [customer.email.lower()]
    assert [r.data["sku"] for r in variants] == [sku]
    assert sku in [v["sku"] for v in products[0].data["variants"]]
    assert [(r.data["sku"], r.data["location"]) for r in stock] == [(sku, "WH-MAIN")]
    assert got.data == orders[0].data
    assert missing is None


async def test_an_order_longer_than_one_page_of_lines_is_read_whole(shop, dataset):
    client = connect(shop)
    skus = [v.sku for p in dataset.products for v in p.variants if v.price > 0][:12]
    lines = [{"sku": s, "title": s, "quantity": 1, "unit_price": "2.00"} for s in skus] * 2
    made = await client.write(WriteRequest("order", "create", {"number": "#LONG-1", "currency": "USD",
                                                               "email": "long@example.com", "lines": lines}))
    got = await client.get("order", made.external_id)
    await client.aclose()
    assert len(got.data["lines"]) == len(lines) > 10
    assert Decimal(got.data["subtotal"]) == Decimal("2.00") * len(lines)


async def test_stock_set_with_compare_semantics(shop, dataset):
    client = connect(shop, location="WH-MAIN")
    sku = dataset.products[1].variants[0].sku
    (level,) = await client.find("stock", {"sku": sku, "location": "WH-MAIN"})
    done = await client.write(WriteRequest("stock", "set", {"sku": sku, "available": 42,
                                                            "compare_available": level.data["available"]},
                                           idempotency_key="evt-1"))
    again = await client.write(WriteRequest("stock", "set", {"sku": sku, "available": 42}, idempotency_key="evt-1"))
    with pytest.raises(RejectedError, match="COMPARE_QUANTITY_STALE"):
        await client.write(WriteRequest("stock", "set", {"sku": sku, "available": 5,
                                                         "compare_available": level.data["available"]}))
    (now,) = await client.find("stock", {"sku": sku, "location": "WH-MAIN"})
    await client.aclose()
    assert done.data["available"] == again.data["available"] == now.data["available"] == 42
    assert done.external_id == level.external_id


async def test_stock_poll_since_returns_the_levels_that_changed(shop, dataset):
    _, _, clock = shop
    client = connect(shop, location="WH-MAIN")
    clock.advance(3600)
    mark = clock.now()
    sku = dataset.products[2].variants[0].sku
    await client.write(WriteRequest("stock", "set", {"sku": sku, "available": 11}))
    changed = await read_all(client, "stock", since=mark, limit=10)
    everything = await read_all(client, "stock", limit=10)
    await client.aclose()
    assert [(r.data["sku"], r.data["location"], r.data["available"]) for r in changed] == [(sku, "WH-MAIN", 11)]
    assert len(everything) > len(changed)


async def test_fulfil_partially_then_fully_with_tracking(shop, dataset):
    client = connect(shop)
    skus = [v.sku for p in dataset.products for v in p.variants if v.price > 0][:2]
    lines = [{"sku": skus[0], "title": "A", "quantity": 2, "unit_price": "10.00"},
             {"sku": skus[1], "title": "B", "quantity": 1, "unit_price": "5.00"}]
    order = await client.write(WriteRequest("order", "create", {"number": "#FUL-1", "currency": "EUR",
                                                                "financial_status": "paid", "lines": lines}))
    first = await client.write(WriteRequest("fulfilment", "create", {
        "order_number": "#FUL-1", "lines": [{"sku": skus[0], "quantity": 1}], "carrier": "DHL",
        "tracking_number": "JD0001", "tracking_url": "https://track.example/JD0001"}))
    partial = await client.get("order", order.external_id)
    await client.write(WriteRequest("fulfilment", "create", {"order_id": order.external_id, "carrier": "UPS",
                                                             "tracking_number": "1Z2"}))
    done = await client.get("order", order.external_id)
    with pytest.raises(RejectedError, match="nothing left to fulfil"):
        await client.write(WriteRequest("fulfilment", "create", {"order_id": order.external_id}))
    found = await client.find("fulfilment", {"order_number": "#FUL-1"})
    await client.aclose()
    assert first.data["lines"] == [{"sku": skus[0], "quantity": 1}]
    assert (first.data["carrier"], first.data["tracking_number"]) == ("DHL", "JD0001")
    assert first.data["order_number"] == "#FUL-1"
    assert partial.data["fulfillment_status"] == "partial"
    assert done.data["fulfillment_status"] == "fulfilled"
    assert sorted(f.data["tracking_number"] for f in found) == ["1Z2", "JD0001"]


async def test_refund_and_cancel(shop, dataset):
    client = connect(shop)
    sku = next(v.sku for p in dataset.products for v in p.variants if v.price > 0)
    order = await client.write(WriteRequest("order", "create", {
        "number": "#REF-1", "currency": "USD", "financial_status": "paid",
        "lines": [{"sku": sku, "title": "A", "quantity": 3, "unit_price": "10.00"}]}))
    refund = await client.write(WriteRequest("refund", "create", {
        "order_number": "#REF-1", "amount": "10.00", "reason": "damaged",
        "lines": [{"sku": sku, "quantity": 1, "restock": True}]}))
    refunded = await client.get("order", order.external_id)
    cancel = await client.write(WriteRequest("order", "cancel", {"cancel_reason": "customer"},
                                             external_id=order.external_id))
    cancelled = await client.get("order", order.external_id)
    found = await client.find("refund", {"order_number": "#REF-1"})
    with pytest.raises(RejectedError, match="REF-1 has no line with SKU 'NOPE'"):
        await client.write(WriteRequest("refund", "create", {"order_number": "#REF-1",
                                                             "lines": [{"sku": "NOPE", "quantity": 1}]}))
    await client.aclose()
    assert refund.data["amount"] == "10.00"
    assert refund.data["lines"][0]["sku"] == sku and refund.data["lines"][0]["restock"]
    assert refunded.data["financial_status"] == "partially_refunded"
    assert cancel.external_id == order.external_id
    assert cancelled.data["status"] == "cancelled"
    assert cancelled.data["cancel_reason"] == "customer"
    assert [r.external_id for r in found] == [refund.external_id]


async def test_customer_update_and_duplicate_refusal(shop):
    client = connect(shop)
    made = await client.write(WriteRequest("customer", "create", {"email": "upd@example.com", "first_name": "Old"}))
    updated = await client.write(WriteRequest("customer", "update", {"first_name": "New", "last_name": "Name"},
                                              external_id=made.external_id))
    with pytest.raises(RejectedError, match="Email has already been taken"):
        await client.write(WriteRequest("customer", "create", {"email": "upd@example.com"}))
    await client.aclose()
    assert (updated.data["first_name"], updated.data["last_name"]) == ("New", "Name")
    assert updated.external_id == made.external_id


class ThrottleCounter(httpx.AsyncBaseTransport):
    """Counts THROTTLED answers on their way to the client."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.throttled = 0
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        body = await response.aread()
        self.requests += 1
        self.throttled += b'"THROTTLED"' in body
        return httpx.Response(response.status_code, headers=response.headers, content=body)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_steady_reads_under_a_small_bucket_are_paced_not_throttled(dataset):
    twin = create_twin("shopify", maximum_available=300, restore_rate=1000)
    seed.seed_bulk(twin.state, {"customers": dataset.customers})
    counter = ThrottleCounter()
    with TwinServer(twin.app) as server:
        pacer = TokenBucketPacer(rate=50, burst=1000)  # Shopify's defaults; the answers correct them
        settings = ConnectionSettings("shop", server.url, {"token": Secret(twin.info["token"])})
        client = CONNECTOR.connect(settings, ConnectOptions(transport=counter, pacer=pacer))
        for _ in range(25):
            await client.read("customer", limit=20)
        await client.aclose()
    assert counter.requests >= 25
    assert counter.throttled <= 1  # at most the first guess; after it the bucket is known
    assert pacer.burst == 300 and pacer.rate == 1000


async def test_twin_webhooks_verify_and_parse_into_the_same_records_as_reads(shop, dataset):
    """The twin signs like Shopify, the connector verifies; a webhook's Record equals the Record read back, so
    fingerprints agree (echo suppression) whichever way a change arrives."""
    twin, url, _ = shop
    got: list[tuple[dict[str, str], bytes]] = []
    arrived = threading.Condition()

    async def receive(request: Request) -> PlainTextResponse:
        with arrived:
            got.append((dict(request.headers), await request.body()))
            arrived.notify_all()
        return PlainTextResponse("ok")

    def delivery_of(topic: str):
        with arrived:
            assert arrived.wait_for(lambda: any(h.get("x-shopify-topic") == topic for h, _ in got), timeout=10)
            return next((h, b) for h, b in got if h.get("x-shopify-topic") == topic)

    receiver = Starlette(routes=[Route("/hooks", receive, methods=["POST"])])
    sku = next(v.sku for p in dataset.products for v in p.variants if v.price > 0)
    with TwinServer(receiver) as hooks, httpx.Client(base_url=url) as admin:
        for topic in ("customers/create", "orders/create", "fulfillments/create"):
            admin.post("/_twin/webhooks", json={"topic": topic, "address": f"{hooks.url}/hooks"})
        client = connect(shop)
        customer = await client.write(WriteRequest("customer", "create", {"email": "hook@example.com"}))
        order = await client.write(WriteRequest("order", "create", {
            "number": "#HOOK-1", "currency": "USD", "financial_status": "paid",
            "customer": {"id": customer.external_id}, "lines": [{"sku": sku, "title": "A", "quantity": 2,
                                                                 "unit_price": "4.50"}]}))
        order_hook = parse(*delivery_of("orders/create")).records[0]
        order_now = await client.get("order", order.external_id)
        fulfilment = await client.write(WriteRequest("fulfilment", "create", {"order_id": order.external_id,
                                                                              "tracking_number": "T1"}))
        fulfilment_hook = parse(*delivery_of("fulfillments/create")).records[0]
        customer_now = await client.get("customer", customer.external_id)
        await client.aclose()
    headers, body = delivery_of("customers/create")
    assert verify(headers, body, twin.info["secret"])
    assert not verify(headers, body + b" ", twin.info["secret"])
    assert not verify(headers, body, "another-secret")
    customer_hook = parse(headers, body)
    assert customer_hook.topic == "customers/create"
    assert customer_hook.delivery_id and customer_hook.event_id and customer_hook.triggered_at
    assert customer_hook.records[0].data == customer_now.data
    assert order_hook.data == order_now.data
    assert order_hook.fingerprint == order_now.fingerprint
    assert order_hook.data["lines"][0]["unit_price"] == "4.50"
    assert fulfilment_hook.data == fulfilment.data
