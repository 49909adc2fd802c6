"""The WMS twin over loopback HTTP: requests ship over simulated time, some in two parcels, with signed webhooks."""

from __future__ import annotations

import datetime as dt
import hmac
import json
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from doohickey.clock import ManualClock
from doohickey.model import StockLevel
from doohickey.twins import create_twin
from doohickey.twins.faults import Fault
from doohickey.twins.server import TwinServer
from doohickey.twins.wms import DEFAULT_TOKEN, DEFAULT_WEBHOOK_SECRET, sign

AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}


class Receiver:
    """A loopback webhook endpoint that records what it receives and can fail on purpose."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.fail_next = 0
        self.fail_topic = "shipment.created"

    async def endpoint(self, request: Request) -> Response:
        if self.fail_next and request.headers["x-wms-topic"] == self.fail_topic:
            self.fail_next -= 1
            return Response(status_code=500)
        self.received.append((dict(request.headers), await request.body()))
        return Response(status_code=200)

    def events(self) -> list[dict]:
        return [json.loads(body) for _, body in self.received]


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    rec = Receiver()
    with TwinServer(Starlette(routes=[Route("/hook", rec.endpoint, methods=["POST"])])) as server:
        yield rec, f"{server.url}/hook"


def _twin(clock: ManualClock, url: str | None = None, **options):
    twin = create_twin("wms", seed=3, clock=clock, pick_seconds=60, background=False, webhook_url=url, **options)
    twin.state.seed(stock=[StockLevel(sku="A", on_hand=10), StockLevel(sku="B", on_hand=10),
                           StockLevel(sku="C", on_hand=0)])
    return twin


def _client(server: TwinServer) -> httpx.Client:
    return httpx.Client(base_url=server.url + "/api/v1", headers=AUTH, timeout=5)


def test_requests_ship_over_time_some_in_two_parcels_with_tracking() -> None:
    clock = ManualClock()
    twin = _twin(clock, partial_share=0.5)
    with TwinServer(twin.app) as server, _client(server) as api:
        refs = [f"#{n}" for n in range(10)]
        for ref in refs:
            answer = api.post("/fulfilment-requests", json={"order_ref": ref, "lines": [
                {"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 1}]})
            assert answer.status_code == 201 and answer.json()["status"] == "received"
        assert api.get("/stock/A").json()["reserved"] == 10
        clock.advance(30)
        twin.state.tick()
        assert {r["status"] for r in api.get("/fulfilment-requests").json()["items"]} == {"picking"}
        assert api.get("/shipments").json()["total"] == 0
        since = clock.now()
        clock.advance(30)
        server_tick = httpx.post(f"{server.url}/_twin/tick").json()
        first = api.get("/shipments", params={"updated_since": since.isoformat()}).json()["items"]
        assert len(first) == 10 == len(server_tick["shipments"])
        split = {s["order_ref"] for s in first if not s["final"]}
        assert 2 <= len(split) <= 8, "a seeded share ships in two parcels"
        assert all(s["carrier"] and s["tracking_number"] and s["tracking_url"].endswith(s["tracking_number"])
                   for s in first)
        for ref in split:
            answer = api.get("/fulfilment-requests", params={"order_ref": ref}).json()["items"][0]
            assert answer["status"] == "partially_shipped"
        clock.advance(60)
        twin.state.tick()
        second = api.get("/shipments", params={"updated_since": (since + dt.timedelta(seconds=31)).isoformat()})
        assert {s["order_ref"] for s in second.json()["items"]} == split
        assert all(s["parcel"] == 2 and s["final"] for s in second.json()["items"])
        requests = api.get("/fulfilment-requests", params={"limit": 100}).json()["items"]
        assert {r["status"] for r in requests} == {"shipped"}
        stock = api.get("/stock/A").json()
        assert (stock["on_hand"], stock["reserved"], stock["available"]) == (0, 0, 0)


def test_backordered_until_goods_in_then_ships() -> None:
    clock = ManualClock()
    twin = _twin(clock, partial_share=0.0)
    with TwinServer(twin.app) as server, _client(server) as api:
        made = api.post("/fulfilment-requests", json={"order_ref": "#7", "lines": [{"sku": "C", "quantity": 2}]})
        clock.advance(61)
        twin.state.tick()
        assert api.get(f"/fulfilment-requests/{made.json()['id']}").json()["status"] == "backordered"
        receipt = api.post("/goods-in", json={"reference": "PO-1", "lines": [{"sku": "C", "quantity": 5}]})
        assert receipt.status_code == 201 and api.get("/stock/C").json()["on_hand"] == 5
        twin.state.tick()
        shipment = api.get("/shipments", params={"order_ref": "#7"}).json()["items"]
        assert [(s["lines"], s["final"]) for s in shipment] == [([{"sku": "C", "quantity": 2}], True)]
        assert api.get("/stock/C").json()["on_hand"] == 3


def test_repeat_request_returns_the_first_and_bad_input_is_named() -> None:
    twin = _twin(ManualClock())
    with TwinServer(twin.app) as server, _client(server) as api:
        body = {"order_ref": "#1", "lines": [{"sku": "A", "quantity": 1}]}
        first = api.post("/fulfilment-requests", json=body, headers={"Idempotency-Key": "k"})
        again = api.post("/fulfilment-requests", json=body, headers={"Idempotency-Key": "k"})
        assert (first.status_code, again.status_code) == (201, 200) and first.json()["id"] == again.json()["id"]
        assert api.get("/fulfilment-requests").json()["total"] == 1
        unknown = api.post("/fulfilment-requests", json={"order_ref": "#2", "lines": [{"sku": "ZZ", "quantity": 1}]})
        assert unknown.status_code == 422
        assert unknown.json()["error"]["message"] == "sku ZZ is not stocked in this warehouse"
        zero = api.post("/fulfilment-requests", json={"order_ref": "#3", "lines": [{"sku": "A", "quantity": 0}]})
        assert zero.status_code == 422 and "lines[0].quantity" in zero.json()["error"]["message"]
        assert httpx.get(f"{server.url}/api/v1/stock").status_code == 401
        spec = httpx.get(f"{server.url}/openapi.json").json()
        assert spec["components"]["securitySchemes"]["BearerToken"]["scheme"] == "bearer"


@pytest.mark.anyio
async def test_signed_webhooks_with_retry_duplicate_and_loss(receiver: tuple[Receiver, str]) -> None:
    rec, url = receiver
    clock = ManualClock()
    twin = _twin(clock, url, partial_share=0.0)
    state, deliverer = twin.state, twin.state.deliverer
    state.request({"order_ref": "#1", "lines": [{"sku": "A", "quantity": 1}]})
    clock.advance(60)
    state.tick()
    rec.fail_next = 1
    await deliverer.run_once()
    assert not [e for e in rec.events() if e["topic"] == "shipment.created"], "first attempt failed"
    clock.advance(1)
    await deliverer.run_once()
    shipped = [(h, b) for h, b in rec.received if h["x-wms-topic"] == "shipment.created"]
    assert len(shipped) == 1
    headers, body = shipped[0]
    expected = sign(DEFAULT_WEBHOOK_SECRET, headers["x-wms-timestamp"], body)
    assert hmac.compare_digest(headers["x-wms-signature"], expected)
    assert sign(DEFAULT_WEBHOOK_SECRET, headers["x-wms-timestamp"], body + b" ") != expected
    data = json.loads(body)["data"]
    assert data["order_ref"] == "#1" and data["tracking_number"] and data["carrier"]

    rec.received.clear()
    twin.faults.add(Fault(kind="webhook_duplicate", topics=["shipment.created"], count=1))
    twin.faults.add(Fault(kind="webhook_loss", topics=["stock.updated"], count=1))
    state.request({"order_ref": "#2", "lines": [{"sku": "B", "quantity": 1}]})
    clock.advance(60)
    state.tick()
    await deliverer.run_once()
    topics = [h["x-wms-topic"] for h, _ in rec.received]
    assert topics.count("shipment.created") == 2, "duplicated"
    ids = {h["x-wms-delivery-id"] for h, _ in rec.received if h["x-wms-topic"] == "shipment.created"}
    assert len(ids) == 1, "a duplicate carries the same delivery id"
    kinds = [entry["kind"] for entry in twin.faults.log]
    assert "webhook_duplicate" in kinds and "webhook_loss" in kinds
    assert any(d["status"] == "lost" for d in state.deliveries())


@pytest.mark.anyio
async def test_webhook_delay_and_reorder(receiver: tuple[Receiver, str]) -> None:
    rec, url = receiver
    clock = ManualClock()
    twin = _twin(clock, partial_share=0.0)
    twin.state.subscribe(url, ["shipment.created"])
    twin.faults.add(Fault(kind="webhook_reorder", count=1))
    for ref in ("#1", "#2"):
        twin.state.request({"order_ref": ref, "lines": [{"sku": "A", "quantity": 1}]})
    clock.advance(60)
    twin.state.tick()
    await twin.state.deliverer.run_once()  # #1 held back, #2 sent, then #1 released
    await twin.state.deliverer.run_once()
    twin.faults.add(Fault(kind="webhook_delay", seconds=30, count=1))
    for ref in ("#3", "#4"):
        twin.state.request({"order_ref": ref, "lines": [{"sku": "A", "quantity": 1}]})
    clock.advance(60)
    twin.state.tick()
    await twin.state.deliverer.run_once()  # #3 delayed 30 s, #4 sent
    assert [e["data"]["order_ref"] for e in rec.events()] == ["#2", "#1", "#4"]
    clock.advance(30)
    await twin.state.deliverer.run_once()
    assert [e["data"]["order_ref"] for e in rec.events()] == ["#2", "#1", "#4", "#3"]
    assert {"webhook_reorder", "webhook_delay"} <= {entry["kind"] for entry in twin.faults.log}


def test_background_loop_ships_in_real_time() -> None:
    twin = create_twin("wms", seed=1, pick_seconds=0.2, partial_share=0.0, tick_interval=0.05)
    twin.state.seed(stock=[StockLevel(sku="A", on_hand=3)])
    with TwinServer(twin.app) as server, _client(server) as api:
        api.post("/fulfilment-requests", json={"order_ref": "#9", "lines": [{"sku": "A", "quantity": 1}]})
        for _ in range(100):
            if api.get("/shipments").json()["total"]:
                break
            __import__("time").sleep(0.02)
        assert api.get("/fulfilment-requests").json()["items"][0]["status"] == "shipped"
