"""HTTP surface of the Shopify twin: the Admin GraphQL endpoint, browsable pages and ``/_twin/`` helpers.

* ``POST /admin/api/{version}/graphql.json``: Admin GraphQL, authenticated by
  ``X-Shopify-Access-Token`` (401 with Shopify's error body otherwise).
* ``GET`` of the same path: a small query page for people; ``GET /_twin/schema.graphql``: the SDL.
* ``GET /``: what the twin serves; ``GET /_twin/``: admin docs and state counts.
* ``/_twin/seed``, ``/_twin/orders``, ``/_twin/orders/{id}/pay``, ``/_twin/webhooks``, ``/_twin/throttle``:
  seed canonical entities, place storefront orders, subscribe webhooks and read the delivery log, drain or
  resize the cost bucket (no token: the twin binds to loopback).
"""

from __future__ import annotations

import html
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from doohickey.twins.shopify import orders, seed, webhooks
from doohickey.twins.shopify.api import GraphQLApi, schema_sdl
from doohickey.twins.shopify.shapes import UserErrors, gid

UNAUTHORIZED = {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
BAD_REQUEST = {"errors": {"query": "Required parameter missing or invalid"}}


def routes(api: GraphQLApi, *, token: str, throttled_status: int = 200,
           deliverer: webhooks.WebhookDeliverer) -> list[BaseRoute]:
    """The twin's routes (the framework adds ``/_twin/faults`` and ``/_twin/log``)."""
    state = api.state

    async def graphql(request: Request) -> Response:
        if request.method == "GET":
            return HTMLResponse(_query_page(request.url.path, token))
        if request.headers.get("x-shopify-access-token") != token:
            return JSONResponse(UNAUTHORIZED, status_code=401,
                                headers={"WWW-Authenticate": 'Basic Realm="Shopify API Authentication"'})
        try:
            body = json.loads(await request.body())
            query = body["query"]
            if not isinstance(query, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return JSONResponse(BAD_REQUEST, status_code=400)
        api.context_extra["api_version"] = request.path_params["version"]
        result, throttled = api.run(query, body.get("variables") or {}, body.get("operationName"))
        return JSONResponse(result, status_code=throttled_status if throttled else 200)

    async def not_found(request: Request) -> JSONResponse:
        # The REST Admin API is not emulated; Shopify answers unknown admin paths like this.
        return JSONResponse({"errors": "Not Found"}, status_code=404)

    async def home(request: Request) -> HTMLResponse:
        return HTMLResponse(_home_page(str(request.base_url).rstrip("/")))

    async def admin(request: Request) -> HTMLResponse:
        counts = {kind: state.count("type=?", (kind,)) for kind in
                  ("Order", "Customer", "Product", "ProductVariant", "Location", "WebhookSubscription")}
        return HTMLResponse(_admin_page(counts, api.bucket.status()))

    async def sdl(request: Request) -> PlainTextResponse:
        return PlainTextResponse(schema_sdl())

    async def seed_route(request: Request) -> JSONResponse:
        data = await _json(request)
        if not isinstance(data, dict):
            return JSONResponse({"error": "expected {customers, products, stock, orders}"}, status_code=400)
        try:
            return JSONResponse(seed.seed_bulk(state, data))
        except (TypeError, ValueError) as exc:
            return JSONResponse({"error": f"cannot read the seed data: {exc}"}, status_code=400)

    async def place_order(request: Request) -> JSONResponse:
        data = await _json(request)
        if not isinstance(data, dict):
            return JSONResponse({"error": "expected an OrderCreateOrderInput object"}, status_code=400)
        data.setdefault("financialStatus", "PAID")
        try:
            order = orders.create_order(state, data, decrement_stock=True, obey_policy=True)
        except UserErrors as exc:
            return JSONResponse({"userErrors": exc.errors}, status_code=422)
        return JSONResponse({"id": order["id"], "name": order["name"],
                             "totalPrice": order["totalPriceSet"]["shopMoney"]}, status_code=201)

    async def pay(request: Request) -> JSONResponse:
        order_gid = request.path_params["id"]
        order_gid = order_gid if order_gid.startswith("gid://") else gid("Order", int(order_gid))
        try:
            order = orders.mark_paid(state, order_gid)
        except UserErrors as exc:
            return JSONResponse({"userErrors": exc.errors}, status_code=404)
        return JSONResponse({"id": order["id"], "displayFinancialStatus": order["displayFinancialStatus"]})

    async def hooks(request: Request) -> JSONResponse:
        if request.method == "POST":
            data = await _json(request)
            if not isinstance(data, dict) or not data.get("topic"):
                return JSONResponse({"error": "expected {topic, address}"}, status_code=400)
            try:
                made = webhooks.subscribe(state, data["topic"], {"uri": data.get("address") or data.get("uri")},
                                          api.context_extra.get("api_version", deliverer.api_version))
            except UserErrors as exc:
                return JSONResponse({"userErrors": exc.errors}, status_code=422)
            return JSONResponse({"id": made["id"], "topic": made["topic"], "uri": made["uri"]}, status_code=201)
        subs = [{"id": s["id"], "topic": s["topic"], "uri": s["uri"]} for s in state.all("WebhookSubscription")]
        return JSONResponse({"subscriptions": subs, "deliveries": deliverer.log()})

    async def throttle(request: Request) -> JSONResponse:
        data = await _json(request) if request.method == "POST" else {}
        if isinstance(data, dict):
            if data.get("drain"):
                api.bucket.drain()
            if "maximumAvailable" in data:
                api.bucket.throttle.maximum_available = float(data["maximumAvailable"])
            if "restoreRate" in data:
                api.bucket.throttle.restore_rate = float(data["restoreRate"])
        return JSONResponse(api.bucket.status())

    return [
        Route("/", home),
        Route("/admin/api/{version}/graphql.json", graphql, methods=["GET", "POST"]),
        Route("/_twin/", admin),
        Route("/_twin/schema.graphql", sdl),
        Route("/_twin/seed", seed_route, methods=["POST"]),
        Route("/_twin/orders", place_order, methods=["POST"]),
        Route("/_twin/orders/{id:path}/pay", pay, methods=["POST"]),
        Route("/_twin/webhooks", hooks, methods=["GET", "POST"]),
        Route("/_twin/throttle", throttle, methods=["GET", "POST"]),
        Route("/admin/{rest:path}", not_found, methods=["GET", "POST", "PUT", "DELETE"]),
    ]


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"null")
    except ValueError:
        return None


_STYLE = ("<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
          "code,pre,textarea{font-family:ui-monospace,monospace}pre{background:#f4f4f4;padding:1rem;overflow:auto}"
          "td,th{padding:.2rem .6rem;text-align:left;border-bottom:1px solid #ddd}</style>")


def _home_page(base: str) -> str:
    endpoint = f"{base}/admin/api/2025-10/graphql.json"
    rows = [
        ("POST /admin/api/{version}/graphql.json", "Admin GraphQL (header X-Shopify-Access-Token); any version"),
        ("GET /admin/api/{version}/graphql.json", "a query page for people"),
        ("GET /_twin/schema.graphql", "the schema served (a cut of Shopify's real Admin SDL)"),
        ("GET /_twin/", "admin docs, state counts, throttle status"),
        ("GET/POST/DELETE /_twin/faults", "list, add, clear faults"), ("GET /_twin/log", "faults applied"),
        ("POST /_twin/seed", "seed canonical customers, products, stock, orders"),
        ("POST /_twin/orders", "place an order as a storefront would (commits stock, paid)"),
        ("POST /_twin/orders/{id}/pay", "mark an order paid"),
        ("GET/POST /_twin/webhooks", "subscriptions and delivery log; subscribe {topic, address}"),
        ("GET/POST /_twin/throttle", "cost bucket status; {drain: true} or resize it"),
    ]
    table = "".join(f"<tr><td><code>{html.escape(a)}</code></td><td>{html.escape(b)}</td></tr>" for a, b in rows)
    return (f"<!doctype html><title>Shopify twin</title>{_STYLE}<h1>Shopify twin</h1>"
            f"<p>A wire-compatible sandbox of Shopify's Admin GraphQL API. Endpoint: <code>{html.escape(endpoint)}"
            f"</code>. Docs: <code>docs/sandbox.md</code> in the doohickey repository.</p><table>{table}</table>")


def _admin_page(counts: dict[str, int], throttle: dict[str, Any]) -> str:
    rows = "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in counts.items())
    return (f"<!doctype html><title>Shopify twin admin</title>{_STYLE}<h1>Shopify twin: admin</h1>"
            f"<h2>State</h2><table>{rows}</table><h2>Throttle</h2><pre>{html.escape(json.dumps(throttle))}</pre>"
            "<h2>Faults</h2><p><code>GET /_twin/faults</code> lists them, <code>POST</code> adds "
            "(<code>{\"kind\": \"outage\", \"start\": 0, \"end\": 30}</code>), <code>DELETE</code> clears; "
            "<code>GET /_twin/log</code> shows every fault applied.</p>"
            "<p><a href='/_twin/schema.graphql'>Schema (SDL)</a> · <a href='/_twin/webhooks'>Webhooks</a> · "
            "<a href='/_twin/faults'>Faults</a> · <a href='/_twin/log'>Fault log</a></p>")


def _query_page(path: str, token: str) -> str:
    example = "{\n  orders(first: 5) {\n    nodes { id name displayFinancialStatus totalPriceSet { shopMoney { " \
              "amount " \
              "currencyCode } } }\n    pageInfo { hasNextPage endCursor }\n  }\n}"
    return (f"<!doctype html><title>Shopify twin GraphQL</title>{_STYLE}<h1>Admin GraphQL</h1>"
            f"<p>POST here with <code>X-Shopify-Access-Token</code>. Schema: <a href='/_twin/schema.graphql'>SDL</a>."
            f"</p><label>Token <input id=t value='{html.escape(token)}'></label>"
            f"<textarea id=q rows=12 style='width:100%'>{html.escape(example)}</textarea>"
            "<button onclick='run()'>Run</button><pre id=r></pre><script>async function run(){"
            f"const r=await fetch('{html.escape(path)}',{{method:'POST',headers:{{'Content-Type':'application/json',"
            "'X-Shopify-Access-Token':document.getElementById('t').value},body:JSON.stringify({query:"
            "document.getElementById('q').value})});document.getElementById('r').textContent="
            "JSON.stringify(await r.json(),null,2)}</script>")
