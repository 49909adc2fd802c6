"""Shared helpers for the Shopify twin tests: a served twin, a GraphQL client, and a webhook receiver."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from doohickey.twins import Twin, create_twin
from doohickey.twins.server import TwinServer

# Every GraphQL document the tests send is collected here, so the schema test can validate them
# against Shopify's full published schema.
DOCUMENTS: set[str] = set()


@dataclass
class ServedShop:
    """A Shopify twin served over loopback, with a client that sends Admin GraphQL."""

    twin: Twin
    server: TwinServer
    http: httpx.Client

    @property
    def state(self) -> Any:
        return self.twin.state

    def gql(self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None) -> dict[str, Any]:
        """POST a document; returns the JSON body (asserting HTTP 200)."""
        response = self.post(query, variables, token=token)
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None,
             version: str = "2025-10") -> httpx.Response:
        DOCUMENTS.add(query)
        headers = {"X-Shopify-Access-Token": token or self.twin.info["token"]}
        return self.http.post(f"/admin/api/{version}/graphql.json", json={"query": query, "variables": variables or {}},
                              headers=headers)

    def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST a document and return ``data``, asserting there were no errors."""
        body = self.gql(query, variables)
        assert "errors" not in body, body["errors"]
        return body["data"]


@contextmanager
def served_shop(**options: Any) -> Iterator[ServedShop]:
    """A fresh Shopify twin on a free loopback port."""
    twin = create_twin("shopify", **options)
    with TwinServer(twin.app) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        try:
            yield ServedShop(twin, server, http)
        finally:
            twin.state.webhooks.stop()


def catalogue(state: Any) -> dict[str, Any]:
    """A small catalogue: two locations, a shirt in two sizes, a mug; stock at the primary location."""
    main = state.add_location("Main warehouse")
    backup = state.add_location("Overflow")
    shirt = state.add_product("Organic shirt", [{"sku": "SHIRT-S", "title": "S", "price": "25.00"},
                                                {"sku": "SHIRT-M", "title": "M", "price": "25.00"}], vendor="Acme")
    mug = state.add_product("Mug", [{"sku": "MUG", "price": "9.50"}], vendor="Acme")
    state.set_stock("SHIRT-S", main["id"], available=10)
    state.set_stock("SHIRT-M", main["id"], available=4)
    state.set_stock("MUG", main["id"], available=30)
    return {"main": main, "backup": backup, "shirt": shirt, "mug": mug}


@dataclass
class Receiver:
    """A loopback HTTP endpoint that records webhook deliveries and answers with scripted statuses."""

    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0
    received: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: TwinServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"{self.server.url}/hooks"

    async def hook(self, request: Request) -> JSONResponse:
        body = await request.body()
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            self.received.append({"headers": dict(request.headers), "body": body})
            status = self.statuses.pop(0) if self.statuses else 200
        return JSONResponse({"ok": status < 300}, status_code=status)

    def topics(self) -> list[str]:
        with self.lock:
            return [r["headers"]["x-shopify-topic"] for r in self.received]


@contextmanager
def receiver(statuses: list[int] | None = None, delay: float = 0.0) -> Iterator[Receiver]:
    """Start a webhook receiver on a free loopback port (answering after ``delay`` seconds)."""
    recv = Receiver(statuses=list(statuses or []), delay=delay)
    app = Starlette(routes=[Route("/hooks", recv.hook, methods=["POST"])])
    with TwinServer(app) as server:
        recv.server = server
        yield recv


ORDER_CREATE = """
mutation Place($order: OrderCreateOrderInput!, $options: OrderCreateOptionsInput) {
  orderCreate(order: $order, options: $options) {
    order {
      id name displayFinancialStatus displayFulfillmentStatus
      subtotalPriceSet { shopMoney { amount currencyCode } }
      totalDiscountsSet { shopMoney { amount } }
      totalTaxSet { shopMoney { amount } }
      totalShippingPriceSet { shopMoney { amount } }
      totalPriceSet { shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }
      discountCodes
      lineItems(first: 10) { nodes { id sku quantity } }
      fulfillmentOrders(first: 5) { nodes { id status lineItems(first: 10) { nodes { id remainingQuantity
        lineItem { id sku } } } } }
    }
    userErrors { field message }
  }
}
"""


def money(amount: str) -> dict[str, Any]:
    """A MoneyBagInput in USD."""
    return {"shopMoney": {"amount": amount, "currencyCode": "USD"}}


def place(shop: ServedShop, variant_lines: list[tuple[str, int]], **extra: Any) -> dict[str, Any]:
    """Create an order of ``(sku, quantity)`` lines through orderCreate, committing stock; returns the order."""
    lines = []
    for sku, quantity in variant_lines:
        variant = shop.state.variant_by_sku(sku)
        lines.append({"variantId": variant["id"], "quantity": quantity, "requiresShipping": True})
    order = {"email": "ann@example.com", "financialStatus": "PAID", "lineItems": lines, **extra}
    data = shop.data(ORDER_CREATE, {"order": order, "options": {"inventoryBehaviour": "DECREMENT_OBEYING_POLICY"}})
    assert data["orderCreate"]["userErrors"] == [], data["orderCreate"]["userErrors"]
    return data["orderCreate"]["order"]
