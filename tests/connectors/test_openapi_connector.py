"""The generic openapi connector over real loopback HTTP.

First against a small FastAPI app of our own that pages three other ways (opaque
cursor, offset, Link header) behind a bearer token, then against the ERP twin using
nothing but its published ``/openapi.json``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, HTTPException, Query, Request, Response
from pydantic import BaseModel

from doohickey.clock import ManualClock
from doohickey.connectors.openapi import CONNECTOR, entity_specs, for_profile
from doohickey.connectors.spec import Client, ConnectionSettings, ConnectOptions, Secret, WriteRequest
from doohickey.discover import discover_document
from doohickey.errors import AuthError, NotFoundError, RateLimited, RejectedError, TransientError
from doohickey.twins.erp import DEFAULT_API_KEY, create_twin
from doohickey.twins.server import TwinServer

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


class ProductIn(BaseModel):
    sku: str
    name: str
    status: str = "active"


class Product(ProductIn):
    id: int
    updated_at: str


class ProductPage(BaseModel):
    data: list[Product]
    next_cursor: str | None = None


class Customer(BaseModel):
    id: str
    email: str
    modified: str


class Order(BaseModel):
    id: int
    number: str
    updated_at: str


def fixture_app() -> FastAPI:
    """Products page by opaque cursor, customers by offset, orders by Link header; bearer auth on all."""
    app = FastAPI(title="fixture shop")
    products = [{"id": i, "sku": f"SKU-{i}", "name": f"P{i}", "status": "active",
                 "updated_at": (T0 + dt.timedelta(minutes=i)).isoformat()} for i in range(1, 24)]
    customers = [{"id": f"c{i}", "email": f"c{i}@x.test", "modified": (T0 + dt.timedelta(hours=i)).isoformat()}
                 for i in range(1, 12)]
    orders = [{"id": i, "number": f"#{1000 + i}", "updated_at": T0.isoformat()} for i in range(1, 8)]
    faults: dict[str, Any] = {}
    app.state.faults = faults

    def guard(request: Request) -> None:
        if request.headers.get("authorization") != "Bearer s3cret":
            raise HTTPException(401, "bad token")
        queue = faults.setdefault("queue", [])
        fault = queue.pop(0) if queue else None
        if fault:
            raise HTTPException(fault[0], fault[1], headers=fault[2] if len(fault) > 2 else None)

    @app.get("/products", operation_id="listProducts", response_model=ProductPage)
    def list_products(request: Request, cursor: str | None = None, limit: int = Query(10, le=50),
                      updated_at_min: dt.datetime | None = None) -> dict[str, Any]:
        guard(request)
        rows = [p for p in products if updated_at_min is None or dt.datetime.fromisoformat(p["updated_at"])
                >= updated_at_min]
        start = int(cursor.removeprefix("after-")) if cursor else 0
        page = rows[start:start + limit]
        more = start + limit < len(rows)
        return {"data": page, "next_cursor": f"after-{start + limit}" if more else None}

    @app.get("/products/{product_id}", operation_id="getProduct", response_model=Product)
    def get_product(request: Request, product_id: int) -> dict[str, Any]:
        guard(request)
        for p in products:
            if p["id"] == product_id:
                return p
        raise HTTPException(404, f"product {product_id} not found")

    @app.post("/products", operation_id="createProduct", status_code=201, response_model=Product)
    def create_product(request: Request, body: ProductIn) -> dict[str, Any]:
        guard(request)
        if any(p["sku"] == body.sku for p in products):
            raise HTTPException(422, f"sku {body.sku} already exists")
        record = {"id": len(products) + 1, **body.model_dump(), "updated_at": T0.isoformat()}
        products.append(record)
        return record

    @app.patch("/products/{product_id}", operation_id="updateProduct", response_model=Product)
    def update_product(request: Request, product_id: int, body: dict[str, Any]) -> dict[str, Any]:
        guard(request)
        for p in products:
            if p["id"] == product_id:
                p.update(body)
                return p
        raise HTTPException(404, "no such product")

    @app.get("/customers", operation_id="listCustomers", response_model=list[Customer])
    def list_customers(request: Request, offset: int = 0, limit: int = 10,
                       modified_since: dt.datetime | None = None, email: str | None = None) -> list[dict[str, Any]]:
        guard(request)
        rows = [c for c in customers if (modified_since is None or dt.datetime.fromisoformat(c["modified"])
                                         >= modified_since) and (email is None or c["email"] == email)]
        return rows[offset:offset + limit]

    link = {200: {"headers": {"Link": {"schema": {"type": "string"}}}}}

    @app.get("/orders", operation_id="listOrders", response_model=list[Order], responses=link)
    def list_orders(request: Request, response: Response, page: int = 1, per_page: int = 3) -> list[dict[str, Any]]:
        guard(request)
        rows = orders[(page - 1) * per_page: page * per_page]
        if page * per_page < len(orders):
            response.headers["Link"] = f'<{request.url.include_query_params(page=page + 1)}>; rel="next"'
        return rows

    document = app.openapi()
    document["components"]["securitySchemes"] = {"HTTPBearer": {"type": "http", "scheme": "bearer"}}
    document["security"] = [{"HTTPBearer": []}]
    app.openapi_schema = document  # the published document declares the bearer scheme
    return app


@pytest.fixture(scope="module")
def shop() -> Iterator[tuple[str, FastAPI]]:
    app = fixture_app()
    with TwinServer(app) as server:
        yield server.url, app


def client_for(url: str, secrets: dict[str, str], clock: ManualClock | None = None, **options: Any) -> Client:
    return CONNECTOR.connect(ConnectionSettings("shop", url, {k: Secret(v) for k, v in secrets.items()}, options),
                             ConnectOptions(timeout=10, clock=clock or ManualClock(T0)))


async def read_all(client: Any, entity: str, since: dt.datetime | None = None, limit: int = 5) -> list[Any]:
    records, cursor, pages = [], None, 0
    while True:
        page = await client.read(entity, since=since, cursor=cursor, limit=limit)
        records += page.records
        pages += 1
        cursor = page.next_cursor
        if cursor is None or pages > 100:
            return records


@pytest.mark.anyio
async def test_fixture_app_reads_every_paging_style_to_the_end(shop: tuple[str, FastAPI]) -> None:
    url, _ = shop
    client = client_for(url, {"token": "s3cret"})
    try:
        products = await read_all(client, "product", limit=5)
        assert [r.external_id for r in products] == [str(i) for i in range(1, 24)]
        assert products[0].version == products[0].data["updated_at"]
        assert products[0].data == {"id": 1, "sku": "SKU-1", "name": "P1", "status": "active",
                                    "updated_at": "2026-01-01T00:01:00+00:00"}  # the native payload
        recent = await read_all(client, "product", since=T0 + dt.timedelta(minutes=20))
        assert [r.external_id for r in recent] == ["20", "21", "22", "23"]
        customers = await read_all(client, "customer", limit=4)
        assert len(customers) == 11 and customers[-1].external_id == "c11"
        since = await read_all(client, "customer", since=T0 + dt.timedelta(hours=9))
        assert [c.external_id for c in since] == ["c9", "c10", "c11"]
        orders = await read_all(client, "order", limit=3)
        assert [o.data["number"] for o in orders] == [f"#{1000 + i}" for i in range(1, 8)]
        assert [c.external_id for c in await client.find("customer", {"email": "c7@x.test"})] == ["c7"]
    finally:
        await client.aclose()


@pytest.mark.anyio
async def test_fixture_app_writes_and_maps_errors(shop: tuple[str, FastAPI]) -> None:
    url, app = shop
    client = client_for(url, {"token": "s3cret"})
    try:
        created = await client.write(WriteRequest("product", "create", {"sku": "NEW-1", "name": "New"}))
        assert created.data["sku"] == "NEW-1" and created.external_id == "24"
        updated = await client.write(WriteRequest("product", "update", {"name": "Renamed"}, external_id="24"))
        assert updated.data["name"] == "Renamed"
        fetched = await client.get("product", "24")
        assert fetched is not None and fetched.data["name"] == "Renamed"
        assert await client.get("product", "999") is None
        with pytest.raises(RejectedError, match="sku NEW-1 already exists"):
            await client.write(WriteRequest("product", "create", {"sku": "NEW-1", "name": "again"}))
        with pytest.raises(RejectedError, match="has no delete operation for product"):
            await client.write(WriteRequest("product", "delete", {}, external_id="24"))
        with pytest.raises(NotFoundError):
            await client.write(WriteRequest("product", "update", {"name": "x"}, external_id="999"))
    finally:
        await client.aclose()
    wrong = client_for(url, {"token": "nope-nope"})
    with pytest.raises(AuthError, match="credentials were refused"):
        await wrong.read("product")
    await wrong.aclose()
    unreachable = client_for("http://127.0.0.1:9", {"token": "s3cret"}, profile=discover_document(app.openapi()))
    with pytest.raises(TransientError, match="cannot connect"):
        await unreachable.read("product")
    await unreachable.aclose()


@pytest.mark.anyio
async def test_throttling_is_waited_out_and_failures_retried_briefly(shop: tuple[str, FastAPI]) -> None:
    url, app = shop
    clock = ManualClock(T0)
    client = client_for(url, {"token": "s3cret"}, clock=clock)
    queue = app.state.faults.setdefault("queue", [])
    try:
        started = clock.monotonic()
        queue.append((429, "slow down", {"Retry-After": "7"}))
        page = await client.read("product")  # waited out within the call
        assert page.records and clock.monotonic() - started >= 7
        queue.append((429, "slow down", {"Retry-After": "600"}))
        with pytest.raises(RateLimited) as limited:  # longer than the call's budget: the engine waits
            await client.read("product")
        assert limited.value.retry_after == 600
        queue.append((500, "boom"))
        assert (await client.read("product")).records  # a 5xx on a read is retried once
        queue.extend([(500, "boom")] * 3)
        with pytest.raises(TransientError, match="boom"):
            await client.read("product")
        queue.append((500, "boom"))
        with pytest.raises(TransientError):  # a POST without an idempotency key is not repeated after a 5xx
            await client.write(WriteRequest("product", "create", {"sku": "NEW-2", "name": "x"}))
        assert queue == []
    finally:
        queue.clear()
        await client.aclose()


@pytest.fixture(scope="module")
def erp() -> Iterator[Any]:
    twin = create_twin(data=True, concurrency_limit=0)
    with TwinServer(twin.app) as server:
        yield server.url, twin


@pytest.mark.anyio
async def test_erp_twin_from_its_published_document_only(erp: tuple[str, Any]) -> None:
    url, twin = erp
    client = client_for(url, {"api_key": DEFAULT_API_KEY})
    try:
        await client.check()
        customers = await read_all(client, "customer", limit=7)
        assert len(customers) == twin.state.count("customers")
        assert len({c.external_id for c in customers}) == len(customers)
        items = await read_all(client, "product", limit=50)
        stock = await read_all(client, "stock", limit=50)
        assert len(items) == twin.state.count("items") and len(stock) == twin.state.count("stock")
        # create an order twice with one idempotency key: one order
        lines = [{"item_code": items[0].data["code"], "quantity": 2}]
        body = {"external_ref": "WEB-1001", "customer_id": customers[0].external_id, "currency": "EUR",
                "lines": lines}
        first = await client.write(WriteRequest("order", "create", body, idempotency_key="evt-1"))
        again = await client.write(WriteRequest("order", "create", body, idempotency_key="evt-1"))
        assert first.external_id == again.external_id
        assert twin.state.count("sales_orders") == 1
        assert [o.external_id for o in await client.find("order", {"external_ref": "WEB-1001"})] == [
            first.external_id]
        # poll: only what changed since the last high-water mark comes back
        mark = max(c.updated_at for c in customers)
        changed = await client.write(WriteRequest("customer", "update", {"phone": "+3312345678"},
                                                  external_id=customers[3].external_id))
        polled = await read_all(client, "customer", since=mark)
        assert customers[3].external_id in {r.external_id for r in polled}
        assert len(polled) < len(customers)
        assert changed.data["phone"] == "+3312345678"
        with pytest.raises(RejectedError, match="emial"):
            await client.write(WriteRequest("customer", "create", {"emial": "typo@x.test"}))
    finally:
        await client.aclose()
    wrong = client_for(url, {"api_key": "wrong-key"})
    with pytest.raises(AuthError):
        await wrong.check()
    await wrong.aclose()


def test_for_profile_declares_the_erp_entities() -> None:
    from doohickey.clock import SYSTEM_CLOCK
    from doohickey.twins.erp.app import build_app
    from doohickey.twins.erp.state import ErpState

    profile = discover_document(build_app(ErpState(SYSTEM_CLOCK), api_keys=("k",)).openapi())
    specs = entity_specs(profile)
    assert specs["order"].actions == ("create",)
    assert specs["customer"].actions == ("create", "update") and specs["customer"].key == "email"
    assert specs["product"].key == "code" and specs["order"].key == "external_ref"
    assert all(s.cursor == "updated_at" for s in specs.values())
    connector = for_profile(profile, name="erp-generic", twin="erp")
    assert connector.twin == "erp" and set(connector.entities) == set(profile.entities)


def test_connector_registry_line_loads_the_generic_connector() -> None:
    from doohickey.connectors import load

    assert load("openapi") is CONNECTOR
    assert {s.name for s in CONNECTOR.settings} >= {"url", "profile", "api_key", "client_secret"}


@pytest.mark.anyio
async def test_a_merged_bigcommerce_profile_reaches_v2_and_v3_with_the_store_hash(shared_dir: Any) -> None:
    from doohickey.discover import discover_many

    folder = shared_dir / "contracts" / "bigcommerce" / "openapi"
    profile = discover_many([folder / "orders.v2.oas2.yml", folder / "customers.v3.yml"])
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if "/v2/" in request.url.path:
            return httpx.Response(200, json=[{"id": 7, "date_modified": "Wed, 05 Dec 2018 20:16:55 +0000"}])
        return httpx.Response(200, json={"data": [{"id": 3, "email": "a@b.c"}],
                                         "meta": {"pagination": {"total_pages": 1}}})

    client = for_profile(profile).connect(
        ConnectionSettings("bc", "", {"api_key": Secret("tok-123456")}, {"store_hash": "abc123"}),
        ConnectOptions(transport=httpx.MockTransport(answer), clock=ManualClock(T0)))
    orders = await client.read("order", since=T0, limit=10)
    customers = await client.read("customer", limit=10)
    await client.aclose()
    assert str(seen[0].url).startswith("https://api.bigcommerce.com/stores/abc123/v2/orders?")
    assert seen[0].url.params["min_date_modified"] == "2026-01-01T00:00:00.000000Z"
    assert seen[0].headers["X-Auth-Token"] == "tok-123456"
    assert str(seen[1].url).startswith("https://api.bigcommerce.com/stores/abc123/v3/customers?")
    assert orders.records[0].external_id == "7" and orders.records[0].updated_at == dt.datetime(
        2018, 12, 5, 20, 16, 55, tzinfo=dt.UTC)
    assert customers.records[0].data["email"] == "a@b.c" and customers.next_cursor is None


@pytest.mark.anyio
async def test_erp_twin_faults_are_waited_out_retried_or_surfaced() -> None:
    from doohickey.twins.faults import Fault

    twin = create_twin(data=True, concurrency_limit=0)
    with TwinServer(twin.app) as server:
        clock = ManualClock(T0)
        client = client_for(server.url, {"api_key": DEFAULT_API_KEY}, clock=clock)
        try:
            await client.check()
            twin.faults.add(Fault(kind="rate_limit", count=2, seconds=1, paths=["/api/*"]))
            customers = await read_all(client, "customer", limit=50)
            assert len(customers) == twin.state.count("customers")
            twin.faults.add(Fault(kind="error_rate", count=1, status=500, paths=["/api/*"]))
            assert (await client.read("product", limit=5)).records
            assert [entry["kind"] for entry in twin.faults.log][:3] == ["rate_limit", "rate_limit", "error_rate"]
            twin.faults.add(Fault(kind="outage", count=5, paths=["/api/*"]))
            with pytest.raises(TransientError):
                await client.read("product", limit=5)
        finally:
            await client.aclose()


@pytest.mark.anyio
async def test_preflight_option_refuses_a_create_before_sending(erp: tuple[str, Any]) -> None:
    url, twin = erp
    before = twin.state.count("sales_orders")
    client = client_for(url, {"api_key": DEFAULT_API_KEY}, preflight=True)
    try:
        with pytest.raises(RejectedError) as refused:
            await client.write(WriteRequest("order", "create", {"external_ref": "PF-1", "status": "paid",
                                                                "lines": [{"quantity": "2"}]}))
    finally:
        await client.aclose()
    message = refused.value.message
    assert "checked against SalesOrderIn before sending" in message
    assert "lines[0].item_code: is required but missing" in message and "status: 'paid' is not an allowed" in message
    assert twin.state.count("sales_orders") == before
