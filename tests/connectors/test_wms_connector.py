"""The wms connector against the WMS twin over loopback HTTP: orders out, shipments and stock back, webhooks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from doohickey import model
from doohickey.clock import ManualClock
from doohickey.connectors import load
from doohickey.connectors.spec import ConnectionSettings, ConnectOptions, Secret, WriteRequest
from doohickey.errors import AuthError, DependencyMissing, RejectedError
from doohickey.twins import create_twin
from doohickey.twins.datagen import generate
from doohickey.twins.server import TwinServer
from doohickey.twins.wms import DEFAULT_WEBHOOK_SECRET

DATA = generate(31, orders=40)
CONNECTOR = load("wms")


@dataclass
class Env:
    twin: object
    client: object
    clock: ManualClock
    url: str
    received: list[tuple[dict[str, str], bytes]]


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    received: list[tuple[dict[str, str], bytes]] = []

    async def hook(request: Request) -> Response:
        received.append((dict(request.headers), await request.body()))
        return Response(status_code=204)

    clock = ManualClock()
    with TwinServer(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as receiver:
        twin = create_twin("wms", seed=4, clock=clock, data=DATA, background=False, partial_share=0.5,
                           webhook_url=f"{receiver.url}/hook")
        with TwinServer(twin.app) as server:
            client = CONNECTOR.connect(ConnectionSettings("wms", server.url, {"token": Secret("wms-test-token")}),
                                       ConnectOptions(clock=clock))
            yield Env(twin, client, clock, server.url, received)
            await client.aclose()


def _stocked_orders(n: int) -> list[model.Order]:
    """Orders whose every shippable line is in stock (gift cards never go to the warehouse)."""
    on_hand: dict[str, int] = {}
    for level in DATA.stock:
        on_hand[level.sku] = on_hand.get(level.sku, 0) + level.on_hand
    picked = []
    for order in DATA.orders:
        if all(ln.gift_card or on_hand.get(ln.sku, 0) >= ln.quantity * 2 for ln in order.lines):
            picked.append(order)
    return picked[:n]


@pytest.mark.anyio
async def test_orders_go_out_and_shipments_come_back_partially_with_tracking(env: Env) -> None:
    orders = _stocked_orders(8)
    for order in orders:
        result = await env.client.write(WriteRequest("order", "create", model.to_dict(order),
                                                     idempotency_key=f"o-{order.number}"))
        shippable = {ln.sku for ln in order.lines if not ln.gift_card}
        assert {ln["sku"] for ln in result.data["lines"]} == shippable
    again = await env.client.write(WriteRequest("order", "create", model.to_dict(orders[0])))
    assert len(await env.client.find("order", {"number": orders[0].number})) == 1 and again.external_id
    env.clock.advance(60)
    env.twin.state.tick()
    env.clock.advance(60)
    env.twin.state.tick()
    shipped, cursor = [], None
    while True:
        page = await env.client.read("shipment", cursor=cursor, limit=3)
        shipped += page.records
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    for order in orders:
        parcels = [model.from_dict(model.Fulfilment, r.data) for r in shipped if r.data["order_number"] == order.number]
        assert parcels and all(p.carrier and p.tracking_number for p in parcels)
        sent: dict[str, int] = {}
        for parcel in parcels:
            for line in parcel.lines:
                sent[line.sku] = sent.get(line.sku, 0) + line.quantity
        wanted: dict[str, int] = {}
        for line in order.lines:
            if not line.gift_card:
                wanted[line.sku] = wanted.get(line.sku, 0) + line.quantity
        assert sent == wanted, f"{order.number} shipped exactly what was ordered"
    assert any(len([r for r in shipped if r.data["order_number"] == o.number]) == 2 for o in orders), "some partial"
    found = await env.client.find("shipment", {"order_number": orders[0].number})
    assert {r.external_id for r in found} <= {r.external_id for r in shipped}
    status = await env.client.find("order", {"number": orders[0].number})
    assert status[0].data["fulfillment_status"] == "fulfilled" and status[0].data["status"] == "shipped"


@pytest.mark.anyio
async def test_webhooks_from_the_twin_verify_and_parse(env: Env) -> None:
    order = _stocked_orders(1)[0]
    await env.client.write(WriteRequest("order", "create", model.to_dict(order)))
    env.clock.advance(200)
    env.twin.state.tick()
    env.clock.advance(200)
    env.twin.state.tick()
    await env.twin.state.deliverer.run_once()
    spec = CONNECTOR.webhooks
    topics = []
    for headers, body in env.received:
        assert spec.verify(headers, body, DEFAULT_WEBHOOK_SECRET)
        assert not spec.verify(headers, body.replace(b'"', b"'", 1), DEFAULT_WEBHOOK_SECRET), "tampered"
        assert not spec.verify(headers, body, "another-secret")
        delivery = spec.parse(headers, body)
        topics.append(delivery.topic)
        if delivery.topic == "shipment.created":
            shipment = model.from_dict(model.Fulfilment, delivery.records[0].data)
            assert shipment.order_number == order.number and shipment.tracking_number
            assert delivery.delivery_id.startswith("DLV-") and delivery.event_id.startswith("EVT-")
    assert "shipment.created" in topics and "stock.updated" in topics
    with pytest.raises(ValueError, match="not JSON"):
        spec.parse({}, b"{truncated")


@pytest.mark.anyio
async def test_stock_goods_in_cancel_and_errors(env: Env) -> None:
    sku = DATA.stock[0].sku
    before = (await env.client.find("stock", {"sku": sku}))[0].data["on_hand"]
    received = await env.client.write(WriteRequest("stock", "receive", {"sku": sku, "quantity": 5},
                                                   idempotency_key="po-1"))
    assert received.data["on_hand"] == before + 5
    await env.client.write(WriteRequest("stock", "receive", {"sku": sku, "quantity": 5}, idempotency_key="po-1"))
    raised = await env.client.write(WriteRequest("stock", "set", {"sku": sku, "on_hand": before + 20}))
    assert raised.data["on_hand"] == before + 20, "the retried goods-in counted once"
    with pytest.raises(RejectedError, match="can only be raised by goods-in"):
        await env.client.write(WriteRequest("stock", "set", {"sku": sku, "on_hand": 0}))
    page = await env.client.read("stock", since=env.clock.now())
    assert sku in {r.external_id for r in page.records}
    order = _stocked_orders(1)[0]
    made = await env.client.write(WriteRequest("order", "create", model.to_dict(order)))
    cancelled = await env.client.write(WriteRequest("order", "cancel", {"number": order.number}))
    assert cancelled.external_id == made.external_id and cancelled.data["status"] == "cancelled"
    with pytest.raises(DependencyMissing, match="never sent to the warehouse"):
        await env.client.write(WriteRequest("order", "cancel", {"number": "#none"}))
    unknown = {"number": "#x", "lines": [{"sku": "NOPE-1", "quantity": 1}]}
    with pytest.raises(RejectedError, match="sku NOPE-1 is not stocked in this warehouse"):
        await env.client.write(WriteRequest("order", "create", unknown))
    wrong = CONNECTOR.connect(ConnectionSettings("wms", env.url, {"token": Secret("bad")}), ConnectOptions())
    with pytest.raises(AuthError, match="bearer token"):
        await wrong.check()
    await wrong.aclose()


@pytest.mark.anyio
async def test_fulfilment_request_from_a_canonical_fulfilment(env: Env) -> None:
    sku = DATA.stock[0].sku
    wanted = model.Fulfilment(order_number="#F-1", carrier="UPS", lines=[model.FulfilmentLine(sku, 1)])
    made = await env.client.write(WriteRequest("fulfilment", "create", model.to_dict(wanted), idempotency_key="f-1"))
    assert made.data["status"] == "pending" and made.data["carrier"] == "UPS" and made.data["order_number"] == "#F-1"
    env.clock.advance(120)
    env.twin.state.tick()
    (parcel,) = await env.client.find("fulfilment", {"order_number": "#F-1"})
    assert parcel.data["carrier"] == "UPS" and parcel.data["tracking_number"].startswith("1Z")
    assert parcel.data["lines"] == [{"sku": sku, "quantity": 1}]
